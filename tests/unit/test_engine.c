/* The engine fed with synthetic events: each lifetime rule fires on the
 * buggy sequence and stays quiet on the correct one. */
#include <stdlib.h>

#include "../../src/engine/engine.h"
#include "check.h"

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

static bs_options opts;

static bs_event export_ev(uint64_t view, uint64_t obj, int64_t len, uint32_t stack)
{
    bs_event e = {.kind = BS_EV_EXPORT, .view = view, .obj = obj, .stack = stack};
    e.v.buf = obj + 0x100;
    e.v.len = len;
    e.v.itemsize = 1;
    return e;
}

static bs_event release_ev(uint64_t view, uint64_t obj, int64_t len, int complete)
{
    bs_event e = {.kind = BS_EV_RELEASE, .view = view, .obj = obj, .slot_complete = (uint32_t)complete};
    e.v.buf = obj + 0x100;
    e.v.len = len;
    e.v.itemsize = 1; /* what export_ev filled: a faithful copy */
    e.refcnt_before = e.refcnt_after = 2;
    return e;
}

static void test_balanced_is_quiet(void)
{
    captured c = {0};
    bs_engine *e = new_engine(&opts, &c);
    for (int i = 0; i < 100; i++) {
        bs_event x = export_ev(0x1000 + (uint64_t)i * 64, 0x9000, 8, 1);
        engine_process(e, &x);
    }
    for (int i = 0; i < 100; i++) {
        bs_event r = release_ev(0x1000 + (uint64_t)i * 64, 0x9000, 8, 1);
        engine_process(e, &r);
    }
    bs_event d = {.kind = BS_EV_DEALLOC, .obj = 0x9000};
    engine_process(e, &d);
    bs_event fin = {.kind = BS_EV_FINALIZE};
    engine_process(e, &fin);
    CHECK(c.n == 0);
    CHECK(engine_live_exports(e) == 0);
    engine_free(e);
}

static void test_leaks_grouped_by_stack(void)
{
    captured c = {0};
    bs_engine *e = new_engine(&opts, &c);
    uint32_t ba = engine_intern(e, "bytearray");
    for (int i = 0; i < 3; i++) {
        bs_event x = export_ev(0x1000 + (uint64_t)i * 64, 0x9000 + (uint64_t)i * 64, 10, 7);
        x.type_name = ba;
        engine_process(e, &x);
    }
    bs_event big = export_ev(0x5000, 0xa000, 1000, 8);
    big.type_name = engine_intern(e, "bytes");
    engine_process(e, &big);
    bs_event fin = {.kind = BS_EV_FINALIZE};
    engine_process(e, &fin);
    CHECK(c.n == 2);
    /* largest first */
    CHECK(c.f[0].check == BS_CHECK_LEAKED_EXPORT);
    CHECK(c.f[0].bytes == 1000 && c.f[0].count == 1);
    CHECK(c.f[1].count == 3 && c.f[1].bytes == 30);
    CHECK_STR(c.f[1].exporter_type, "bytearray");
    CHECK_STR(c.f[1].message, "3 exports of bytearray (30 bytes) never released");
    CHECK(c.f[1].stacks[0].stack == 7);
    /* events after finalization are ignored */
    bs_event late = export_ev(0x7000, 0xb000, 1, 9);
    engine_process(e, &late);
    CHECK(c.n == 2);
    engine_free(e);
}

static void test_release_of_copy_matches(void)
{
    captured c = {0};
    bs_engine *e = new_engine(&opts, &c);
    bs_event x = export_ev(0x1000, 0x9000, 8, 1);
    x.v.internal = 0x42;
    engine_process(e, &x);
    bs_event r = release_ev(0x2000 /* a copy elsewhere */, 0x9000, 8, 1);
    r.v.internal = 0x42;
    engine_process(e, &r);
    CHECK(c.n == 0);
    CHECK(engine_live_exports(e) == 0);
    engine_free(e);
}

