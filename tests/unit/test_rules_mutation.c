/* The mutation and WRITABLE rules fed with synthetic events: content hashes
 * as the interception layer would send them, export geometry, readonly
 * answers. Each rule fires on the buggy sequence and stays quiet on the
 * correct one. */
#include <stdlib.h>
#include <string.h>

#include "../../src/engine/engine.h"
#include "check.h"

#define W 0x1          /* PyBUF_WRITABLE */
#define FULL_RO 0x11c  /* PyBUF_FULL_RO */

typedef struct {
    int n;
    bs_finding f[16];
} captured;

static void sink(const bs_finding *f, void *ctx)
{
    captured *c = ctx;
    if (c->n < 16)
        c->f[c->n] = *f;
    c->n++;
}

/* main runs every test twice: with one registry, then split into shards
 * as on a free-threaded build (engine_contended) */
static int sharded;

static bs_engine *new_engine(const bs_options *o, captured *c)
{
    bs_engine *e = engine_new(o, sink, c);
    if (e && sharded)
        engine_contended(e);
    return e;
}

static bs_options opts_with(const char *s)
{
    bs_options o;
    char err[256];
    bs_options_defaults(&o);
    if (s && bs_options_parse(&o, s, "test", err, sizeof err) < 0)
        fprintf(stderr, "bad options %s: %s\n", s, err);
    return o;
}

static bs_event exp_ev(uint64_t view, uint64_t obj, int32_t flags, int ro, uint32_t stack)
{
    bs_event e = {.kind = BS_EV_EXPORT, .view = view, .obj = obj, .flags = flags, .stack = stack,
                  .type_name = 0};
    e.v.buf = obj + 0x100;
    e.v.len = 64;
    e.v.itemsize = 1;
    e.v.readonly = ro;
    return e;
}

static bs_event hashed(bs_event e, const bs_options *o, uint64_t h)
{
    if (engine_wants_hash(o, e.flags, e.v.readonly, e.consumer)) {
        e.hashed = 1;
        e.hash = h;
    }
    return e;
}

static bs_event rel_ev(uint64_t view, uint64_t obj, uint64_t h)
{
    bs_event e = {.kind = BS_EV_RELEASE, .view = view, .obj = obj, .slot_complete = 1};
    e.v.buf = obj + 0x100;
    e.v.len = 64;
    e.refcnt_before = e.refcnt_after = 2;
    e.hashed = 1;
    e.hash = h;
    return e;
}

static int count_check(const captured *c, bs_check_id id)
{
    int n = 0;
    for (int i = 0; i < c->n && i < 16; i++)
        n += c->f[i].check == id;
    return n;
}

static const bs_finding *find(const captured *c, bs_check_id id)
{
    for (int i = 0; i < c->n && i < 16; i++)
        if (c->f[i].check == id)
            return &c->f[i];
    return NULL;
}

static int has_role(const bs_finding *f, const char *role)
{
    for (int i = 0; f && i < f->nstacks; i++)
        if (!strcmp(f->stacks[i].role, role))
            return 1;
    return 0;
}

/* A reader's bytes change during the hold of a writable export of the same
 * memory taken on another thread: observed when the writer is released, and
 * blamed on it. */
static void test_reader_mutated_with_writer_listed(void)
{
    bs_options o = opts_with(NULL);
    captured c = {0};
    bs_engine *e = new_engine(&o, &c);
    bs_event r = hashed(exp_ev(0x10, 0x9000, 0, 0, 1), &o, 111);
    CHECK(r.hashed);
    engine_process(e, &r);
    bs_event w = hashed(exp_ev(0x20, 0x9000, W, 0, 2), &o, 111);
    w.thread = 1;
    CHECK(!w.hashed); /* a writer is not watched */
    engine_process(e, &w);
    bs_event after = {.kind = BS_EV_OBSERVE, .view = 0x10, .obj = 0x9000, .hashed = 1, .hash = 222,
                      .thread = 1, .stack = 5, .observe_point = BS_OBS_WRITE_AFTER, .writer = 0x20};
    after.v.buf = 0x9100;
    after.v.len = 64;
    engine_process(e, &after);
    bs_event wr = rel_ev(0x20, 0x9000, 0);
    wr.hashed = 0;
    engine_process(e, &wr);
    bs_event rr = rel_ev(0x10, 0x9000, 222);
    engine_process(e, &rr);
    const bs_finding *f = find(&c, BS_CHECK_MUTATED_WHILE_SHARED);
    CHECK(c.n == 1 && f);
    /* the write first: the writable export's acquisition; then the reader's,
     * then where the writer's release showed the change */
    CHECK(f && f->nstacks == 3 && f->stacks[0].stack == 2 && f->stacks[1].stack == 1 &&
          f->stacks[2].stack == 5);
    CHECK(has_role(f, "release") && has_role(f, "writer"));
    CHECK(f && f->severity == BS_SEV_ERROR);
    CHECK(engine_live_exports(e) == 0);
    engine_free(e);
    bs_options_free(&o);
}

