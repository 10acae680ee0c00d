/* Slot interception. Each patched type gets its own stubs carrying a
 * context (the original slots), so subclasses that inherited a stub forward
 * to the slot of the type it was installed on, and a type whose own slot
 * calls its base's slot is never confused with it.
 * Static types get a private copy of their PyBufferProcs (the original may
 * be const); heap types are patched in place. tp_dealloc of Python classes
 * (subtype_dealloc) is never replaced: it calls its base's tp_dealloc by
 * looking for the first one that is not subtype_dealloc.
 * The wrappers run inside bf_getbuffer / bf_releasebuffer / tp_dealloc:
 * they call no Python code and leave no exception behind. */
#include "intercept.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/state.h"
#include "../common/safe_read.h"
#include "../common/u64map.h"
#include "../engine/view_check.h"
#include "../stacks/capture.h"
#include "../stacks/depot.h"
#include "../trace/writer.h"
#include "../pyver/pyver.h"
#include "mutators.h"
#include "trampoline.h"

typedef struct {
    PyTypeObject *type;
    getbufferproc get;
    releasebufferproc rel;
    destructor dealloc;
    /* patched before any instance could have been exported (at start-up or
     * right after its module was created): every release is then matched */
    int complete;
    uint32_t name_id; /* interned tp_name of `type`, 0 until first needed */
    /* `get` is the interpreter's own (bytes, bytearray, memoryview, ...):
     * its answers are not checked for conformance */
    int builtin;
} type_ctx;

static destructor subtype_dealloc_fn;
static void hook_type_new(void);
static u64map type_names; /* PyTypeObject* -> name cache entry */
/* bumped by slots_new_lifetime: the per-thread last-type caches are stale */
static unsigned names_generation;
static PyObject *module_key; /* "__module__", interned */

typedef struct {
    const char *tp_name;
    PyObject *qualname; /* ht_qualname of a heap type, NULL for static types */
    uint32_t id;
} name_entry;

static PyObject *heap_qualname(PyTypeObject *t)
{
    return (t->tp_flags & Py_TPFLAGS_HEAPTYPE) ? ((PyHeapTypeObject *)t)->ht_qualname : NULL;
}

/* UTF-8 of the str S, or NULL; an ASCII string is read in place, another
 * one encoded (and cached in S) by the interpreter. */
static const char *str_utf8(PyObject *s)
{
    if (!s || !PyUnicode_Check(s))
        return NULL;
    if (PyUnicode_IS_COMPACT_ASCII(s))
        return (const char *)PyUnicode_DATA(s);
    const char *u = PyUnicode_AsUTF8(s);
    if (!u)
        PyErr_Clear();
    return u;
}

/* The name reports give TYPE. A heap type's tp_name is its bare class name
 * ("Frame"): it is named __module__.__qualname__ ("zmq.sugar.frame.Frame",
 * "builtins" left out) the way type.__repr__ does, from ht_qualname and the
 * "__module__" entry of its own dict, so no Python code runs. Static types
 * keep tp_name, dotted already ("numpy.ndarray"). Needs the GIL; leaves the
 * exception state as it found it. Interned; 0 on allocation failure. */
static uint32_t intern_type_name(PyTypeObject *t)
{
    const char *tp_name = t->tp_name ? t->tp_name : "?";
    const char *qual = NULL, *mod = NULL;
    PyObject *exc_type, *exc_value, *exc_tb;
    PyErr_Fetch(&exc_type, &exc_value, &exc_tb);
    if (heap_qualname(t) && module_key) {
        qual = str_utf8(heap_qualname(t));
        PyObject *m = t->tp_dict && PyDict_Check(t->tp_dict)
                          ? PyDict_GetItemWithError(t->tp_dict, module_key) : NULL;
        if (!m)
            PyErr_Clear();
        mod = str_utf8(m);
    }
    PyErr_Restore(exc_type, exc_value, exc_tb);
    if (!qual)
        return engine_intern(bs_core_state.engine, tp_name);
    if (!mod || !*mod || !strcmp(mod, "builtins"))
        return engine_intern(bs_core_state.engine, qual);
    char name[512];
    snprintf(name, sizeof name, "%s.%s", mod, qual);
    return engine_intern(bs_core_state.engine, name);
}

/* Interned name of TYPE, cached by type, tp_name and ht_qualname (a new
 * class at the address of a freed one, or __qualname__ assigned, is named
 * again). Needs the GIL. */
static uint32_t type_name_id(PyTypeObject *t)
{
    /* the same type over and over is the common case */
    static __thread PyTypeObject *last_type;
    static __thread const char *last_name;
    static __thread PyObject *last_qualname;
    static __thread uint32_t last_id;
    static __thread unsigned last_generation;
    PyObject *qualname = heap_qualname(t);
    if (t == last_type && t->tp_name == last_name && qualname == last_qualname && last_id &&
        last_generation == names_generation)
        return last_id;
    pyver_lock();
    name_entry *e = u64map_get(&type_names, (uint64_t)(uintptr_t)t);
    if (!e || e->tp_name != t->tp_name || e->qualname != qualname || !e->id) {
        if (!e) {
            e = calloc(1, sizeof *e);
            if (!e) {
                pyver_unlock();
                return 0;
            }
            u64map_put(&type_names, (uint64_t)(uintptr_t)t, e);
        }
        e->tp_name = t->tp_name;
        e->qualname = qualname;
        e->id = intern_type_name(t);
    }
    uint32_t id = e->id;
    pyver_unlock();
    last_type = t;
    last_name = t->tp_name;
    last_qualname = qualname;
    last_id = id;
    last_generation = names_generation;
    return id;
}