/* Two live exports agree with the released copy: neither is dropped (a
 * later release by address still matches), and at the end one of them is
 * taken as released by it: no leak, no release-unknown. */
static void test_release_of_ambiguous_copy(void)
{
    captured c = {0};
    bs_engine *e = new_engine(&opts, &c);
    bs_event a = export_ev(0x1000, 0x9000, 8, 1), b = export_ev(0x1100, 0x9000, 8, 2);
    engine_process(e, &a);
    engine_process(e, &b);
    bs_event r = release_ev(0x2000, 0x9000, 8, 1);
    engine_process(e, &r);
    CHECK(c.n == 0);
    CHECK(engine_live_exports(e) == 2);
    bs_event rb = release_ev(0x1100, 0x9000, 8, 1);
    engine_process(e, &rb); /* by address: b, whatever the copy was */
    CHECK(c.n == 0 && engine_live_exports(e) == 1);
    bs_event fin = {.kind = BS_EV_FINALIZE};
    engine_process(e, &fin);
    CHECK(c.n == 0);
    engine_free(e);
}

/* A copy differs from the export in a field (another request's answer, e.g.
 * a memoryview's PyBUF_FULL_RO export of the same memory): not a match. The
 * export with the same fields is the one released (bitarray copies a
 * PyBUF_SIMPLE view while a memoryview of the object is live). */
static void test_release_of_copy_needs_agreeing_fields(void)
{
    captured c = {0};
    bs_engine *e = new_engine(&opts, &c);
    bs_event mv = export_ev(0x1000, 0x9000, 8, 1);
    mv.v.format = 0x777;
    mv.v.shape = 0x1010;
    mv.v.ndim = 1;
    engine_process(e, &mv);
    bs_event simple = export_ev(0x1100, 0x9000, 8, 2);
    engine_process(e, &simple);
    bs_event r = release_ev(0x2000, 0x9000, 8, 1);
    engine_process(e, &r);
    CHECK(c.n == 0 && engine_live_exports(e) == 1);
    CHECK(engine_has_live_view(e, 0x1000, 0x9000));
    engine_free(e);
}

/* Where the type's releases are not all seen (no wrapped release slot), a
 * release of an unknown view may be that of an export bufsan never saw
 * (zstandard parses a bytes with "y*" while its iterator holds a tracked
 * export of it): the tracked export stays live, and is released later by
 * its own address with no finding. */
static void test_unseen_export_release_drops_nothing(void)
{
    captured c = {0};
    bs_engine *e = new_engine(&opts, &c);
    bs_event held = export_ev(0x1000, 0x9000, 8, 1);
    engine_process(e, &held);
    bs_event r = release_ev(0x2000, 0x9000, 8, 0);
    engine_process(e, &r);
    CHECK(c.n == 0 && engine_live_exports(e) == 1);
    bs_event own = release_ev(0x1000, 0x9000, 8, 0);
    engine_process(e, &own);
    CHECK(c.n == 0 && engine_live_exports(e) == 0);
    /* and if the holder never releases it, the unmatched release that agreed
     * with it then is no evidence of anything: at the exporter's
     * deallocation one agreeing unmatched release still pairs with it */
    bs_event h2 = export_ev(0x1200, 0x9000, 8, 3);
    engine_process(e, &h2);
    bs_event r2 = release_ev(0x2200, 0x9000, 8, 0);
    engine_process(e, &r2);
    bs_event d = {.kind = BS_EV_DEALLOC, .obj = 0x9000};
    engine_process(e, &d);
    CHECK(c.n == 0 && engine_live_exports(e) == 0);
    engine_free(e);
}

