/* State shared by the parts of a core (one per Python version): options,
 * the engine, the phase of the interpreter's life, per-thread flags. */
#ifndef BUFSAN_BOOTSTRAP_CORE_H
#define BUFSAN_BOOTSTRAP_CORE_H

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
    int nslot;
    void *slot_views[BS_MAX_SLOT_NESTING];
    /* the view the innermost bf_getbuffer wrapper last checked: an outer,
     * forwarding exporter's wrapper does not check it again */
    void *checked_view;
} bs_tls;

bs_tls *bs_thread(void);

/* A line to stderr when verbosity > 0. */
void bs_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