void slots_view_fields(bs_view_fields *v, const Py_buffer *view)
{
    v->buf = (uint64_t)(uintptr_t)view->buf;
    v->len = view->len;
    v->itemsize = view->itemsize;
    v->readonly = view->readonly;
    v->ndim = view->ndim;
    v->format = (uint64_t)(uintptr_t)view->format;
    v->shape = (uint64_t)(uintptr_t)view->shape;
    v->strides = (uint64_t)(uintptr_t)view->strides;
    v->suboffsets = (uint64_t)(uintptr_t)view->suboffsets;
    v->internal = (uint64_t)(uintptr_t)view->internal;
}

uint32_t slots_type_name(PyTypeObject *t, int gil)
{
    if (gil)
        return type_name_id(t);
    return engine_intern(bs_core_state.engine, t->tp_name ? t->tp_name : "?");
}

/* The memory of OBJ itself: a shape or strides array often lives there
 * (array.array's ob_size, a memoryview's ob_array). */
static bs_range object_range(PyObject *obj)
{
    PyTypeObject *t = Py_TYPE(obj);
    uint64_t size = (uint64_t)t->tp_basicsize;
    if (t->tp_itemsize) {
        Py_ssize_t n = Py_SIZE(obj);
        uint64_t items = (uint64_t)(n < 0 ? -n : n);
        if (items < (1u << 20))
            size += items * (uint64_t)t->tp_itemsize;
    }
    uint64_t start = (uint64_t)(uintptr_t)obj;
    return (bs_range){start, start + size};
}

int slots_object_readable(PyObject *o)
{
    PyObject head;
    PyTypeObject type;
    return o && safe_read(&head, (uint64_t)(uintptr_t)o, sizeof head, 0, NULL) == sizeof head &&
           safe_read(&type, (uint64_t)(uintptr_t)head.ob_type, sizeof type, 0, NULL) == sizeof type;
}

void slots_snapshot_view(bs_view_snapshot *snap, const Py_buffer *view, PyObject *owner, int flags)
{
    /* filled in place: a copy would load 16 bytes at a time what was just
     * stored 4 and 8 at a time, and wait for the stores to retire */
    slots_view_fields(&snap->v, view);
    bs_range r[2];
    int n = 0;
    r[n++] = (bs_range){(uint64_t)(uintptr_t)view, (uint64_t)(uintptr_t)view + sizeof *view};
    if (owner)
        r[n++] = object_range(owner);
    bs_trusted tr = {r, n};
    view_snapshot_fill(snap, &snap->v, flags, safe_read, &tr);
}

static int has_release_slot(PyTypeObject *t)
{
    return t->tp_as_buffer && t->tp_as_buffer->bf_releasebuffer;
}

/* Is VIEW the master buffer of a managed buffer that memoryview creation
 * (_PyManagedBuffer_FromObject) is filling? It asks PyBUF_FULL_RO into
 * &mbuf->master of a _PyManagedBuffer_Type object it just allocated, whose
 * flags and export count are still 0. Only such views are looked behind. */
static void *copy_source_pc;

/* The type pointer of the object that would start at O, just before VIEW:
 * read directly when it lies in VIEW's page (mapped: the slot wrote VIEW),
 * else through the guarded read (a Py_buffer may start a mapping). */
static PyTypeObject *type_before(const void *o, const Py_buffer *view)
{
    uintptr_t at = (uintptr_t)o + offsetof(PyObject, ob_type);
    if (at >> 12 == (uintptr_t)view >> 12)
        return ((const PyObject *)o)->ob_type;
    PyTypeObject *t = NULL;
    return safe_read(&t, at, sizeof t, 0, NULL) == sizeof t ? t : NULL;
}

static uint32_t consumer_of(Py_buffer *view, int flags, void *pc)
{
    if (flags != PyBUF_FULL_RO)
        return BS_CONSUMER_OTHER;
    if (pc && pc == copy_source_pc)
        return BS_CONSUMER_COPY_SOURCE;
    /* both objects are on the heap; what lies before a Py_buffer on the
     * stack is some frame's old data (a PickleBuffer's type pointer, seen
     * under bytearray(b"...") called by PickleBuffer(...)) */
    if (bs_on_own_stack(view))
        return BS_CONSUMER_OTHER;
    _PyManagedBufferObject *mb =
        (_PyManagedBufferObject *)(void *)((char *)view - offsetof(_PyManagedBufferObject, master));
    if (type_before(mb, view) == pyver.managed_buffer_type && pyver.managed_buffer_type && mb->flags == 0 && mb->exports == 0)
        return BS_CONSUMER_MEMORYVIEW;
    /* PyPickleBuffer_FromObject fills the Py_buffer right after the object
     * header of the PickleBuffer it has just allocated */
    PyObject *pb = (PyObject *)(void *)((char *)view - sizeof(PyObject));
    if (type_before(pb, view) == &PyPickleBuffer_Type)
        return BS_CONSUMER_PICKLEBUFFER;
    return BS_CONSUMER_OTHER;
}

/* Does a memoryview's managed buffer or a PickleBuffer being made hold VIEW? */
static int held_by_view_object(Py_buffer *view, int flags, void *pc)
{
    uint32_t c = consumer_of(view, flags, pc);
    return c == BS_CONSUMER_MEMORYVIEW || c == BS_CONSUMER_PICKLEBUFFER;
}

/* View objects: the tp_new and tp_init functions of extensions' exporter
 * types, and the acquiring stacks already classified (stack id -> 1 + yes).
 * An export acquired under one of those functions is held by a new object
 * that hands the memory out again and writes it (bitarray(buffer=x), a
 * Cython memoryview): a mutable view, not a reader. Used under the GIL. */
static u64map view_ctors, view_ctor_stacks;

/* Free-threaded builds immortalize code objects' constants and, while
 * finalizing, make them mortal again and free them whatever views still
 * refer to them (references taken while immortal were never counted): the
 * exporters that were immortal when exported, whose deallocation then is
 * the interpreter's teardown, not a bug (what was not released is still
 * reported as leaked). */
static u64map immortal_exporters;