/* The same change made by a writer the holder took itself (same thread, no
 * Python frames to tell otherwise), or with no writer observed at all, is
 * the holder's own write: quiet, unless strict=1. */
static void test_holders_own_write_is_quiet(void)
{
    for (int strict = 0; strict <= 1; strict++) {
        bs_options o = opts_with(strict ? "strict=1" : NULL);
        captured c = {0};
        bs_engine *e = new_engine(&o, &c);
        bs_event r = hashed(exp_ev(0x10, 0x9000, 0, 0, 1), &o, 111);
        engine_process(e, &r);
        bs_event w = exp_ev(0x20, 0x9000, W, 0, 2);
        engine_process(e, &w);
        bs_event after = {.kind = BS_EV_OBSERVE, .view = 0x10, .obj = 0x9000, .hashed = 1,
                          .hash = 222, .stack = 5, .observe_point = BS_OBS_WRITE_AFTER,
                          .writer = 0x20};
        after.v.buf = 0x9100;
        after.v.len = 64;
        engine_process(e, &after);
        bs_event wr = rel_ev(0x20, 0x9000, 0);
        wr.hashed = 0;
        engine_process(e, &wr);
        /* then a change with no writer in sight: the holder wrote, a mutable
         * view; a later foreign write (another thread) is not blamed */
        bs_event ob = after;
        ob.observe_point = BS_OBS_WRITE_BEFORE;
        ob.hash = 333;
        ob.writer = 0;
        engine_process(e, &ob);
        ob.observe_point = BS_OBS_WRITE_AFTER;
        ob.hash = 334;
        ob.thread = 9;
        engine_process(e, &ob);
        bs_event rr = rel_ev(0x10, 0x9000, 334);
        engine_process(e, &rr);
        const bs_finding *f = find(&c, BS_CHECK_MUTATED_WHILE_SHARED);
        CHECK(count_check(&c, BS_CHECK_MUTATED_WHILE_SHARED) == strict);
        CHECK(!strict || (f && strstr(f->message, "no writer was observed")));
        engine_free(e);
        bs_options_free(&o);
    }
}

/* A mutation slot call (item assignment) of the exporter, on another thread
 * or after the call that acquired the hold returned: reported at once with
 * the writer's stack; on the holder's thread inside its call: quiet, and the
 * hash moves on so that a later foreign write is still seen. */
static void test_slot_writer(void)
{
    bs_options o = opts_with(NULL);
    captured c = {0};
    bs_engine *e = new_engine(&o, &c);
    bs_event r = hashed(exp_ev(0x10, 0x9000, 0, 0, 1), &o, 111);
    engine_process(e, &r);
    bs_event ob = {.kind = BS_EV_OBSERVE, .view = 0x10, .obj = 0x9000, .hashed = 1, .hash = 111,
                   .stack = 7, .observe_point = BS_OBS_WRITE_BEFORE};
    ob.v.buf = 0x9100;
    ob.v.len = 64;
    engine_process(e, &ob);
    ob.observe_point = BS_OBS_WRITE_AFTER;
    ob.hash = 112; /* the holder's own thread: its own write */
    engine_process(e, &ob);
    CHECK(c.n == 0);
    ob.thread = 3;
    ob.observe_point = BS_OBS_WRITE_BEFORE;
    engine_process(e, &ob);
    ob.observe_point = BS_OBS_WRITE_AFTER;
    ob.hash = 113;
    ob.stack = 8;
    engine_process(e, &ob);
    const bs_finding *f = find(&c, BS_CHECK_MUTATED_WHILE_SHARED);
    CHECK(c.n == 1 && f && f->nstacks >= 2 && f->stacks[0].stack == 8 && f->stacks[1].stack == 1);
    CHECK(has_role(f, "writer") && strstr(f->message, "mutation entry point"));
    engine_free(e);
    bs_options_free(&o);
}

