/* State shared by the parts of a core (one per Python version): options,
 * the engine, the phase of the interpreter's life, per-thread flags, the
 * log line. The lowest layer of a core: bootstrap, intercept and stacks
 * use it, it uses none of them (state.c defines it). */
#ifndef BUFSAN_CORE_STATE_H
#define BUFSAN_CORE_STATE_H

#include <stdint.h>

#include "bufsan/loader_api.h"
#include "../common/options.h"
#include "../engine/engine.h"

typedef int (*bs_get_buffer_fn)(void *obj, void *view, int flags);
typedef void (*bs_release_fn)(void *view);

typedef struct {
    bs_options opts;
    bs_engine *engine;
    bufsan_loader_api *api;
    volatile int active;    /* wrappers record events */
    volatile int late;      /* audit hooks cleared: no Python calls, no exports recorded */
    volatile int finalized; /* the leak check ran */
    int interposed;         /* calls to PyObject_GetBuffer reach the loader */
    bs_get_buffer_fn real_get_buffer;
    bs_release_fn real_release;
    uintptr_t text_start, text_end; /* this core's code, dropped from native stacks */
    /* code that is never the consumer: the interpreter, the loader, libc */
    struct {
        uintptr_t start, end;
    } inside[8];
    int ninside;
} bs_core;

extern bs_core bs_core_state;

/* Is PC in code that is never the consumer: the interpreter, the loader,
 * libc (bs_core.inside)? */
static inline int bs_core_inside(uintptr_t pc)
{
    for (int i = 0; i < bs_core_state.ninside; i++)
        if (pc >= bs_core_state.inside[i].start && pc < bs_core_state.inside[i].end)
            return 1;
    return 0;
}

/* Interception counters, printed at exit with verbosity>=1 (coverage
 * measurements: compare with uprobes on PyObject_GetBuffer/PyBuffer_Release). */
typedef struct {
    uint64_t getbuffer_ok;      /* successful bf_getbuffer calls through stubs */
    uint64_t exports_recorded;  /* of those (and call-site fallbacks), recorded */
    uint64_t exports_untracked; /* slotless exporter, consumer not visible */
    uint64_t exports_release_unseen; /* of those, checked against tracked exports */
    uint64_t exports_extension_owned; /* slotless, filled by the C-API for an extension */
    uint64_t slot_releases;     /* bf_releasebuffer calls through stubs */
    uint64_t callsite_gets;     /* PyObject_GetBuffer calls through call sites */
    uint64_t callsite_releases; /* PyBuffer_Release calls through call sites */
    uint64_t callsite_release_events; /* of those, releases of slotless exporters */
    uint64_t holder_releases;   /* releases by memoryviews and PickleBuffers (holders.c) */
    uint64_t deallocs_with_state;
    uint64_t unwinds;           /* native stacks unwound (libunwind) */
    uint64_t stack_cache_hits;  /* stacks from the per-thread cache */
} bs_stats;
extern bs_stats bs_stat;
/* A plain increment: a locked one was 40% of a stack-cache hit (~5 of
 * them run per export/release pair). Counts made by two threads at the
 * same moment may be lost; these are statistics. Only counted when they
 * are printed (verbosity>=1): on a free-threaded build the shared counters'
 * cache line went from core to core at every event. */
#define BS_COUNT(field) \
    ((void)(__builtin_expect(bs_core_state.opts.verbosity != 0, 0) && bs_stat.field++))

/* Per-thread flags. `guard` is nestable: while set, wrappers only forward.
 * `consumer_view` is the Py_buffer that a call-site acquisition in progress
 * fills: its consumer is outside the interpreter (an extension module, or
 * an interposed call), so its release will be seen there too.
 * `slot_views` are the views that bf_getbuffer calls in progress fill: a
 * call-site acquisition into one of them is an exporter forwarding the
 * request (PickleBuffer, redirecting exporters), not a new consumer. */
#define BS_MAX_SLOT_NESTING 16
typedef struct {
    int guard;
    int tid;
    void *consumer_view;
    void *releasing_view;  /* the view a call-site PyBuffer_Release is releasing */
    void *releasing_pc;    /* and the return address into its caller */
    int nslot;
    void *slot_views[BS_MAX_SLOT_NESTING];
    /* the return address into the consumer that asked for consumer_view /
     * for the export a slot stub is recording (see slots_probe_consumers) */
    void *consumer_pc, *slot_pc;
    /* start-up probe: the consumer pc of the next export of probe_obj */
    void *probe_obj, *probe_pc;
    /* the view the innermost bf_getbuffer wrapper last checked: an outer,
     * forwarding exporter's wrapper does not check it again */
    void *checked_view;
    /* stacks already captured on this thread (capture.c), malloc'd lazily */
    struct bs_stack_cache_entry *stack_cache;
    /* the Python thread state this thread last held the GIL with, and the
     * thread's identifier (bs_gil_held) */
    void *py_tstate;
    unsigned long py_ident;
    /* the view a PEP 688 class's bf_getbuffer / its wrapper's release is
     * filling / releasing: the memoryview inside it is the class's means,
     * its export and release are the class's own (slots.c) */
    void *class_view, *class_release_view;
    /* this thread's stack, [stack_lo, stack_hi); stack_hi 0 until read
     * (bs_on_own_stack) */
    uintptr_t stack_lo, stack_hi;
    /* the frame of the innermost PyArg_Parse* call an extension made
     * through its GOT (0: none), and this thread's record of the stack
     * views filled outside such calls and not tracked (callsites.c) */
    uintptr_t getargs_frame;
    struct bs_getargs_state *getargs;
} bs_tls;

/* This thread's flags (read at every buffer event: inline, and the core is
 * built with the initial-exec TLS model, so a read is a load from %fs; its
 * thread-locals must stay small enough for glibc's static TLS room for
 * dlopen'd objects, see src/CMakeLists.txt). */
extern __thread bs_tls bs_tls_self;
void bs_thread_start(bs_tls *t);
/* This thread is the main thread, T0 (at start-up). */
void bs_thread_main(void);

/* The bufsan thread number (T<n>) of the OS thread with pthread identity
 * IDENT, or -1 (the newest: identities are reused after a thread ends). */
int bs_thread_number_of(unsigned long ident);

static inline bs_tls *bs_thread(void)
{
    bs_tls *t = &bs_tls_self;
    if (__builtin_expect(t->tid < 0, 0))
        bs_thread_start(t);
    return t;
}

/* Is P on the calling thread's stack? (its bounds are read once per
 * thread; not from a signal handler) */
int bs_on_own_stack(const void *p);

/* A line to stderr when verbosity > 0. */
void bs_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