static void note_immortal_exporter(PyObject *exporter)
{
    if (!PYVER_FREE_THREADED || !pyver_is_immortal(exporter))
        return;
    pyver_lock();
    if (immortal_exporters.cap || u64map_init(&immortal_exporters, 16) == 0)
        u64map_put(&immortal_exporters, (uint64_t)(uintptr_t)exporter, (void *)1);
    pyver_unlock();
}

static int torn_down_immortal(PyObject *obj)
{
    if (!PYVER_FREE_THREADED || !bs_core_state.late || !immortal_exporters.cap)
        return 0;
    pyver_lock();
    int yes = u64map_del(&immortal_exporters, (uint64_t)(uintptr_t)obj) != NULL;
    pyver_unlock();
    return yes;
}

static int acquired_by_view_ctor_locked(uint32_t stack);

static void note_view_ctor(void *fn)
{
    if (fn && !bs_core_inside((uintptr_t)fn) &&
        (view_ctors.cap || u64map_init(&view_ctors, 64) == 0))
        u64map_put(&view_ctors, (uint64_t)(uintptr_t)fn, (void *)1);
}

/* Does the native part of STACK run inside a view object's constructor?
 * The innermost frames only: the consumer is near the top. */
static int acquired_by_view_ctor(uint32_t stack)
{
    if (!stack || !view_ctors.cap)
        return 0;
    pyver_lock();
    int yes = acquired_by_view_ctor_locked(stack);
    pyver_unlock();
    return yes;
}

static int acquired_by_view_ctor_locked(uint32_t stack)
{
    if (!view_ctor_stacks.cap && u64map_init(&view_ctor_stacks, 256) < 0)
        return 0;
    uintptr_t known = (uintptr_t)u64map_get(&view_ctor_stacks, stack);
    if (known)
        return known == 2;
    bs_stack st;
    int yes = 0;
    if (depot_get(stack, &st) == 0)
        for (uint32_t i = 0; i < st.nnative && i < 8 && !yes; i++) {
            uint64_t start = capture_function_start(st.pcs[i]);
            yes = start && u64map_get(&view_ctors, start) != NULL;
        }
    u64map_put(&view_ctor_stacks, stack, (void *)(uintptr_t)(1 + yes));
    return yes;
}

/* memoryview slice assignment (memory_ass_sub) gets the source's buffer
 * with PyBUF_FULL_RO and copies it into the destination, which may overlap
 * it (m[0:3] = m[2:5]): the source's bytes change during the hold, by
 * design. Its call site is learned by doing one such assignment at start-up
 * and recording the return address that reaches the slot; a second export
 * from a different consumer must give a different address (else calls are
 * not told apart in this build, e.g. without tail calls, and nothing is
 * exempted). Needs the GIL. */
void slots_probe_consumers(void)
{
    bs_tls *tls = bs_thread();
    PyObject *dst = PyByteArray_FromStringAndSize("abcd", 4);
    PyObject *src = PyByteArray_FromStringAndSize("xy", 2);
    PyObject *m = dst ? PyMemoryView_FromObject(dst) : NULL;
    PyObject *lo = PyLong_FromLong(0), *hi = PyLong_FromLong(2);
    PyObject *sl = lo && hi ? PySlice_New(lo, hi, NULL) : NULL;
    void *pc_copy = NULL, *pc_other = NULL;
    if (m && src && sl) {
        tls->probe_obj = src;
        tls->probe_pc = NULL;
        if (PyObject_SetItem(m, sl, src) == 0)
            pc_copy = tls->probe_pc;
        tls->probe_pc = NULL;
        Py_buffer v;
        if (PyObject_GetBuffer(src, &v, PyBUF_FULL_RO) == 0) {
            pc_other = tls->probe_pc;
            PyBuffer_Release(&v);
        }
        tls->probe_obj = NULL;
    }
    PyErr_Clear();
    Py_XDECREF(sl);
    Py_XDECREF(lo);
    Py_XDECREF(hi);
    Py_XDECREF(m);
    Py_XDECREF(src);
    Py_XDECREF(dst);
    copy_source_pc = pc_copy && pc_copy != pc_other ? pc_copy : NULL;
    bs_log("memoryview slice assignment %s at %p (other consumer at %p)",
           copy_source_pc ? "recognised" : "not recognisable", pc_copy, pc_other);
}