static void test_unchanged_reader_is_quiet(void)
{
    bs_options o = opts_with(NULL);
    captured c = {0};
    bs_engine *e = new_engine(&o, &c);
    bs_event r = hashed(exp_ev(0x10, 0x9000, 0, 0, 1), &o, 111);
    engine_process(e, &r);
    bs_event rr = rel_ev(0x10, 0x9000, 111);
    engine_process(e, &rr);
    CHECK(c.n == 0);
    engine_free(e);
    bs_options_free(&o);
}

static void test_memoryview_is_not_a_reader_unless_strict(void)
{
    bs_options o = opts_with(NULL);
    bs_event m = exp_ev(0x10, 0x9000, FULL_RO, 0, 1);
    m.consumer = BS_CONSUMER_MEMORYVIEW;
    CHECK(!engine_wants_hash(&o, m.flags, 0, m.consumer));
    CHECK(engine_wants_hash(&o, m.flags, 1, m.consumer)); /* read-only grants always */
    CHECK(engine_wants_hash(&o, m.flags, 0, BS_CONSUMER_OTHER));
    CHECK(!engine_wants_hash(&o, W, 0, BS_CONSUMER_OTHER));
    /* the other consumers that write without PyBUF_WRITABLE */
    CHECK(!engine_wants_hash(&o, FULL_RO, 0, BS_CONSUMER_COPY_SOURCE));
    CHECK(!engine_wants_hash(&o, FULL_RO, 0, BS_CONSUMER_PICKLEBUFFER));
    CHECK(!engine_wants_hash(&o, FULL_RO, 1, BS_CONSUMER_PRIVATE_FILL));
    bs_options s = opts_with("strict=1");
    CHECK(engine_wants_hash(&s, m.flags, 0, m.consumer));
    CHECK(engine_wants_hash(&s, FULL_RO, 0, BS_CONSUMER_COPY_SOURCE));
    CHECK(engine_wants_hash(&s, FULL_RO, 1, BS_CONSUMER_PRIVATE_FILL));
    bs_options off = opts_with("checks=-mutated-while-shared,-readonly-mutated");
    CHECK(!engine_wants_hash(&off, 0, 1, BS_CONSUMER_OTHER));
    bs_options_free(&o);
    bs_options_free(&s);
    bs_options_free(&off);
}

static void test_readonly_mutated(void)
{
    bs_options o = opts_with(NULL);
    captured c = {0};
    bs_engine *e = new_engine(&o, &c);
    bs_event r = hashed(exp_ev(0x10, 0x9000, FULL_RO, 1, 1), &o, 5);
    r.consumer = BS_CONSUMER_MEMORYVIEW;
    CHECK(r.hashed);
    engine_process(e, &r);
    bs_event rr = rel_ev(0x10, 0x9000, 6);
    engine_process(e, &rr);
    CHECK(c.n == 1 && count_check(&c, BS_CHECK_READONLY_MUTATED) == 1);
    CHECK(c.f[0].exporter_readonly == 1);
    engine_free(e);
    bs_options_free(&o);
}

/* Changes seen at a later export or at the deallocation, with no writer
 * observed: quiet by default (the holder may write its own hold), reported
 * with strict=1. */