static void test_double_release(void)
{
    captured c = {0};
    bs_engine *e = new_engine(&opts, &c);
    bs_event x = export_ev(0x1000, 0x9000, 8, 1);
    engine_process(e, &x);
    bs_event r = release_ev(0x1000, 0x9000, 8, 1);
    r.stack = 2;
    engine_process(e, &r);
    bs_event r2 = release_ev(0x3000, 0x9000, 8, 1);
    r2.stack = 3;
    engine_process(e, &r2);
    CHECK(c.n == 1);
    CHECK(c.f[0].check == BS_CHECK_RELEASE_UNKNOWN);
    CHECK(c.f[0].nstacks == 3);
    CHECK_STR(c.f[0].stacks[0].role, "release");
    CHECK(c.f[0].stacks[0].stack == 3);
    CHECK_STR(c.f[0].stacks[1].role, "earlier-release");
    CHECK(c.f[0].stacks[1].stack == 2);
    CHECK_STR(c.f[0].stacks[2].role, "acquire");
    CHECK(c.f[0].stacks[2].stack == 1);
    engine_free(e);
}

static void test_unmatched_release_needs_complete_slot(void)
{
    captured c = {0};
    bs_engine *e = new_engine(&opts, &c);
    /* seen only at a call site (no release slot): no evidence */
    bs_event r = release_ev(0x1000, 0x9000, 8, 0);
    engine_process(e, &r);
    CHECK(c.n == 0);
    /* same after a tracked export was released through the same view */
    bs_event x = export_ev(0x1000, 0x9000, 8, 1);
    engine_process(e, &x);
    engine_process(e, &r);
    engine_process(e, &r);
    CHECK(c.n == 0);
    /* through a wrapped slot every export is seen: a bug */
    bs_event rs = release_ev(0x5000, 0xa000, 8, 1);
    engine_process(e, &rs);
    CHECK(c.n == 1 && c.f[0].check == BS_CHECK_RELEASE_UNKNOWN);
    engine_free(e);
}

static void test_release_decrefs_obj(void)
{
    captured c = {0};
    bs_engine *e = new_engine(&opts, &c);
    bs_event x = export_ev(0x1000, 0x9000, 8, 1);
    engine_process(e, &x);
    bs_event r = release_ev(0x1000, 0x9000, 8, 1);
    r.refcnt_before = 3;
    r.refcnt_after = 2;
    engine_process(e, &r);
    CHECK(c.n == 1 && c.f[0].check == BS_CHECK_RELEASE_DECREFS_OBJ);
    CHECK(engine_live_exports(e) == 0);
    /* an increment is not this check's business */
    engine_process(e, &x);
    r.refcnt_after = 4;
    engine_process(e, &r);
    CHECK(c.n == 1);
    engine_free(e);
}

static void test_exporter_freed_while_exported(void)
{
    captured c = {0};
    bs_engine *e = new_engine(&opts, &c);
    bs_event x = export_ev(0x1000, 0x9000, 8, 1);
    engine_process(e, &x);
    bs_event x2 = export_ev(0x1040, 0x9000, 8, 1);
    engine_process(e, &x2);
    bs_event d = {.kind = BS_EV_DEALLOC, .obj = 0x9000, .stack = 5};
    engine_process(e, &d);
    CHECK(c.n == 1);
    CHECK(c.f[0].check == BS_CHECK_EXPORTER_FREED_WHILE_EXPORTED);
    CHECK(c.f[0].count == 2 && c.f[0].bytes == 16);
    CHECK_STR(c.f[0].stacks[0].role, "dealloc");
    CHECK(c.f[0].stacks[0].stack == 5);
    /* the exports died with it: no leak reported on top */
    bs_event fin = {.kind = BS_EV_FINALIZE};
    engine_process(e, &fin);
    CHECK(c.n == 1);
    engine_free(e);
}