void slots_record_export(PyObject *exporter, Py_buffer *view, int flags,
                         const bs_view_snapshot *snap, int fields_bad, int trusted,
                         const Py_buffer *holds, int release_unseen)
{
    bs_tls *tls = bs_thread();
    tls->guard++;
    int gil = bs_gil_held(tls);
    if (release_unseen)
        BS_COUNT(exports_release_unseen);
    bs_event ev = {.kind = BS_EV_EXPORT};
    ev.thread = (uint32_t)tls->tid;
    ev.flags = flags;
    ev.view = (uint64_t)(uintptr_t)view;
    ev.obj = (uint64_t)(uintptr_t)exporter;
    ev.type_name = slots_type_name(Py_TYPE(exporter), gil);
    slots_view_fields(&ev.v, view);
    ev.trusted = trusted && !fields_bad;
    ev.holds_view = (uint64_t)(uintptr_t)holds;
    ev.release_unseen = (uint32_t)release_unseen;
    if (!release_unseen)
        note_immortal_exporter(exporter);
    bs_view_snapshot own;
    if (!snap) {
        slots_snapshot_view(&own, view, exporter, flags);
        bs_view_violation viol[BS_VIEW_MAX_VIOLATIONS];
        int n = view_check_export(&own, viol, BS_VIEW_MAX_VIOLATIONS);
        for (int i = 0; i < n; i++)
            fields_bad |= viol[i].check == BS_CHECK_BAD_VIEW_FIELDS;
        snap = &own;
    }
    /* what a broken answer's pointers point to (garbage, freed memory) may
     * change with no consumer touching it: only the fields are compared */
    ev.contents_hash = fields_bad || !view_snapshot_readable(snap) ? BS_VIEW_CONTENTS_UNCHECKED
                                                                   : view_snapshot_hash(snap);
    /* the consumer called PyObject_GetBuffer from an extension: unwind fully */
    int outside = tls->consumer_view == view;
    void *site = outside ? tls->consumer_pc : tls->slot_pc;
    ev.stack = gil ? capture_stack_at(outside ? BS_NATIVE_FULL : BS_NATIVE_PROBE, site,
                                      __builtin_frame_address(0), flags)
                   : capture_stack_nogil();
    ev.consumer = consumer_of(view, flags, site);
    if (ev.consumer == BS_CONSUMER_OTHER && gil && !(flags & PyBUF_WRITABLE) &&
        acquired_by_view_ctor(ev.stack))
        ev.consumer = BS_CONSUMER_VIEW_OBJECT;
    /* the view's reference and its creator's: no one else can reach it */
    if (ev.consumer == BS_CONSUMER_MEMORYVIEW && PyBytes_CheckExact(exporter) &&
        Py_REFCNT(exporter) <= 2)
        ev.consumer = BS_CONSUMER_PRIVATE_FILL;
    /* a writable export: what its holder writes from now on is its doing */
    if ((flags & PyBUF_WRITABLE) && !view->readonly && gil) {
        bs_watch w[32];
        size_t n = engine_watch_overlap(bs_core_state.engine, ev.v.buf, ev.v.len, w, 32);
        bs_observe_list(w, n < 32 ? n : 32, BS_OBS_WRITE_BEFORE, 0, ev.thread, ev.stack);
    }
    /* earlier exports of the same exporter, seen again */
    bs_observe_exports(ev.obj, BS_OBS_EXPORT, ev.v.buf, ev.v.len, ev.thread, ev.stack);
    if (!release_unseen && engine_wants_hash(&bs_core_state.opts, flags, view->readonly, ev.consumer) &&
        bs_view_hashable(snap))
        ev.hashed = bs_hash_region(ev.v.buf, ev.v.len, (int)ev.trusted, &ev.hash);
    engine_process(bs_core_state.engine, &ev);
    if (!release_unseen)
        BS_COUNT(exports_recorded);
    tls->guard--;
}

/* Reports a bf_getbuffer or release call that broke a rule on its own
 * (BS_EV_BUFFER_CALL). SNAP may be NULL. */
static void report_call(PyObject *obj, const Py_buffer *view, int flags, int rc, uint32_t call,
                        int gil, const bs_view_snapshot *snap, void *slot_fn)
{
    bs_tls *tls = bs_thread();
    tls->guard++;
    bs_event ev = {.kind = BS_EV_BUFFER_CALL};
    ev.thread = (uint32_t)tls->tid;
    ev.flags = flags;
    ev.view = (uint64_t)(uintptr_t)view;
    ev.obj = (uint64_t)(uintptr_t)obj;
    ev.type_name = slots_type_name(Py_TYPE(obj), gil);
    ev.rc = rc;
    ev.call = call;
    if (snap) {
        ev.v = snap->v;
        ev.snapshot = snap;
    }
    ev.view_obj = view ? (uint64_t)(uintptr_t)view->obj : 0;
    ev.stack = gil ? capture_stack(1) : capture_stack_nogil();
    if (slot_fn) {
        /* name the exporter's bf_getbuffer, where a conformance bug lives
         * (+1: frames are return addresses) */
        uint64_t pc = (uint64_t)(uintptr_t)slot_fn + 1;
        ev.slot_stack = depot_put(NULL, 0, &pc, 1, NULL);
    }
    engine_process(bs_core_state.engine, &ev);
    tls->guard--;
}

int slots_check_release(PyObject *obj, Py_buffer *view, uint64_t *contents_hash)
{
    int gil = bs_gil_held(bs_thread());
    if (!gil)
        report_call(obj, view, 0, 0, BS_CALL_RELEASE | BS_CALL_NO_GIL, 0, NULL, NULL);
    bs_view_snapshot snap;
    slots_snapshot_view(&snap, view, obj, 0);
    /* a pointer the exporter filled that no longer leads anywhere: its
     * memory went away, which the consumer cannot do by touching the view */
    *contents_hash =
        view_snapshot_readable(&snap) ? view_snapshot_hash(&snap) : BS_VIEW_CONTENTS_UNCHECKED;
    return gil;
}

