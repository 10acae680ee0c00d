/* The engine of a free-threaded build (engine_contended: its registry in
 * shards, each with its own lock) fed by several threads at once: exports
 * and releases of each thread's own exporters run under their shard's lock
 * only (and the watch lock while watched exports live), while the first
 * watched export and a change seen at a release (whose report reads across
 * exporters) take every shard's. Nothing may be lost or invented: balanced
 * traffic gives no finding; a leak, a double release and a change written
 * through another thread's writable export among it are found, once each.
 * Built with ThreadSanitizer too (test_engine_threads_tsan). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/engine/engine.h"
#include "check.h"

#define THREADS 4
#ifndef ROUNDS
#define ROUNDS 20000
#endif

static pthread_mutex_t sink_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct {
    int n;
    bs_check_id check[16];
    uint64_t count[16];
    uint32_t stack[16];
} captured;

static void sink(const bs_finding *f, void *ctx)
{
    captured *c = ctx;
    pthread_mutex_lock(&sink_lock);
    if (c->n < 16) {
        c->check[c->n] = f->check;
        c->count[c->n] = f->count;
        c->stack[c->n] = f->nstacks ? f->stacks[0].stack : 0;
    }
    c->n++;
    pthread_mutex_unlock(&sink_lock);
}

static bs_options opts;

typedef struct {
    bs_engine *e;
    uint32_t thread;
    int leak;     /* leaves 5 exports of one exporter live (stack 99) */
    int watch;    /* every 64th export is a hashed reader: a watched one */
    int twice;    /* releases one export twice (stack 77), and a reader's
                     export of WRITTEN whose bytes changed */
    int wrong[1]; /* watch lists that missed the watched export or had another */
} worker;

/* memory the main thread holds a PyBUF_WRITABLE export of (stack 55) */
#define WRITTEN 0x7000000000ULL

static bs_event ev_of(int kind, uint64_t view, uint64_t obj, uint32_t thread, uint32_t stack)
{
    bs_event e = {.kind = kind, .view = view, .obj = obj, .thread = thread, .stack = stack};
    e.v.buf = obj + 0x100;
    e.v.len = 64;
    e.v.itemsize = 1;
    e.refcnt_before = e.refcnt_after = 2;
    e.slot_complete = 1;
    return e;
}

static void *work(void *arg)
{
    worker *w = arg;
    /* this thread's exporters and Py_buffers: no other thread's */
    uint64_t objs = 0x10000000ULL * (w->thread + 1), views = objs + 0x8000000ULL;
    for (int i = 0; i < ROUNDS; i++) {
        uint64_t obj = objs + (uint64_t)(i % 32) * 0x1000, view = views + (uint64_t)(i % 4) * 0x100;
        bs_event x = ev_of(BS_EV_EXPORT, view, obj, w->thread, 1 + w->thread);
        bs_event r = ev_of(BS_EV_RELEASE, view, obj, w->thread, 10 + w->thread);
        if (w->watch && i % 64 == 0)
            x.hashed = r.hashed = 1, x.hash = r.hash = 0x1234;
        /* what the interception layer asks around each event */
        bs_watch seen[4];
        engine_watch_list(w->e, obj, 0, NULL, seen, 4);
        engine_process(w->e, &x);
        size_t n = engine_watch_list(w->e, obj, view, &r.v, seen, 1);
        w->wrong[0] += n != (size_t)(x.hashed != 0); /* CHECK is not thread-safe */
        engine_process(w->e, &r);
        if (i % 1000 == 999) {
            bs_event d = ev_of(BS_EV_DEALLOC, 0, obj, w->thread, 20);
            engine_process(w->e, &d);
        }
    }
    if (w->leak)
        for (int i = 0; i < 5; i++) {
            bs_event x = ev_of(BS_EV_EXPORT, views + 0x10000 + (uint64_t)i * 0x100,
                               objs + 0x100000, w->thread, 99);
            engine_process(w->e, &x);
        }
    if (w->twice) {
        bs_event x = ev_of(BS_EV_EXPORT, views + 0x20000, objs + 0x200000, w->thread, 76);
        bs_event r = ev_of(BS_EV_RELEASE, views + 0x20000, objs + 0x200000, w->thread, 77);
        engine_process(w->e, &x);
        engine_process(w->e, &r);
        engine_process(w->e, &r);
        bs_event rx = ev_of(BS_EV_EXPORT, views + 0x30000, objs + 0x300000, w->thread, 78);
        bs_event rr = ev_of(BS_EV_RELEASE, views + 0x30000, objs + 0x300000, w->thread, 79);
        rx.v.buf = rr.v.buf = WRITTEN;
        rx.hashed = rr.hashed = 1;
        rx.hash = 0x1111;
        rr.hash = 0x2222; /* written during the hold */
        engine_process(w->e, &rx);
        engine_process(w->e, &rr);
    }
    return NULL;
}

static void run(int watch, int bugs, captured *c)
{
    bs_engine *e = engine_new(&opts, sink, c);
    engine_contended(e);
    bs_event wx = ev_of(BS_EV_EXPORT, 0x6000000000ULL, 0x6100000000ULL, 9, 55);
    bs_event wr = ev_of(BS_EV_RELEASE, 0x6000000000ULL, 0x6100000000ULL, 9, 56);
    wx.v.buf = wr.v.buf = WRITTEN;
    wx.flags = wr.flags = 0x1; /* PyBUF_WRITABLE */
    engine_process(e, &wx);
    worker w[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){e, (uint32_t)i + 1, bugs && i == 1, watch && i != 3, bugs && i == 2, {0}};
        pthread_create(&t[i], NULL, work, &w[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        CHECK(w[i].wrong[0] == 0);
    }
    engine_process(e, &wr);
    CHECK(engine_live_exports(e) == (bugs ? 5u : 0u));
    bs_event fin = {.kind = BS_EV_FINALIZE};
    engine_process(e, &fin);
    engine_free(e);
}

static void test_balanced_traffic_is_quiet(void)
{
    captured c = {0};
    run(0, 0, &c);
    CHECK(c.n == 0);
}

static void test_balanced_traffic_with_watched_exports_is_quiet(void)
{
    captured c = {0};
    run(1, 0, &c);
    CHECK(c.n == 0);
}

/* The finding of CHECK in C, or -1 (the threads' findings come in any
 * order). */
static int find(const captured *c, bs_check_id check)
{
    for (int i = 0; i < c->n && i < 16; i++)
        if (c->check[i] == check)
            return i;
    return -1;
}

static void test_bugs_found_once(void)
{
    captured c = {0};
    run(1, 1, &c);
    CHECK(c.n == 3);
    int rel = find(&c, BS_CHECK_RELEASE_UNKNOWN), leak = find(&c, BS_CHECK_LEAKED_EXPORT),
        changed = find(&c, BS_CHECK_MUTATED_WHILE_SHARED);
    CHECK(rel >= 0 && c.stack[rel] == 77);
    CHECK(leak >= 0 && c.count[leak] == 5 && c.stack[leak] == 99);
    /* the write first: the main thread's writable export */
    CHECK(changed >= 0 && c.stack[changed] == 55);
}

int main(void)
{
    bs_options_defaults(&opts);
    test_balanced_traffic_is_quiet();
    test_balanced_traffic_with_watched_exports_is_quiet();
    test_bugs_found_once();
    bs_options_free(&opts);
    return checks_report();
}