static void test_address_reuse_forgets_tombstones(void)
{
    captured c = {0};
    bs_engine *e = new_engine(&opts, &c);
    bs_event x = export_ev(0x1000, 0x9000, 8, 1);
    engine_process(e, &x);
    bs_event r = release_ev(0x1000, 0x9000, 8, 1);
    engine_process(e, &r);
    bs_event d = {.kind = BS_EV_DEALLOC, .obj = 0x9000};
    engine_process(e, &d);
    /* the old export is no evidence about a new object at that address */
    engine_process(e, &r);
    CHECK(c.n == 1 && c.f[0].check == BS_CHECK_RELEASE_UNKNOWN);
    CHECK(c.f[0].nstacks == 1);
    engine_free(e);
}

/* The tombstone ring wraps over entries of exporters that died and of ones
 * still alive (ASan: no entry may outlive its exporter's record); a double
 * release is recognised while its tombstone is in the ring, not after. */
static void test_tombstone_ring_wraps(void)
{
    captured c = {0};
    bs_engine *e = new_engine(&opts, &c);
    bs_event x = export_ev(0x1000, 0x9000, 8, 1);
    bs_event r = release_ev(0x1000, 0x9000, 8, 1);
    engine_process(e, &x);
    engine_process(e, &r); /* 0x9000's tombstone, overwritten below */
    for (uint64_t i = 0; i < 10000; i++) {
        uint64_t obj = 0x100000 + (i % 64) * 0x1000;
        bs_event xi = export_ev(0x2000, obj, 8, 1);
        bs_event ri = release_ev(0x2000, obj, 8, 1);
        engine_process(e, &xi);
        engine_process(e, &ri);
        if (i % 3 == 0) {
            bs_event d = {.kind = BS_EV_DEALLOC, .obj = obj};
            engine_process(e, &d);
        }
    }
    CHECK(c.n == 0);
    bs_event again = release_ev(0x2000, 0x100000 + 63 * 0x1000, 8, 1); /* last i = 9983: alive */
    engine_process(e, &again);
    CHECK(c.n == 1 && c.f[0].check == BS_CHECK_RELEASE_UNKNOWN && c.f[0].nstacks == 3);
    engine_process(e, &r); /* its tombstone is gone: no longer known as a double release */
    CHECK(c.n == 2 && c.f[1].check == BS_CHECK_RELEASE_UNKNOWN && c.f[1].nstacks == 1);
    engine_free(e);
}

static void test_refilled_view_keeps_old_export_as_leak(void)
{
    captured c = {0};
    bs_engine *e = new_engine(&opts, &c);
    bs_event a = export_ev(0x1000, 0x9000, 8, 1);
    engine_process(e, &a);
    bs_event b = export_ev(0x1000, 0xa000, 4, 2); /* same Py_buffer filled again */
    engine_process(e, &b);
    bs_event r = release_ev(0x1000, 0xa000, 4, 1);
    engine_process(e, &r);
    bs_event fin = {.kind = BS_EV_FINALIZE};
    engine_process(e, &fin);
    CHECK(c.n == 1 && c.f[0].check == BS_CHECK_LEAKED_EXPORT && c.f[0].bytes == 8);
    engine_free(e);
}

static void test_disabled_check_is_silent(void)
{
    captured c = {0};
    bs_options o;
    char err[256];
    bs_options_defaults(&o);
    CHECK(bs_options_parse(&o, "checks=-leaked-export", "test", err, sizeof err) == 0);
    bs_engine *e = new_engine(&o, &c);
    bs_event x = export_ev(0x1000, 0x9000, 8, 1);
    engine_process(e, &x);
    bs_event fin = {.kind = BS_EV_FINALIZE};
    engine_process(e, &fin);
    CHECK(c.n == 0);
    engine_free(e);
    bs_options_free(&o);
}