static int wrap_getbuffer(PyObject *obj, Py_buffer *view, int flags, type_ctx *ctx)
{
    bs_tls *tls = bs_thread();
    /* the memoryview a PEP 688 __buffer__ returned, filling the class's
     * view: the class's export, recorded by its own wrapper */
    if (tls->class_view == view && view)
        return ctx->get(obj, view, flags);
    int checking = bs_core_state.active && !bs_core_state.late && !tls->guard && view;
    int gil = 1;
    uint32_t call = 0;
    Py_ssize_t refs_before = 0;
    PyObject *obj_before = NULL;
    if (checking) {
        gil = bs_gil_held(tls);
        /* with an exception already pending, the exporter's own cannot be told apart */
        if (gil && !PyErr_Occurred())
            call |= BS_CALL_EXC_KNOWN;
        if (!gil)
            call |= BS_CALL_NO_GIL;
        refs_before = Py_REFCNT(obj);
        obj_before = view->obj; /* may be garbage: only compared */
    }
    int pushed = tls->nslot < BS_MAX_SLOT_NESTING;
    if (pushed)
        tls->slot_views[tls->nslot] = view;
    tls->nslot++;
    tls->checked_view = NULL;
    int pep688 = ctx->get == pyver.class_getbuffer && pyver.class_getbuffer;
    void *outer_class_view = tls->class_view;
    if (pep688)
        tls->class_view = view;
    int rc = ctx->get(obj, view, flags);
    tls->class_view = outer_class_view;
    tls->nslot--;
    void *pc = __builtin_return_address(0);
    if (__builtin_expect(tls->probe_obj != NULL, 0) && tls->probe_obj == (void *)obj && rc == 0)
        tls->probe_pc = tls->consumer_view == view ? tls->consumer_pc : pc;
    if (!checking)
        return rc;
    bs_view_snapshot snap;
    int have_snap = 0, fields_bad = 0;
    /* view->obj is the exporter's word: used as an object only when it is
     * the object whose slot ran or can be read as one */
    PyObject *owner = rc == 0 && (view->obj == obj || slots_object_readable(view->obj))
                          ? view->obj : NULL;
    /* an inner wrapper ran on this view during our call: a forwarding
     * exporter (PickleBuffer), already checked there */
    int forwarded = tls->checked_view == view;
    tls->checked_view = view;
    if (!forwarded) {
        /* Conformance of what the exporter returned; the common case
         * (conforming) costs the snapshot and the checker, no event. */
        int bad = (call & BS_CALL_NO_GIL) != 0;
        if ((call & BS_CALL_EXC_KNOWN) && PyErr_Occurred())
            call |= BS_CALL_EXC_AFTER;
        if (view->obj == obj)
            call |= BS_CALL_OBJ_IS_SELF;
        if (Py_REFCNT(obj) > refs_before || pyver_is_immortal(obj))
            call |= BS_CALL_OBJ_REF_GAINED;
        if (rc == 0) {
            /* the interpreter's own exporters fill their views with
             * PyBuffer_FillInfo and the like: what a conformance bug would
             * be is CPython's, and checking them cost ~40 ns an export */
            if (!ctx->builtin) {
                slots_snapshot_view(&snap, view, owner, flags);
                view_snapshot_probe_buf(&snap, safe_read, NULL);
                have_snap = 1;
                bs_view_violation viol[BS_VIEW_MAX_VIOLATIONS];
                int n = view_check_export(&snap, viol, BS_VIEW_MAX_VIOLATIONS);
                if (n) {
                    call |= BS_CALL_CHECK_VIEW;
                    bad = 1;
                }
                for (int i = 0; i < n; i++)
                    fields_bad |= viol[i].check == BS_CHECK_BAD_VIEW_FIELDS;
            }
            bad |= (call & BS_CALL_EXC_AFTER) || !view->obj ||
                   ((call & BS_CALL_OBJ_IS_SELF) && !(call & BS_CALL_OBJ_REF_GAINED));
        } else {
            if (view->obj != obj_before)
                call |= BS_CALL_OBJ_WRITTEN;
            bad |= rc != -1 ||
                   (view->obj && ((call & BS_CALL_OBJ_WRITTEN) ||
                                  ((call & BS_CALL_OBJ_IS_SELF) && (call & BS_CALL_OBJ_REF_GAINED)))) ||
                   ((call & BS_CALL_EXC_KNOWN) && !(call & BS_CALL_EXC_AFTER));
        }
        if (bad) {
            if (rc == 0 && !have_snap) {
                slots_snapshot_view(&snap, view, owner, flags);
                have_snap = 1;
            }
            report_call(obj, view, flags, rc, call, gil, rc == 0 ? &snap : NULL, (void *)ctx->get);
        }
    }
    if (rc != 0 || !view->obj)
        return rc;
    BS_COUNT(getbuffer_ok);
    if (!owner)
        return rc; /* a view->obj that is no object: its release cannot go well */
    PyObject *exporter = owner;
    const Py_buffer *holds = NULL;
    int release_unseen = 0;
    if (pep688 && pyver_wrapped_exporter(owner) == obj) {
        /* PEP 688: view->obj is the wrapper, the exporter is the class's
         * instance; the release goes through the wrapper's slot */
        exporter = obj;
        holds = pyver_wrapper_master_view(owner);
    } else if (exporter != obj &&
               engine_has_live_view(bs_core_state.engine, (uint64_t)(uintptr_t)view,
                                    (uint64_t)(uintptr_t)exporter)) {
        return rc; /* a forwarding exporter: the inner slot recorded it */
    } else if (!has_release_slot(Py_TYPE(exporter)) && tls->consumer_view != view) {
        /* Without a release slot the release is only visible at call sites
         * and, on a static interpreter, at a view object's release paths
         * (holders.c): track the export only when the consumer is one of
         * those (else it could never match). */
        if (getargs_caller_view(view)) {
            /* the Py_buffer of an extension's PyArg_ParseTuple ("y*"): the
             * extension releases it, at a call site bufsan sees */
            BS_COUNT(exports_extension_owned);
            getargs_note_fill(view, exporter);
        } else if (!holders_active || !held_by_view_object(view, flags, pc)) {
            BS_COUNT(exports_untracked);
            if (bs_on_own_stack(view))
                getargs_note_untracked_fill(view, exporter);
            /* a short-lived consumer inside a static interpreter, whose
             * release is inlined or a direct call: checked against the
             * exports of the same exporter that are tracked (a memoryview's
             * hold), as the shared interpreter checks it, but not kept */
            if (!holders_active ||
                !engine_has_exporter(bs_core_state.engine, (uint64_t)(uintptr_t)exporter))
                return rc;
            release_unseen = 1;
        } else {
            __atomic_fetch_add(&holders_live, 1, __ATOMIC_RELAXED);
        }
    }
    /* A memoryview's export keeps the memoryview, so its managed buffer's
     * export, alive: if both leak, the inner one is the outer one's
     * consequence (blosc's cbuffer_validate(memoryview(b)) leaks the first) */
    if (!holds)
        holds = pyver_memoryview_master_view(exporter);
    /* what format, shape and strides held at export (consumer-modified-view) */
    if (!have_snap)
        slots_snapshot_view(&snap, view, exporter, flags);
    tls->slot_pc = pc;
    slots_record_export(exporter, view, flags, &snap, fields_bad, ctx->builtin, holds,
                        release_unseen);
    tls->slot_pc = NULL;
    return rc;
}