static void test_observed_at_later_export_and_dealloc(void)
{
    {
        bs_options q = opts_with(NULL);
        captured c = {0};
        bs_engine *e = new_engine(&q, &c);
        bs_event r = hashed(exp_ev(0x10, 0x9000, 0, 0, 1), &q, 7);
        engine_process(e, &r);
        bs_event ob = {.kind = BS_EV_OBSERVE, .view = 0x10, .obj = 0x9000, .hashed = 1, .hash = 8,
                       .stack = 3, .observe_point = BS_OBS_EXPORT};
        ob.v.buf = 0x9100;
        ob.v.len = 64;
        engine_process(e, &ob);
        CHECK(c.n == 0);
        engine_free(e);
        bs_options_free(&q);
    }
    bs_options o = opts_with("strict=1");
    captured c = {0};
    bs_engine *e = new_engine(&o, &c);
    bs_event r = hashed(exp_ev(0x10, 0x9000, 0, 0, 1), &o, 7);
    engine_process(e, &r);
    bs_watch w[4];
    CHECK(engine_watch_list(e, 0x9000, 0, NULL, w, 4) == 1);
    CHECK(w[0].view == 0x10 && w[0].buf == 0x9100 && w[0].len == 64);
    /* a later export sees the same bytes: quiet */
    bs_event ob = {.kind = BS_EV_OBSERVE, .view = 0x10, .obj = 0x9000, .hashed = 1, .hash = 7,
                   .stack = 3, .observe_point = BS_OBS_EXPORT};
    ob.v.buf = 0x9100;
    ob.v.len = 64;
    engine_process(e, &ob);
    CHECK(c.n == 0);
    /* then different bytes: reported once, with the observation stack */
    ob.hash = 8;
    engine_process(e, &ob);
    engine_process(e, &ob);
    CHECK(c.n == 1 && count_check(&c, BS_CHECK_MUTATED_WHILE_SHARED) == 1);
    CHECK(has_role(&c.f[0], "observe"));
    /* a reported export is not watched any more */
    CHECK(engine_watch_list(e, 0x9000, 0, NULL, w, 4) == 0);
    engine_free(e);

    captured d = {0};
    e = new_engine(&o, &d);
    engine_process(e, &r);
    ob.hash = 9;
    ob.observe_point = BS_OBS_DEALLOC;
    engine_process(e, &ob);
    bs_event dd = {.kind = BS_EV_DEALLOC, .obj = 0x9000};
    engine_process(e, &dd);
    CHECK(count_check(&d, BS_CHECK_MUTATED_WHILE_SHARED) == 1);
    CHECK(has_role(&d.f[0], "dealloc"));
    CHECK(count_check(&d, BS_CHECK_EXPORTER_FREED_WHILE_EXPORTED) == 1);
    engine_free(e);
    bs_options_free(&o);
}

static void test_moved_while_exported(void)
{
    bs_options o = opts_with(NULL);
    captured c = {0};
    bs_engine *e = new_engine(&o, &c);
    bs_event a = hashed(exp_ev(0x10, 0x9000, 0, 0, 1), &o, 1);
    engine_process(e, &a);
    bs_event b = hashed(exp_ev(0x20, 0x9000, 0, 0, 2), &o, 1);
    b.v.buf = 0x5000; /* moved */
    engine_process(e, &b);
    CHECK(c.n == 1 && count_check(&c, BS_CHECK_MOVED_WHILE_EXPORTED) == 1);
    CHECK(c.f[0].nstacks == 2 && c.f[0].stacks[0].stack == 2 && c.f[0].stacks[1].stack == 1);
    /* the moved export's memory is never hashed again */
    bs_watch w;
    CHECK(engine_watch_list(e, 0x9000, 0x10, NULL, &w, 1) == 0);
    bs_event ra = rel_ev(0x10, 0x9000, 99);
    ra.hashed = 0;
    engine_process(e, &ra);
    bs_event rb = rel_ev(0x20, 0x9000, 1);
    rb.v.buf = 0x5000;
    engine_process(e, &rb);
    CHECK(c.n == 1);
    /* same geometry again and again: quiet */
    bs_event x = exp_ev(0x30, 0x9000, 0, 0, 3), y = exp_ev(0x40, 0x9000, W, 0, 4);
    engine_process(e, &x);
    engine_process(e, &y);
    CHECK(c.n == 1);
    engine_free(e);
    bs_options_free(&o);
}

/* Many live exports of one exporter's memory (views of one array): an
 * export of the same memory walks none of them, one of other memory still
 * finds each that is live and not yet moved, and a conflicting readonly
 * answer is still found among them. */
static void test_many_exports_of_one_exporter(void)
{
    bs_options o = opts_with(NULL);
    captured c = {0};
    bs_engine *e = new_engine(&o, &c);
    for (uint64_t i = 0; i < 1000; i++) {
        bs_event x = exp_ev(0x10000 + 0x100 * i, 0x9000, 0, 0, 1);
        engine_process(e, &x);
    }
    CHECK(c.n == 0);
    bs_event r = rel_ev(0x10000, 0x9000, 0); /* the first one goes */
    r.hashed = 0;
    engine_process(e, &r);
    bs_event m = exp_ev(0x20, 0x9000, 0, 0, 2);
    m.v.buf = 0x5000; /* moved: the 999 others */
    engine_process(e, &m);
    CHECK(c.n == 999 && count_check(&c, BS_CHECK_MOVED_WHILE_EXPORTED) == 16); /* 16 kept */
    bs_event back = exp_ev(0x30, 0x9000, 0, 0, 3); /* the old memory again: the new one */
    engine_process(e, &back);
    CHECK(c.n == 1000 && c.f[0].check == BS_CHECK_MOVED_WHILE_EXPORTED);
    bs_event same = exp_ev(0x40, 0x9000, 0, 0, 4);
    engine_process(e, &same);
    CHECK(c.n == 1000);
    bs_event ro = exp_ev(0x50, 0x9000, 0, 1, 5); /* readonly=1 while readonly=0 ones live */
    engine_process(e, &ro);
    CHECK(c.n == 1001);
    engine_free(e);
    bs_options_free(&o);
}