static void test_fork_child_does_not_report_inherited(void)
{
    captured c = {0};
    bs_engine *e = new_engine(&opts, &c);
    bs_event a = export_ev(0x1000, 0x9000, 8, 1);
    engine_process(e, &a);
    bs_event b = export_ev(0x2000, 0xa000, 8, 1);
    engine_process(e, &b);
    engine_after_fork_child(e);
    bs_event r = release_ev(0x2000, 0xa000, 8, 1); /* the child may release them */
    engine_process(e, &r);
    bs_event own = export_ev(0x3000, 0xb000, 5, 2);   /* and leak its own */
    engine_process(e, &own);
    bs_event fin = {.kind = BS_EV_FINALIZE};
    engine_process(e, &fin);
    CHECK(c.n == 1 && c.f[0].check == BS_CHECK_LEAKED_EXPORT && c.f[0].bytes == 5);
    engine_free(e);
}

static void test_flag_names(void)
{
    char b[256];
    bs_flag_names(0, b, sizeof b);
    CHECK_STR(b, "PyBUF_SIMPLE");
    bs_flag_names(0x11c, b, sizeof b);
    CHECK_STR(b, "PyBUF_FULL_RO");
    bs_flag_names(0x1, b, sizeof b);
    CHECK_STR(b, "PyBUF_WRITABLE");
    bs_flag_names(0x38 | 0x4, b, sizeof b);
    CHECK_STR(b, "PyBUF_C_CONTIGUOUS|PyBUF_FORMAT");
    bs_flag_names(0x8 | 0x4000, b, sizeof b);
    CHECK_STR(b, "PyBUF_ND|0x4000");
}

/* Py_FinalizeEx then Py_Initialize again (issue 14, defect 4): the first
 * lifetime's leak is reported once, its records go, and the second
 * lifetime is checked on its own, its findings marked with it. */
static void test_second_lifetime(void)
{
    captured c = {0};
    bs_engine *e = new_engine(&opts, &c);
    uint32_t ba = engine_intern(e, "bytearray");
    bs_event x = export_ev(0x1000, 0x9000, 10, 7);
    x.type_name = ba;
    engine_process(e, &x);
    bs_event fin = {.kind = BS_EV_FINALIZE};
    engine_process(e, &fin);
    CHECK(c.n == 1);
    CHECK_STR(c.f[0].message, "1 export of bytearray (10 bytes) never released");
    bs_event next = {.kind = BS_EV_LIFETIME};
    engine_process(e, &next);
    CHECK(engine_live_exports(e) == 0);
    CHECK(!engine_has_exporter(e, 0x9000));
    /* the same view and object addresses, reused: a new export, balanced */
    engine_process(e, &x);
    bs_event r = release_ev(0x1000, 0x9000, 10, 1);
    engine_process(e, &r);
    CHECK(c.n == 1);
    bs_event y = export_ev(0x2000, 0xa000, 4, 8);
    y.type_name = ba;
    engine_process(e, &y);
    engine_process(e, &fin);
    CHECK(c.n == 2);
    CHECK_STR(c.f[1].message,
              "1 export of bytearray (4 bytes) never released (interpreter lifetime 2)");
    CHECK(c.f[1].stacks[0].stack == 8);
    engine_free(e);
}

/* Every test, with the registry as it is configured now. */
static void all_tests(void)
{
    test_balanced_is_quiet();
    test_leaks_grouped_by_stack();
    test_release_of_copy_matches();
    test_release_of_ambiguous_copy();
    test_release_of_copy_needs_agreeing_fields();
    test_unseen_export_release_drops_nothing();
    test_double_release();
    test_unmatched_release_needs_complete_slot();
    test_release_decrefs_obj();
    test_exporter_freed_while_exported();
    test_address_reuse_forgets_tombstones();
    if (!sharded)
        test_tombstone_ring_wraps(); /* the ring of one registry */
    test_refilled_view_keeps_old_export_as_leak();
    test_disabled_check_is_silent();
    test_fork_child_does_not_report_inherited();
    test_second_lifetime();
    test_flag_names();
}

int main(void)
{
    bs_options_defaults(&opts);
    all_tests();
    sharded = 1;
    all_tests();
    bs_options_free(&opts);
    return checks_report();
}