/* The stack of a release through a slot stub: native frames only when an
 * extension released it (the release site); the interpreter's own releases
 * are named by their Python frames. */
static uint32_t release_stack(const Py_buffer *view)
{
    bs_tls *tls = bs_thread();
    if (tls->releasing_view == view)
        return capture_stack_at(BS_NATIVE_FULL, tls->releasing_pc, __builtin_frame_address(0), 0);
    return capture_stack_at(BS_NATIVE_NONE, NULL, NULL, 0);
}

static void wrap_releasebuffer(PyObject *obj, Py_buffer *view, type_ctx *ctx)
{
    bs_tls *tls = bs_thread();
    if (!bs_core_state.active || tls->guard || !view || tls->class_release_view == view) {
        ctx->rel(obj, view);
        return;
    }
    /* PEP 688: the release of a class's export, through its wrapper, which
     * releases the memoryview inside (not an export of its own) */
    PyObject *wrapper = NULL, *exporter = pyver_wrapped_exporter(obj);
    if (exporter) {
        /* a class whose exports were not seen (its __buffer__ was set
         * after its creation) is patched from now on */
        PyBufferProcs *pb = Py_TYPE(exporter)->tp_as_buffer;
        if (pb && pb->bf_getbuffer == pyver.class_getbuffer && bs_gil_held(tls)) {
            tls->guard++;
            slots_patch_type(Py_TYPE(exporter), 0);
            tls->guard--;
        }
        wrapper = obj;
        obj = exporter;
    }
    BS_COUNT(slot_releases);
    bs_event ev = {.kind = BS_EV_RELEASE, .source = BS_SRC_SLOT};
    slots_view_fields(&ev.v, view);
    int gil = slots_check_release(obj, view, &ev.contents_hash);
    ev.view = (uint64_t)(uintptr_t)view;
    ev.obj = (uint64_t)(uintptr_t)obj;
    /* hold a reference so that a release that wrongly drops one cannot free
     * the object under us */
    Py_INCREF(obj);
    bs_hash_for_release(&ev, view, obj);
    ev.thread = (uint32_t)tls->tid;
    tls->guard++;
    if (!bs_core_state.late) {
        ev.stack = gil ? release_stack(view) : capture_stack_nogil();
        /* the end of a writable export's write, seen before the slot may
         * free the memory */
        if (gil)
            bs_observe_writer_release(view, obj, ev.thread, ev.stack);
    }
    tls->guard--;
    if (wrapper) {
        /* the wrapper's slot is the interpreter's: no reference count to check */
        void *outer = tls->class_release_view;
        tls->class_release_view = view;
        ctx->rel(wrapper, view);
        tls->class_release_view = outer;
    } else if (ctx->builtin) {
        /* the interpreter's own release slot (bytearray, memoryview...) is
         * trusted, as its bf_getbuffer is; on a free-threaded build another
         * thread's references would move the count during the call anyway */
        ctx->rel(obj, view);
    } else {
        ev.refcnt_before = Py_REFCNT(obj);
        ctx->rel(obj, view);
        ev.refcnt_after = Py_REFCNT(obj);
    }
    tls->guard++;
    ev.type_name = slots_type_name(Py_TYPE(obj), gil);
    /* PEP 688: the wrapper is released once (PyBuffer_Release clears
     * view->obj), a release of an export not seen is the class's
     * patching, not a bug */
    ev.slot_complete = ctx->complete && !bs_core_state.late && !wrapper;
    if (ev.refcnt_after < ev.refcnt_before) {
        /* name the slot function: +1 because frames are return addresses */
        uint64_t pc = (uint64_t)(uintptr_t)ctx->rel + 1;
        ev.slot_stack = depot_put(NULL, 0, &pc, 1, NULL);
    }
    engine_process(bs_core_state.engine, &ev);
    tls->guard--;
    Py_DECREF(obj);
}

static void wrap_dealloc(PyObject *obj, type_ctx *ctx)
{
    if (bs_core_state.active && engine_has_exporter(bs_core_state.engine, (uint64_t)(uintptr_t)obj) &&
        !torn_down_immortal(obj)) {
        bs_tls *tls = bs_thread();
        tls->guard++;
        BS_COUNT(deallocs_with_state);
        bs_event ev = {.kind = BS_EV_DEALLOC};
        ev.thread = (uint32_t)tls->tid;
        ev.obj = (uint64_t)(uintptr_t)obj;
        ev.type_name = type_name_id(Py_TYPE(obj));
        if (!bs_core_state.late)
            ev.stack = bs_gil_held(tls)
                           ? capture_stack_at(BS_NATIVE_PROBE, __builtin_return_address(0),
                                              __builtin_frame_address(0), 0)
                           : capture_stack(0);
        /* the exporter's memory is still there: last look at its exports */
        bs_observe_exports(ev.obj, BS_OBS_DEALLOC, 0, -1, ev.thread, ev.stack);
        engine_process(bs_core_state.engine, &ev);
        tls->guard--;
    }
    ctx->dealloc(obj);
}

int slots_getbuffer_is_wrapped(PyTypeObject *t)
{
    getbufferproc get = t->tp_as_buffer ? t->tp_as_buffer->bf_getbuffer : NULL;
    return get && tramp_is_ours((void *)get);
}

int slots_release_is_wrapped(PyTypeObject *t)
{
    releasebufferproc rel = t->tp_as_buffer ? t->tp_as_buffer->bf_releasebuffer : NULL;
    /* a PEP 688 class's own release slot: its exports' releases are seen
     * at the wrapper's, the views its C base filled at the base's */
    return rel && (tramp_is_ours((void *)rel) || rel == pyver.class_releasebuffer);
}