static void test_writable_while_shared_is_off_by_default(void)
{
    for (int strict = 0; strict < 2; strict++) {
        bs_options o = opts_with(strict ? "checks=+writable-while-shared" : NULL);
        captured c = {0};
        bs_engine *e = new_engine(&o, &c);
        bs_event r = exp_ev(0x10, 0x9000, 0, 0, 1), w = exp_ev(0x20, 0x9000, W, 0, 2);
        engine_process(e, &r);
        engine_process(e, &w);
        CHECK(count_check(&c, BS_CHECK_WRITABLE_WHILE_SHARED) == strict);
        /* two readers: quiet */
        bs_event rr = rel_ev(0x20, 0x9000, 0), r2 = exp_ev(0x30, 0x9001, 0, 0, 3),
                 r3 = exp_ev(0x40, 0x9001, 0, 0, 4);
        engine_process(e, &rr);
        engine_process(e, &r2);
        engine_process(e, &r3);
        CHECK(c.n == strict);
        engine_free(e);
        bs_options_free(&o);
    }
}

static void test_inconsistent_writable(void)
{
    bs_options o = opts_with(NULL);
    captured c = {0};
    bs_engine *e = new_engine(&o, &c);
    /* live conflict: error */
    bs_event a = exp_ev(0x10, 0x9000, 0, 0, 1), b = exp_ev(0x20, 0x9000, 0, 1, 2);
    engine_process(e, &a);
    engine_process(e, &b);
    CHECK(c.n == 1 && c.f[0].check == BS_CHECK_INCONSISTENT_WRITABLE &&
          c.f[0].severity == BS_SEV_ERROR);
    engine_free(e);

    /* the answer changes with nothing overlapping: a warning */
    captured d = {0};
    e = new_engine(&o, &d);
    engine_process(e, &a);
    bs_event ra = rel_ev(0x10, 0x9000, 0);
    engine_process(e, &ra);
    engine_process(e, &b);
    CHECK(d.n == 1 && d.f[0].check == BS_CHECK_INCONSISTENT_WRITABLE &&
          d.f[0].severity == BS_SEV_WARNING);
    engine_free(e);

    /* ... unless the object died and a new one took its address */
    captured z = {0};
    e = new_engine(&o, &z);
    engine_process(e, &a);
    engine_process(e, &ra);
    CHECK(engine_has_exporter(e, 0x9000));
    bs_event dd = {.kind = BS_EV_DEALLOC, .obj = 0x9000};
    engine_process(e, &dd);
    CHECK(!engine_has_exporter(e, 0x9000));
    engine_process(e, &b);
    CHECK(z.n == 0);
    engine_free(e);
    bs_options_free(&o);
}

static void test_writable_policy(void)
{
    for (int strict = 0; strict < 2; strict++) {
        bs_options o = opts_with(strict ? "writable_policy=strict" : "writable_policy=consistent");
        captured c = {0};
        bs_engine *e = new_engine(&o, &c);
        bs_event plain = exp_ev(0x10, 0x9000, 0, 1, 1), w = exp_ev(0x20, 0x9000, W, 0, 2);
        engine_process(e, &plain);
        bs_event rp = rel_ev(0x10, 0x9000, 0);
        rp.hashed = 0;
        engine_process(e, &rp);
        engine_process(e, &w);
        CHECK(count_check(&c, BS_CHECK_INCONSISTENT_WRITABLE) == strict);
        CHECK(c.n == strict);
        engine_free(e);
        bs_options_free(&o);
    }
}

static void test_writable_request_ignored(void)
{
    bs_options o = opts_with(NULL);
    captured c = {0};
    bs_engine *e = new_engine(&o, &c);
    bs_event bad = exp_ev(0x10, 0x9000, W, 1, 1), good = exp_ev(0x20, 0x9001, W, 0, 2);
    engine_process(e, &bad);
    engine_process(e, &good);
    CHECK(c.n == 1 && c.f[0].check == BS_CHECK_WRITABLE_REQUEST_IGNORED);
    CHECK(c.f[0].flags == W && c.f[0].exporter_readonly == 1);
    engine_free(e);
    bs_options_free(&o);
}

