/* The interception layer: turns buffer calls into engine events.
 * - slots: every type with bf_getbuffer gets per-type stubs for
 *   bf_getbuffer, bf_releasebuffer (where it has one) and tp_dealloc.
 * - call sites: extension modules' GOT entries for PyObject_GetBuffer and
 *   PyBuffer_Release (and the loader's interposed symbols) lead to wrappers
 *   that see releases the slots cannot (types without bf_releasebuffer). */
#ifndef BUFSAN_INTERCEPT_INTERCEPT_H
#define BUFSAN_INTERCEPT_INTERCEPT_H

#include <Python.h>

#include "../engine/event.h"
#include "../pyver/pyver.h"

#include "../core/state.h"
#include "../stacks/capture.h"

/* PyGILState_Check (two thread-local lookups) with a shortcut: the current
 * thread state is the one this thread last held the GIL with, and it was
 * created by this thread. */
static inline int bs_gil_held(bs_tls *tls)
{
    PyThreadState *cur = pyver_tstate_unchecked();
    if (cur && cur == tls->py_tstate && cur->thread_id == tls->py_ident)
        return 1;
    int held = PyGILState_Check();
    if (held && cur && !tls->py_ident)
        tls->py_ident = PyThread_get_thread_ident();
    tls->py_tstate = held ? cur : NULL;
    return held;
}

/* Walks every type reachable from object and patches new buffer exporters.
 * COMPLETE: no instance of a new type can have been exported yet (start-up,
 * right after a module's creation), so an unmatched release through its
 * slot is a bug. Needs the GIL. Returns the number of types patched. */
int slots_patch_all_types(int complete);

/* Patches one type / the types in a module's namespace (see above). */
int slots_patch_type(PyTypeObject *type, int complete);
int slots_patch_module_types(PyObject *module, int complete);

/* Must be called once before the first walk of each interpreter lifetime
 * (needs the GIL). */
int slots_init(void);

/* The interpreter was finalized and is about to be initialized again:
 * forgets what was cached about the last lifetime's objects (no GIL, no
 * Python calls). */
void slots_new_lifetime(void);

struct bs_view_snapshot;

/* Records an export that no slot stub saw (call site fallback). SNAP: the
 * view's snapshot, NULL to take (and check) it here; FIELDS_BAD: the
 * checker found bad-view-fields in it (then what its pointers point to is
 * not compared at release); TRUSTED: the bf_getbuffer that filled it is the
 * interpreter's own (bs_event.trusted); HOLDS: the Py_buffer of an export
 * this one keeps alive (bs_event.holds_view), or NULL; RELEASE_UNSEEN: its
 * release will not be seen (bs_event.release_unseen): checked, not kept. */
void slots_record_export(PyObject *exporter, Py_buffer *view, int flags,
                         const struct bs_view_snapshot *snap, int fields_bad, int trusted,
                         const Py_buffer *holds, int release_unseen);

/* Can O be used as an object (its header and its type read through the
 * guarded reads)? For view->obj, which the exporter filled. */
int slots_object_readable(PyObject *o);

/* The raw fields of VIEW (no pointer followed). */
void slots_view_fields(bs_view_fields *v, const Py_buffer *view);

/* Snapshot of VIEW with guarded reads (OWNER: an object whose memory the
 * view's pointers may point into, or NULL). */
void slots_snapshot_view(struct bs_view_snapshot *snap, const Py_buffer *view, PyObject *owner,
                         int flags);

/* At a release bufsan sees: reports no-gil, and hashes the view's contents
 * for consumer-modified-view. Returns whether this thread holds the GIL. */
int slots_check_release(PyObject *obj, Py_buffer *view, uint64_t *contents_hash);

/* Are the releases through TYPE's bf_releasebuffer seen at a stub (its own, or
 * for a PEP 688 class its wrapper's and its C base's)? */
int slots_release_is_wrapped(PyTypeObject *type);
/* Does TYPE's bf_getbuffer go through a stub of ours (which records what it
 * exports)? */
int slots_getbuffer_is_wrapped(PyTypeObject *type);

/* The interned name of TYPE (an engine string id); without the GIL neither
 * the cache (not thread-safe) nor the type's dict can be read: tp_name. */
uint32_t slots_type_name(PyTypeObject *type, int gil);