void slots_new_lifetime(void)
{
    /* heap types of the last lifetime are gone; their addresses will be
     * reused. Static types keep their patched slots and contexts: they are
     * not patched again (their stubs are recognised as ours). */
    for (size_t i = 0; i < type_names.cap; i++)
        if (type_names.keys && type_names.keys[i])
            free(type_names.vals[i]);
    u64map_destroy(&type_names);
    __atomic_add_fetch(&names_generation, 1, __ATOMIC_RELAXED);
    module_key = NULL; /* owned by the finalized interpreter */
}

int slots_init(void)
{
    if (!type_names.cap && u64map_init(&type_names, 256) < 0)
        return -1;
    /* the probes' own exports are not the program's */
    bs_thread()->guard++;
    static int warned;
    if (pyver_init() < 0 && !warned++)
        fprintf(stderr,
                "==%d==WARNING: bufsan: this interpreter's %s was not found: %s\n", (int)getpid(),
                pyver.managed_buffer_type ? "PEP 688 machinery" : "memoryview managed buffer type",
                pyver.managed_buffer_type
                    ? "exports of Python classes with __buffer__ are seen as memoryviews'"
                    : "memoryviews' own holds are not told from other consumers'");
    bs_thread()->guard--;
    hook_type_new();
    module_key = PyUnicode_InternFromString("__module__");
    if (!module_key)
        PyErr_Clear();
    /* The tp_dealloc of Python classes, which must never be wrapped. */
    PyObject *cls = PyObject_CallFunction((PyObject *)&PyType_Type, "s(O){}", "_bufsan_probe",
                                          (PyObject *)&PyBaseObject_Type);
    if (!cls) {
        PyErr_Clear();
        return -1;
    }
    subtype_dealloc_fn = ((PyTypeObject *)cls)->tp_dealloc;
    Py_DECREF(cls);
    return 0;
}

/* PEP 688 classes (3.12+) get the interpreter's slot_bf_getbuffer when
 * they are created, after the start-up walk: type's tp_new patches each
 * one before it can have an instance (`class` statements and type()
 * calls, and metaclasses whose __new__ calls type.__new__). */
static newfunc type_new_fn;

static PyObject *type_new_patching(PyTypeObject *meta, PyObject *args, PyObject *kwds)
{
    PyObject *t = type_new_fn(meta, args, kwds);
    if (t && PyType_Check(t) && bs_core_state.active && !bs_core_state.late) {
        PyBufferProcs *pb = ((PyTypeObject *)t)->tp_as_buffer;
        if (pb && pb->bf_getbuffer && pb->bf_getbuffer == pyver.class_getbuffer)
            slots_patch_type((PyTypeObject *)t, 1);
    }
    return t;
}

static void hook_type_new(void)
{
    if (!pyver.class_getbuffer || PyType_Type.tp_new == type_new_patching)
        return;
    type_new_fn = PyType_Type.tp_new;
    PyType_Type.tp_new = type_new_patching;
}

/* ---- the walk --------------------------------------------------------- */

typedef struct {
    PyTypeObject **items;
    size_t n, cap;
} type_list;

static void push(type_list *l, PyTypeObject *t)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        PyTypeObject **n = realloc(l->items, cap * sizeof *n);
        if (!n)
            return;
        l->items = n;
        l->cap = cap;
    }
    l->items[l->n++] = t;
}

static int needs_patch(PyTypeObject *t)
{
    PyBufferProcs *pb = t->tp_as_buffer;
    if (pb && t == pyver.buffer_wrapper_type) /* PEP 688's wrapper: release only */
        return pb->bf_releasebuffer && !tramp_is_ours((void *)pb->bf_releasebuffer);
    return pb && pb->bf_getbuffer && !tramp_is_ours((void *)pb->bf_getbuffer);
}

static void collect_types(type_list *todo)
{
    u64map seen;
    if (u64map_init(&seen, 2048) < 0)
        return;
    /* type.__subclasses__(t), not t->tp_subclasses: 3.12+ keeps an index
     * there for the static builtin types */
    PyObject *subclasses = PyObject_GetAttrString((PyObject *)&PyType_Type, "__subclasses__");
    if (!subclasses) {
        PyErr_Clear();
        u64map_destroy(&seen);
        return;
    }
    type_list stack = {0};
    if (pyver.buffer_wrapper_type && needs_patch(pyver.buffer_wrapper_type)) {
        /* PEP 688's wrapper: a static type whose instances only the
         * interpreter makes; patched once, however the walk reaches it */
        push(todo, pyver.buffer_wrapper_type);
        u64map_put(&seen, (uint64_t)(uintptr_t)pyver.buffer_wrapper_type, (void *)1);
    }
    push(&stack, &PyBaseObject_Type);
    u64map_put(&seen, (uint64_t)(uintptr_t)&PyBaseObject_Type, (void *)1);
    while (stack.n) {
        PyTypeObject *t = stack.items[--stack.n];
        if (needs_patch(t))
            push(todo, t);
        PyObject *subs = PyObject_CallOneArg(subclasses, (PyObject *)t);
        if (!subs || !PyList_Check(subs)) {
            PyErr_Clear();
            Py_XDECREF(subs);
            continue;
        }
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(subs); i++) {
            PyObject *sub = PyList_GET_ITEM(subs, i);
            if (!PyType_Check(sub) || u64map_get(&seen, (uint64_t)(uintptr_t)sub))
                continue;
            u64map_put(&seen, (uint64_t)(uintptr_t)sub, (void *)1);
            /* kept alive by its base's subclass list while the walk runs
             * (the GIL is held; nothing here runs Python code) */
            push(&stack, (PyTypeObject *)sub);
        }
        Py_DECREF(subs);
    }
    Py_DECREF(subclasses);
    free(stack.items);
    u64map_destroy(&seen);
}

typedef struct {
    PyTypeObject *type;
    type_ctx *ctx;
    void *get, *rel, *dealloc;
    mut_plan *mut;
} patch_plan;

