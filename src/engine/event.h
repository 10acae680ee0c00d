/* Events: what the interception layer saw, in a form with no Python in it.
 * The engine consumes them online (in the process) and, later, offline from a
 * trace; every check is a rule over this stream. */
#ifndef BUFSAN_ENGINE_EVENT_H
#define BUFSAN_ENGINE_EVENT_H

#include <stdint.h>

typedef enum {
    BS_EV_EXPORT = 1,   /* bf_getbuffer returned 0 and filled view */
    BS_EV_RELEASE,      /* a release of view (slot, call site or interposed) */
    BS_EV_DEALLOC,      /* an exporter object is being deallocated */
    BS_EV_FINALIZE,     /* the interpreter is gone: report what is still held */
    BS_EV_OBSERVE,      /* the content hash of a live export, taken at another
                           observation point (see bs_observe_point) */
    BS_EV_BUFFER_CALL,  /* a bf_getbuffer / release call that broke a rule of the
                           protocol on its own (conformance, no GIL): checked
                           whether or not the export is tracked */
    BS_EV_LIFETIME,     /* an embedder initialized the interpreter again after
                           finalizing it: the finished lifetime's records go
                           (its leaks were reported at BS_EV_FINALIZE) and
                           checking starts again */
    BS_EV_THREAD_OUTLIVES, /* `thread` was still running when the program ended
                              (a daemon thread, frozen by finalization): what
                              it holds then is not leaked */
} bs_event_kind;

/* Who holds an export: the mutation rules treat a memoryview's export on its
 * base as a writer (it asks PyBUF_FULL_RO, then writes when it may). */
typedef enum {
    BS_CONSUMER_OTHER = 0,
    BS_CONSUMER_MEMORYVIEW = 1, /* the master buffer of a memoryview's managed buffer */
    BS_CONSUMER_COPY_SOURCE = 2, /* the source of a memoryview slice assignment
                                    (memory_ass_sub), which may overlap the
                                    destination it writes */
    BS_CONSUMER_PICKLEBUFFER = 3, /* a PickleBuffer's view of its base, which it
                                     re-exports with the consumer's flags */
    BS_CONSUMER_PRIVATE_FILL = 4, /* a memoryview over a bytes object no one else
                                     references: memory_from_contiguous_copy
                                     (PyMemoryView_GetContiguous, tobytes of
                                     non-contiguous views) fills a fresh bytes
                                     through its read-only master buffer */
    BS_CONSUMER_VIEW_OBJECT = 5, /* acquired inside the tp_new or tp_init of
                                    an extension's exporter type: a view
                                    object over the memory (bitarray(buffer=),
                                    a Cython memoryview), which writes it and
                                    re-exports it */
} bs_consumer;

/* Where a BS_EV_OBSERVE hash was taken. */
typedef enum {
    BS_OBS_EXPORT = 0,   /* a later export of the same exporter */
    BS_OBS_DEALLOC = 1,  /* the exporter's deallocation */
    BS_OBS_FINALIZE = 2, /* the end of the interpreter */
    /* around a write bufsan can name: a mutation slot of the exporter (item
     * or slice assignment, in-place operators; a memoryview's on its base's
     * memory) or the hold of a PyBUF_WRITABLE export of the same memory.
     * A change seen at WRITE_AFTER was made by that writer: the observing
     * event's thread and stack are the writer's (a slot call), or its
     * `writer` names the writable export whose release it is. */
    BS_OBS_WRITE_BEFORE = 3,
    BS_OBS_WRITE_AFTER = 4,
} bs_observe_point;

/* Where a release was observed. */
typedef enum {
    BS_SRC_SLOT = 0,     /* the exporter type's bf_releasebuffer (sees every release) */
    BS_SRC_CALLSITE = 1, /* a PyBuffer_Release call from an extension or interposed */
    BS_SRC_HOLDER = 2,   /* a memoryview or PickleBuffer released the view it holds */
} bs_source;

/* The fields of a Py_buffer as the exporter filled them (or as released). */
typedef struct {
    uint64_t buf;
    int64_t len;
    int64_t itemsize;
    int32_t readonly;
    int32_t ndim;
    uint64_t format, shape, strides, suboffsets, internal;
} bs_view_fields;