/* The release of VIEW of O (its view->obj) about to be made, seen at
 * SOURCE, into EV (zeroed): its fields, slots_check_release's checks, the
 * content hash of a watched export, its stack (NATIVE from SITE and SP,
 * under the GIL; none once late) and the end of a writable export's write.
 * With this thread's guard held. */
void release_event_fill(bs_event *ev, Py_buffer *view, PyObject *o, bs_source source,
                        bs_native_mode native, const void *site, const void *sp);

/* On an interpreter whose PyBuffer_Release is not interposed: wraps the
 * release paths of memoryview's managed buffer and of PickleBuffer, so that
 * exports they hold are tracked whatever the exporter (holders.c). Needs
 * the GIL; after the first walk. Returns whether installed. */
int holders_install(void);
extern int holders_active;
extern unsigned long holders_live;

/* Learns how to recognise consumers that write without asking for
 * PyBUF_WRITABLE (memoryview slice assignment). Needs the GIL; once, after
 * the first walk. */
void slots_probe_consumers(void);

/* Is the memory under the view of snapshot S exactly [buf, buf+len)? (no
 * suboffsets, C or Fortran contiguous per the snapshot's shape and strides,
 * sane fields) Only such exports are hashed: elsewhere the range holds
 * other objects' bytes. Reads only the snapshot. */
int bs_view_hashable(const struct bs_view_snapshot *s);

/* A content hash of the LEN bytes at BUF (whole up to hash_limit, else
 * sampled windows; see hash_full) into *HASH. Returns 0, hashing nothing,
 * when a byte it would hash cannot be read (a wild or freed buf). TRUSTED:
 * the memory of an interpreter's own exporter, alive while its export is:
 * hashed without probing (a probe is a system call per page or window). */
int bs_hash_region(uint64_t buf, int64_t len, int trusted, uint64_t *hash);

/* Hashes the watched live exports of OBJ (all of them when OBJ is 0) and
 * sends them to the engine as BS_EV_OBSERVE at POINT (bs_observe_point).
 * WITHIN_LEN >= 0: only those inside [WITHIN_BUF, WITHIN_BUF+WITHIN_LEN),
 * memory known to be still there. */
void bs_observe_exports(uint64_t obj, uint32_t point, uint64_t within_buf, int64_t within_len,
                        uint32_t thread, uint32_t stack);

/* The content hash of the watched export VIEW is about to be released
 * through: fills EV->hash (and hashed) when the engine watches it. Must run
 * before the exporter's release slot (which may free the memory). */
void bs_hash_for_release(bs_event *ev, Py_buffer *view, PyObject *obj);

/* Hashes the watched exports W[0..N) and sends them to the engine as
 * BS_EV_OBSERVE at POINT, made by THREAD at STACK; WRITER: the writable
 * export whose release ends the write (BS_OBS_WRITE_AFTER), or 0. */
void bs_observe_list(const bs_watch *w, size_t n, uint32_t point, uint64_t writer, uint32_t thread,
                     uint32_t stack);

/* VIEW (of OBJ) is about to be released by THREAD at STACK: when it is a
 * live PyBUF_WRITABLE export, its write is over: the watched exports of its
 * memory are observed (BS_OBS_WRITE_AFTER). Must run before the exporter's
 * release slot (which may free the memory). */
void bs_observe_writer_release(Py_buffer *view, PyObject *obj, uint32_t thread, uint32_t stack);

/* Call-site wrappers with the signatures of the C-API functions. */
int callsite_get_buffer(void *obj, void *view, int flags);
void callsite_release(void *view);

/* Patches the GOT of every loaded object except the interpreter and
 * bufsan itself. Safe to call repeatedly (only new entries are written). */
int callsites_patch_loaded_objects(void);

/* Is VIEW the Py_buffer of an extension's PyArg_Parse* call in progress
 * (callsites.c): on the stack above the wrapper of that call? */
int getargs_caller_view(const Py_buffer *view);
/* VIEW, filled for EXPORTER and tracked, is released by getargs itself if
 * the parse in progress fails. */
void getargs_note_fill(Py_buffer *view, PyObject *exporter);
/* VIEW, on this thread's stack, was filled for EXPORTER and not tracked. */
void getargs_note_untracked_fill(const Py_buffer *view, const PyObject *exporter);

#endif