/* Writes the stubs for T into B; the slots are assigned after sealing. */
static int plan_type(tramp_batch *b, PyTypeObject *t, patch_plan *plan, int complete)
{
    type_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return -1;
    PyBufferProcs *pb = t->tp_as_buffer;
    ctx->type = t;
    ctx->get = pb->bf_getbuffer;
    ctx->rel = pb->bf_releasebuffer;
    ctx->complete = complete;
    ctx->builtin = bs_core_inside((uintptr_t)ctx->get);
    if (!ctx->builtin) {
        note_view_ctor((void *)t->tp_new);
        note_view_ctor((void *)t->tp_init);
    }
    plan->type = t;
    plan->ctx = ctx;
    /* a PEP 688 class's releases are seen at its wrapper's slot; the
     * wrapper calls __release_buffer__ only while the class's slot is
     * still the interpreter's own */
    int class_slot = ctx->get == pyver.class_getbuffer && pyver.class_getbuffer;
    plan->rel = ctx->rel && !class_slot && !tramp_is_ours((void *)ctx->rel)
                    ? tramp_add(b, 3, ctx, (void *)wrap_releasebuffer) : NULL;
    plan->dealloc = NULL;
    if (t == pyver.buffer_wrapper_type) {
        plan->get = NULL;
        plan->mut = NULL;
        return plan->rel ? 0 : -1;
    }
    plan->get = tramp_add(b, 4, ctx, (void *)wrap_getbuffer);
    if (t->tp_dealloc && t->tp_dealloc != subtype_dealloc_fn &&
        !tramp_is_ours((void *)t->tp_dealloc)) {
        ctx->dealloc = t->tp_dealloc;
        plan->dealloc = tramp_add(b, 2, ctx, (void *)wrap_dealloc);
    }
    plan->mut = plan->get ? mutators_plan(b, t) : NULL;
    return plan->get ? 0 : -1;
}

/* 3.12+: X.__buffer__ and X.__release_buffer__ of a C type are slot
 * wrappers holding the original functions (memoryview's and PEP 688's
 * super().__buffer__ go through them): pointed at the stubs too, so that
 * an export made through one is seen like one made through the slot. */
static void patch_descriptor(PyTypeObject *t, const char *name, void *orig, void *stub)
{
    if (!orig || !stub)
        return;
    PyObject *d = PyObject_GetAttrString((PyObject *)t, name);
    if (!d) {
        PyErr_Clear();
        return;
    }
    if (Py_IS_TYPE(d, &PyWrapperDescr_Type) && ((PyWrapperDescrObject *)d)->d_wrapped == orig)
        ((PyWrapperDescrObject *)d)->d_wrapped = stub;
    Py_DECREF(d);
}

static void apply_plan(const patch_plan *plan)
{
    PyTypeObject *t = plan->type;
    PyBufferProcs *pb = t->tp_as_buffer;
    if (t->tp_flags & Py_TPFLAGS_HEAPTYPE) {
        if (plan->rel)
            pb->bf_releasebuffer = (releasebufferproc)plan->rel;
        if (plan->get)
            pb->bf_getbuffer = (getbufferproc)plan->get;
    } else {
        PyBufferProcs *copy = malloc(sizeof *copy);
        if (!copy)
            return;
        *copy = *pb;
        if (plan->get)
            copy->bf_getbuffer = (getbufferproc)plan->get;
        if (plan->rel)
            copy->bf_releasebuffer = (releasebufferproc)plan->rel;
        t->tp_as_buffer = copy;
    }
    if (plan->dealloc)
        t->tp_dealloc = (destructor)plan->dealloc;
    patch_descriptor(t, "__buffer__", (void *)plan->ctx->get, plan->get);
    patch_descriptor(t, "__release_buffer__", (void *)plan->ctx->rel, plan->rel);
    mutators_apply(plan->mut);
    trace_type_patched(t->tp_name);
}

static int patch_list(type_list *todo, int complete)
{
    if (!todo->n)
        return 0;
    tramp_batch *b = tramp_batch_begin(todo->n * (3 + mutators_max_stubs()));
    patch_plan *plans = calloc(todo->n, sizeof *plans);
    if (!b || !plans) {
        tramp_batch_end(b);
        free(plans);
        return 0;
    }
    size_t np = 0;
    for (size_t i = 0; i < todo->n; i++)
        if (plan_type(b, todo->items[i], &plans[np], complete) == 0)
            np++;
    /* stubs must be executable before any slot points at them */
    if (tramp_batch_end(b) == 0)
        for (size_t i = 0; i < np; i++) {
            apply_plan(&plans[i]);
            if (bs_core_state.opts.verbosity >= 2)
                bs_log("patched %s%s%s%s", plans[i].type->tp_name, plans[i].rel ? " +release" : "",
                       plans[i].dealloc ? " +dealloc" : "", complete ? "" : " (late)");
        }
    free(plans);
    return (int)np;
}

int slots_patch_all_types(int complete)
{
    type_list todo = {0};
    pyver_lock();
    collect_types(&todo);
    int n = patch_list(&todo, complete);
    pyver_unlock();
    free(todo.items);
    return n;
}

int slots_patch_type(PyTypeObject *t, int complete)
{
    pyver_lock();
    int n = 0;
    if (needs_patch(t)) {
        type_list todo = {0};
        push(&todo, t);
        n = patch_list(&todo, complete);
        free(todo.items);
    }
    pyver_unlock();
    return n;
}

int slots_patch_module_types(PyObject *module, int complete)
{
    /* Static types of extension modules are often readied lazily, at first
     * use, so the subclass walk cannot see them yet: take them from the
     * module's namespace. */
    PyObject *dict = module && PyModule_Check(module) ? PyModule_GetDict(module) : NULL;
    if (!dict)
        return 0;
    type_list todo = {0};
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    pyver_lock();
    while (PyDict_Next(dict, &pos, &key, &value))
        if (PyType_Check(value) && needs_patch((PyTypeObject *)value))
            push(&todo, (PyTypeObject *)value);
    int n = patch_list(&todo, complete);
    pyver_unlock();
    free(todo.items);
    return n;
}