typedef struct {
    bs_event_kind kind;
    uint32_t thread;      /* T<n>: 0 is the main thread */
    uint32_t stack;       /* stack depot id of where it happened (0: none) */
    uint32_t type_name;   /* interned exporter type name (0: unknown) */
    uint32_t source;      /* bs_source, for releases */
    int32_t flags;        /* request flags, for exports */
    uint64_t view;        /* address of the Py_buffer */
    uint64_t obj;         /* the exporter (view->obj) */
    bs_view_fields v;
    /* releases through the exporter's slot: reference count of view->obj
     * before and after the slot ran (release-decrefs-obj) */
    int64_t refcnt_before, refcnt_after;
    /* releases: does the exporter type have a release slot that bufsan wraps?
     * If not, an unmatched release is only an error with positive evidence. */
    uint32_t slot_complete;
    /* releases through a slot: the stack naming the bf_releasebuffer
     * function itself (one native frame), where a slot bug lives */
    uint32_t slot_stack;
    /* BS_EV_FINALIZE: a forked child ends with _exit (no finalization, e.g.
     * a multiprocessing worker): exports it inherited are not its leaks */
    uint32_t exit_without_finalize;
    /* exports: bs_consumer. */
    uint32_t consumer;
    /* exports, releases, observations: a content hash of the export's bytes
     * (hashed != 0), taken by the interception layer, which alone reads
     * memory; observations name the export by view and its range by v.buf,
     * v.len. */
    uint32_t hashed;
    uint64_t hash;
    uint32_t observe_point; /* bs_observe_point, for BS_EV_OBSERVE */
    /* BS_EV_BUFFER_CALL: what the call returned and the state around it
     * (BS_CALL_* bits); for exports and releases, a hash of what format,
     * shape, strides and suboffsets pointed to (consumer-modified-view;
     * 0: not taken) */
    int32_t rc;
    uint32_t call;
    uint64_t contents_hash;
    uint64_t view_obj;    /* BS_EV_BUFFER_CALL: view->obj when it returned */
    /* BS_EV_OBSERVE at BS_OBS_WRITE_AFTER: the Py_buffer of the writable
     * export being released (0: the writer is a mutation slot call) */
    uint64_t writer;
    /* exports: the exporter's bf_getbuffer is the interpreter's own (bytes,
     * bytearray, memoryview, ...): its buf is memory the exporter owns, alive
     * while the export is, and is hashed without probing it first */
    uint32_t trusted;
    /* exports: the consumer is inside the interpreter and its release will
     * not be seen (a static interpreter's short-lived consumers: bytes(x),
     * b"".join, struct.unpack_from... of an exporter without a release
     * slot): checked against the exporter's tracked exports (moved, WRITABLE
     * answers), never recorded as live */
    uint32_t release_unseen;
    /* exports: the Py_buffer of another export this one keeps alive (a PEP
     * 688 class's export holds the memoryview its __buffer__ returned, whose
     * managed buffer holds an export of the memory): if both leak, the
     * inner one is this one's consequence, not a leak of its own (0: none) */
    uint64_t holds_view;
    /* the view's snapshot (struct bs_view_snapshot), online only: not part of
     * a trace */
    const void *snapshot;
} bs_event;

/* bs_event.call bits */
enum {
    BS_CALL_RELEASE = 1 << 0,      /* a release, not a bf_getbuffer */
    BS_CALL_NO_GIL = 1 << 1,       /* the thread did not hold the GIL */
    BS_CALL_EXC_KNOWN = 1 << 2,    /* the exception bits below were taken */
    BS_CALL_EXC_AFTER = 1 << 3,    /* an exception was set when it returned */
    BS_CALL_OBJ_WRITTEN = 1 << 4,  /* on failure: view->obj differs from before */
    BS_CALL_OBJ_REF_GAINED = 1 << 5, /* the exporter's refcount grew over the call */
    BS_CALL_OBJ_IS_SELF = 1 << 6,  /* view->obj is the object whose slot ran */
    BS_CALL_CHECK_VIEW = 1 << 7,   /* run the view checker on `snapshot` */
};

#endif
