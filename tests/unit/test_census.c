/* The exporter census fed with synthetic events: two readers of one
 * read-only exporter (an EXCLUSIVE refusal), a reader whose bytes change
 * under it (not IMMUTABLE-ready), an exporter whose readonly answer flips,
 * read-only holds with no hash at one end (unknown), the sub-rows per
 * acquiring stack, several engines (traces) into one census, and the counts
 * restarting in a forked child. */
#include <stdlib.h>
#include <string.h>

#include "../../src/engine/census.h"
#include "../../src/engine/engine.h"
#include "check.h"

#define W 0x1 /* PyBUF_WRITABLE */

static void sink(const bs_finding *f, void *ctx)
{
    (void)f;
    (void)ctx;
}

static bs_options opts_default(void)
{
    bs_options o;
    bs_options_defaults(&o);
    return o;
}

static bs_event exp_ev(uint64_t view, uint64_t obj, uint32_t type, int32_t flags, int ro,
                       uint32_t stack, int hashed, uint64_t h)
{
    bs_event e = {.kind = BS_EV_EXPORT, .view = view, .obj = obj, .flags = flags, .stack = stack,
                  .type_name = type, .hashed = (uint32_t)hashed, .hash = h};
    e.v.buf = obj + 0x100;
    e.v.len = 64;
    e.v.itemsize = 1;
    e.v.readonly = ro;
    return e;
}

static bs_event rel_ev(uint64_t view, uint64_t obj, int hashed, uint64_t h)
{
    bs_event e = {.kind = BS_EV_RELEASE, .view = view, .obj = obj, .slot_complete = 1,
                  .hashed = (uint32_t)hashed, .hash = h, .stack = 90};
    e.v.buf = obj + 0x100;
    e.v.len = 64;
    e.refcnt_before = e.refcnt_after = 2;
    return e;
}

static bs_event obs_ev(uint64_t view, uint64_t obj, uint32_t point, uint64_t h, uint32_t stack)
{
    bs_event e = {.kind = BS_EV_OBSERVE, .view = view, .obj = obj, .hashed = 1, .hash = h,
                  .observe_point = point, .stack = stack};
    e.v.buf = obj + 0x100;
    e.v.len = 64;
    return e;
}

static const census_type *type_named(const bs_census *c, const char *name)
{
    for (size_t i = 0; i < c->ntypes; i++)
        if (!strcmp(c->types[i].name, name))
            return &c->types[i];
    return NULL;
}

static const census_site *site_with(const bs_census *c, const char *type, uint32_t stack)
{
    for (size_t i = 0; i < c->nsites; i++)
        if (c->sites[i].stack == stack && !strcmp(c->types[c->sites[i].type].name, type))
            return &c->sites[i];
    return NULL;
}

static void test_known_program(void)
{
    bs_options o = opts_default();
    bs_census *c = census_new(o.hash_limit, o.hash_full);
    bs_engine *e = engine_new(&o, sink, NULL);
    engine_set_census(e, c);
    uint32_t tb = engine_intern(e, "bytes"), tba = engine_intern(e, "bytearray"),
             tnp = engine_intern(e, "numpy.ndarray");

    /* bytes read by two holders at once */
    bs_event ev = exp_ev(0x10, 0x1000, tb, 0, 1, 1, 1, 7);
    engine_process(e, &ev);
    ev = exp_ev(0x20, 0x1000, tb, 0, 1, 2, 1, 7);
    engine_process(e, &ev);
    ev = rel_ev(0x20, 0x1000, 1, 7);
    engine_process(e, &ev);
    ev = rel_ev(0x10, 0x1000, 1, 7);
    engine_process(e, &ev);

    /* bytearray mutated while a reader holds it: seen around the slot */
    ev = exp_ev(0x30, 0x2000, tba, 0, 0, 3, 1, 11);
    engine_process(e, &ev);
    ev = obs_ev(0x30, 0x2000, BS_OBS_WRITE_BEFORE, 11, 4);
    engine_process(e, &ev);
    ev = obs_ev(0x30, 0x2000, BS_OBS_WRITE_AFTER, 12, 4);
    engine_process(e, &ev);
    ev = rel_ev(0x30, 0x2000, 1, 12);
    engine_process(e, &ev);
    /* and a writer of it */
    ev = exp_ev(0x31, 0x2000, tba, W, 0, 5, 0, 0);
    engine_process(e, &ev);
    ev = rel_ev(0x31, 0x2000, 0, 0);
    engine_process(e, &ev);

    /* a numpy array flipping writeable between two holds */
    ev = exp_ev(0x40, 0x3000, tnp, 0, 0, 6, 1, 5);
    engine_process(e, &ev);
    ev = rel_ev(0x40, 0x3000, 1, 5);
    engine_process(e, &ev);
    ev = exp_ev(0x41, 0x3000, tnp, 0, 1, 7, 1, 5);
    engine_process(e, &ev);
    ev = rel_ev(0x41, 0x3000, 1, 5);
    engine_process(e, &ev);
    engine_census_flush(e);

    const census_type *b = type_named(c, "bytes");
    CHECK(b && b->n.exports == 2 && b->n.max_holders == 2 && b->n.readers == 2 &&
          b->n.writers == 0 && b->n.mutated == 0 && b->n.refusals == 1 && b->n.unknown == 0);
    char buf[64];
    census_immutable_ready(&b->n, buf, sizeof buf);
    CHECK_STR(buf, "yes");
    CHECK_STR(census_answers(&b->n), "ro");
    CHECK(b->ev[CENSUS_EV_REFUSAL].acquire == 2 && b->ev[CENSUS_EV_REFUSAL].other == 1);
    const census_site *s1 = site_with(c, "bytes", 1), *s2 = site_with(c, "bytes", 2);
    CHECK(s1 && s1->n.exports == 1 && s1->n.refusals == 0 && s1->n.max_holders == 1);
    CHECK(s2 && s2->n.exports == 1 && s2->n.refusals == 1 && s2->n.max_holders == 2);

    const census_type *ba = type_named(c, "bytearray");
    CHECK(ba && ba->n.exports == 2 && ba->n.readers == 1 && ba->n.writers == 1 &&
          ba->n.mutated == 1 && ba->n.refusals == 0 && ba->n.max_holders == 1);
    census_immutable_ready(&ba->n, buf, sizeof buf);
    CHECK_STR(buf, "no (1)");
    CHECK_STR(census_answers(&ba->n), "rw");
    CHECK(ba->ev[CENSUS_EV_MUTATED].acquire == 3 && ba->ev[CENSUS_EV_MUTATED].other == 4);
    const census_site *s3 = site_with(c, "bytearray", 3), *s5 = site_with(c, "bytearray", 5);
    CHECK(s3 && s3->n.mutated == 1 && s3->n.readers == 1);
    CHECK(s5 && s5->n.mutated == 0 && s5->n.writers == 1);

    const census_type *np = type_named(c, "numpy.ndarray");
    CHECK(np && np->n.exports == 2 && np->n.ro == 1 && np->n.rw == 1 && np->n.flipped);
    CHECK_STR(census_answers(&np->n), "ro+rw (flags)");
    census_immutable_ready(&np->n, buf, sizeof buf);
    CHECK_STR(buf, "no (rw)");
    CHECK(np->ev[CENSUS_EV_RW].acquire == 6);

    engine_free(e);
    census_free(c);
    bs_options_free(&o);
}