static void test_others_prefer_writers(void)
{
    bs_options o = opts_with(NULL);
    captured c = {0};
    bs_engine *e = new_engine(&o, &c);
    bs_event r = hashed(exp_ev(0x10, 0x9000, 0, 0, 1), &o, 1);
    engine_process(e, &r);
    /* many readers of overlapping memory (another exporter), then a writer */
    for (uint32_t i = 0; i < 8; i++) {
        bs_event x = exp_ev(0x100 + i * 0x10, 0x7000, 0, 0, 10 + i);
        x.v.buf = 0x9100 + 8; /* inside the watched range */
        x.v.len = 8;
        engine_process(e, &x);
    }
    bs_event w = exp_ev(0x300, 0x7001, W, 0, 99);
    w.thread = 1;
    w.v.buf = 0x9100;
    w.v.len = 4;
    engine_process(e, &w);
    bs_event far = exp_ev(0x400, 0x7002, W, 0, 98); /* elsewhere: not a witness */
    engine_process(e, &far);
    bs_event rr = rel_ev(0x10, 0x9000, 2);
    engine_process(e, &rr);
    const bs_finding *f = find(&c, BS_CHECK_MUTATED_WHILE_SHARED);
    CHECK(f != NULL);
    int saw_writer = 0, saw_far = 0;
    for (int i = 0; f && i < f->nstacks; i++) {
        saw_writer |= f->stacks[i].stack == 99;
        saw_far |= f->stacks[i].stack == 98;
    }
    CHECK(saw_writer && !saw_far);
    CHECK(f && f->nstacks == 2 + 4);
    engine_free(e);
    bs_options_free(&o);
}

/* Writers that took their export before the reader's: one released during
 * the hold (seen as it goes), one still live at the report (found then). */
static void test_writers_from_before_the_hold(void)
{
    bs_options o = opts_with(NULL);
    captured c = {0};
    bs_engine *e = new_engine(&o, &c);
    bs_event w1 = exp_ev(0x20, 0x9000, W, 0, 41);
    bs_event w2 = exp_ev(0x30, 0x9000, W, 0, 42);
    w1.thread = w2.thread = 1;
    engine_process(e, &w1);
    engine_process(e, &w2);
    bs_event far = exp_ev(0x40, 0x7000, W, 0, 43);
    far.v.buf = 0x100000; /* other memory: never a witness */
    engine_process(e, &far);
    bs_event r = hashed(exp_ev(0x10, 0x9000, 0, 0, 1), &o, 111);
    engine_process(e, &r);
    bs_event w1r = rel_ev(0x20, 0x9000, 0);
    w1r.hashed = 0;
    engine_process(e, &w1r);
    bs_event farr = rel_ev(0x40, 0x7000, 0);
    farr.hashed = 0;
    engine_process(e, &farr);
    bs_event rr = rel_ev(0x10, 0x9000, 222);
    engine_process(e, &rr);
    const bs_finding *f = find(&c, BS_CHECK_MUTATED_WHILE_SHARED);
    CHECK(f != NULL);
    int saw41 = 0, saw42 = 0, saw43 = 0;
    for (int i = 0; f && i < f->nstacks; i++) {
        saw41 |= f->stacks[i].stack == 41 && !strcmp(f->stacks[i].role, "other");
        /* the one still live is the likely writer */
        saw42 |= f->stacks[i].stack == 42 && !strcmp(f->stacks[i].role, "writer");
        saw43 |= f->stacks[i].stack == 43;
    }
    CHECK(saw41 && saw42 && !saw43);
    engine_free(e);
    bs_options_free(&o);
}

/* Every test, with the registry as it is configured now. */
static void all_tests(void)
{
    test_reader_mutated_with_writer_listed();
    test_holders_own_write_is_quiet();
    test_slot_writer();
    test_writers_from_before_the_hold();
    test_unchanged_reader_is_quiet();
    test_memoryview_is_not_a_reader_unless_strict();
    test_readonly_mutated();
    test_observed_at_later_export_and_dealloc();
    test_moved_while_exported();
    test_many_exports_of_one_exporter();
    test_writable_while_shared_is_off_by_default();
    test_inconsistent_writable();
    test_writable_policy();
    test_writable_request_ignored();
    test_others_prefer_writers();
}

int main(void)
{
    all_tests();
    sharded = 1;
    all_tests();
    return checks_report();
}