/* A read-only hold with no hash at its release, and one never released but
 * observed at the exporter's deallocation: unknown, then known. */
static void test_unknown(void)
{
    bs_options o = opts_default();
    bs_census *c = census_new(o.hash_limit, o.hash_full);
    bs_engine *e = engine_new(&o, sink, NULL);
    engine_set_census(e, c);
    uint32_t t = engine_intern(e, "bytes");
    bs_event ev = exp_ev(0x10, 0x1000, t, 0, 1, 1, 1, 9);
    engine_process(e, &ev);
    ev = rel_ev(0x10, 0x1000, 0, 0); /* not hashed */
    engine_process(e, &ev);
    ev = exp_ev(0x20, 0x5000, t, 0, 1, 2, 1, 9);
    engine_process(e, &ev);
    ev = obs_ev(0x20, 0x5000, BS_OBS_DEALLOC, 9, 3);
    engine_process(e, &ev);
    ev = (bs_event){.kind = BS_EV_DEALLOC, .obj = 0x5000};
    engine_process(e, &ev);
    engine_census_flush(e);
    const census_type *b = type_named(c, "bytes");
    CHECK(b && b->n.exports == 2 && b->n.unknown == 1 && b->n.mutated == 0);
    char buf[64];
    census_immutable_ready(&b->n, buf, sizeof buf);
    CHECK_STR(buf, "unknown (1)");
    CHECK(b->ev[CENSUS_EV_UNKNOWN].acquire == 1);
    engine_free(e);
    census_free(c);
    bs_options_free(&o);
}

/* Two engines (two traces) into one census: type names are matched by
 * name, not by the engines' ids; a flush twice counts nothing twice. */
static void test_two_traces_and_fork(void)
{
    bs_options o = opts_default();
    bs_census *c = census_new(o.hash_limit, o.hash_full);
    for (int k = 0; k < 2; k++) {
        bs_engine *e = engine_new(&o, sink, NULL);
        engine_set_census(e, c);
        if (k)
            engine_intern(e, "padding type"); /* other ids in the second engine */
        uint32_t t = engine_intern(e, "bytes");
        bs_event ev = exp_ev(0x10, 0x1000, t, 0, 1, 1, 1, 9);
        engine_process(e, &ev);
        engine_census_flush(e); /* still live: never released, hashed once */
        engine_census_flush(e);
        engine_free(e);
    }
    const census_type *b = type_named(c, "bytes");
    CHECK(c->ntypes == 1 && b && b->n.exports == 2 && b->n.unknown == 2);
    CHECK(c->nsites == 1 && c->sites[0].n.exports == 2);

    bs_engine *e = engine_new(&o, sink, NULL);
    engine_set_census(e, c);
    uint32_t t = engine_intern(e, "bytes");
    bs_event ev = exp_ev(0x10, 0x1000, t, 0, 1, 1, 1, 9);
    engine_process(e, &ev);
    engine_after_fork_child(e);
    engine_census_after_fork_child(e);
    ev = rel_ev(0x10, 0x1000, 1, 10); /* changed, but the parent's hold */
    engine_process(e, &ev);
    engine_census_flush(e);
    CHECK(b->n.exports == 0 && b->n.mutated == 0 && b->n.unknown == 0);
    engine_free(e);
    census_free(c);
    bs_options_free(&o);
}

int main(void)
{
    test_known_program();
    test_unknown();
    test_two_traces_and_fork();
    return checks_report();
}
