/* The getbuffer conformance checker and the view rules: each rule on a
 * hand-made view, the struct-module item sizes, contiguity as
 * PyBuffer_IsContiguous decides it, the engine's findings for
 * BS_EV_BUFFER_CALL and consumer-modified-view, and a randomized run of
 * 10^6+ generated views (garbage: wild pointers, pointers running into an
 * unmapped page, ndim of 1000, negative lengths) through the guarded
 * snapshot and the checker, which must never crash, and must find nothing
 * in the well-formed ones. */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../src/common/safe_read.h"
#include "../../src/engine/engine.h"
#include "../../src/engine/view_check.h"
#include "check.h"

#define F_FORMAT BS_PYBUF_FORMAT
#define F_ND BS_PYBUF_ND
#define F_STRIDES BS_PYBUF_STRIDES
#define F_FULL_RO (BS_PYBUF_INDIRECT | BS_PYBUF_FORMAT)

static uint64_t P(const void *p) { return (uint64_t)(uintptr_t)p; }

/* Checks a view given as fields; returns a bitmask of the checks found. */
static uint64_t check_view(const bs_view_fields *f, int32_t flags)
{
    bs_view_snapshot s;
    view_snapshot_fill(&s, f, flags, safe_read, NULL);
    bs_view_violation v[BS_VIEW_MAX_VIOLATIONS];
    int n = view_check_export(&s, v, BS_VIEW_MAX_VIOLATIONS);
    uint64_t mask = 0;
    for (int i = 0; i < n; i++)
        mask |= 1ull << v[i].check;
    return mask;
}

#define BIT(id) (1ull << BS_CHECK_##id)

static char data[64];
static int64_t len8 = 8, one = 1;

/* PyBuffer_FillInfo's answer for 8 bytes to FLAGS. */
static bs_view_fields fillinfo(int32_t flags)
{
    bs_view_fields f = {.buf = P(data), .len = 8, .itemsize = 1, .ndim = 1};
    f.format = (flags & F_FORMAT) ? P("B") : 0;
    f.shape = (flags & F_ND) == F_ND ? P(&len8) : 0;
    f.strides = (flags & F_STRIDES) == F_STRIDES ? P(&one) : 0;
    return f;
}

static void test_fillinfo_is_clean_for_every_request(void)
{
    for (int32_t flags = 0; flags < 0x200; flags++) {
        bs_view_fields f = fillinfo(flags);
        CHECK(check_view(&f, flags) == 0);
    }
}

static void test_each_rule(void)
{
    bs_view_fields f = fillinfo(0);
    f.format = P("B");
    CHECK(check_view(&f, 0) == BIT(FIELD_NOT_REQUESTED));
    f = fillinfo(0);
    f.shape = P(&len8);
    CHECK(check_view(&f, 0) == BIT(FIELD_NOT_REQUESTED));
    f = fillinfo(F_ND);
    f.strides = P(&one);
    CHECK(check_view(&f, F_ND) == BIT(FIELD_NOT_REQUESTED));
    int64_t sub = 0;
    f = fillinfo(F_STRIDES);
    f.suboffsets = P(&sub);
    CHECK(check_view(&f, F_STRIDES) & BIT(FIELD_NOT_REQUESTED));

    f = fillinfo(F_FORMAT);
    f.format = 0;
    CHECK(check_view(&f, F_FORMAT) == BIT(FIELD_MISSING));
    f = fillinfo(F_ND);
    f.shape = 0;
    CHECK(check_view(&f, F_ND) == BIT(FIELD_MISSING));
    f = fillinfo(F_STRIDES);
    f.strides = 0;
    CHECK(check_view(&f, F_STRIDES) == BIT(FIELD_MISSING));
    /* ndim 0: a scalar needs neither */
    f = (bs_view_fields){.buf = P(data), .len = 8, .itemsize = 8, .ndim = 0, .format = P("d")};
    CHECK(check_view(&f, F_FULL_RO) == 0);

    /* bad-view-fields */
    f = fillinfo(F_ND);
    f.len = 7;
    CHECK(check_view(&f, F_ND) == BIT(BAD_VIEW_FIELDS));
    f = fillinfo(0);
    f.itemsize = 0;
    CHECK(check_view(&f, 0) == BIT(BAD_VIEW_FIELDS));
    f = fillinfo(0);
    f.len = -1;
    CHECK(check_view(&f, 0) == BIT(BAD_VIEW_FIELDS));
    f = fillinfo(0);
    f.buf = 0;
    CHECK(check_view(&f, 0) == BIT(BAD_VIEW_FIELDS));
    f.len = 0;
    CHECK(check_view(&f, 0) == 0);
    f = fillinfo(F_ND);
    f.ndim = 1000;
    CHECK(check_view(&f, F_ND) == BIT(BAD_VIEW_FIELDS));
    f.ndim = -3;
    CHECK(check_view(&f, F_ND) == BIT(BAD_VIEW_FIELDS));
    f = fillinfo(F_FORMAT);
    f.format = P("i");
    CHECK(check_view(&f, F_FORMAT) == BIT(BAD_VIEW_FIELDS));
    f.format = 0x18; /* wild */
    CHECK(check_view(&f, F_FORMAT) == BIT(BAD_VIEW_FIELDS));
    f = fillinfo(F_ND);
    f.ndim = 3;
    f.shape = 0x10; /* NULL-ish shape with ndim 3 */
    CHECK(check_view(&f, F_ND) == BIT(BAD_VIEW_FIELDS));
    int64_t neg[2] = {-2, -4};
    f = fillinfo(F_ND);
    f.shape = P(neg);
    CHECK(check_view(&f, F_ND) == BIT(BAD_VIEW_FIELDS));
    int64_t subs[1] = {-1};
    f = fillinfo(BS_PYBUF_INDIRECT);
    f.suboffsets = P(subs);
    CHECK(check_view(&f, BS_PYBUF_INDIRECT) == BIT(BAD_VIEW_FIELDS));
    subs[0] = 0;
    CHECK(check_view(&f, BS_PYBUF_INDIRECT) == 0);

    /* not-contiguous: every second byte */
    int64_t shape4 = 4, stride2 = 2;
    f = (bs_view_fields){.buf = P(data), .len = 4, .itemsize = 1, .ndim = 1, .shape = P(&shape4),
                         .strides = P(&stride2)};
    CHECK(check_view(&f, BS_PYBUF_C_CONTIGUOUS) == BIT(NOT_CONTIGUOUS));
    CHECK(check_view(&f, BS_PYBUF_F_CONTIGUOUS) == BIT(NOT_CONTIGUOUS));
    CHECK(check_view(&f, BS_PYBUF_ANY_CONTIGUOUS) == BIT(NOT_CONTIGUOUS));
    CHECK(check_view(&f, F_STRIDES) == 0);
    CHECK(check_view(&f, F_ND) == (BIT(NOT_CONTIGUOUS) | BIT(FIELD_NOT_REQUESTED)));
    /* Fortran order 2x3 of int32: F yes, C no, ANY yes */
    int64_t sh[2] = {2, 3}, stf[2] = {4, 8}, stc[2] = {12, 4};
    f = (bs_view_fields){.buf = P(data), .len = 24, .itemsize = 4, .ndim = 2, .shape = P(sh),
                         .strides = P(stf), .format = P("i")};
    CHECK(check_view(&f, BS_PYBUF_F_CONTIGUOUS | F_FORMAT) == 0);
    CHECK(check_view(&f, BS_PYBUF_ANY_CONTIGUOUS | F_FORMAT) == 0);
    CHECK(check_view(&f, BS_PYBUF_C_CONTIGUOUS | F_FORMAT) == BIT(NOT_CONTIGUOUS));
    f.strides = P(stc);
    CHECK(check_view(&f, BS_PYBUF_C_CONTIGUOUS | F_FORMAT) == 0);
    CHECK(check_view(&f, BS_PYBUF_F_CONTIGUOUS | F_FORMAT) == BIT(NOT_CONTIGUOUS));
    /* len 0 is contiguous whatever the strides say */
    int64_t sh0[2] = {0, 3};
    f.shape = P(sh0);
    f.len = 0;
    f.strides = P(stf);
    CHECK(check_view(&f, BS_PYBUF_C_CONTIGUOUS | F_FORMAT) == 0);
}

/* One violation per check per answer, naming every field that breaks it. */
static void test_every_field_in_one_violation(void)
{
    bs_view_snapshot s;
    bs_view_violation v[BS_VIEW_MAX_VIOLATIONS];
    /* an exporter that ignores the request: format and strides under PyBUF_ND */
    bs_view_fields f = fillinfo(F_STRIDES | F_FORMAT);
    view_snapshot_fill(&s, &f, F_ND, safe_read, NULL);
    int n = view_check_export(&s, v, BS_VIEW_MAX_VIOLATIONS);
    CHECK(n == 1 && v[0].check == BS_CHECK_FIELD_NOT_REQUESTED);
    CHECK(n == 1 && v[0].fields == (BS_FIELD_FORMAT | BS_FIELD_STRIDES));
    CHECK_STR(v[0].detail, "format (\"B\") and strides are set, which the request did not ask "
                           "for (it lacks PyBUF_FORMAT and PyBUF_STRIDES)");
    /* an exporter that fills nothing: format, shape and strides missing */
    f = fillinfo(0);
    view_snapshot_fill(&s, &f, F_FULL_RO, safe_read, NULL);
    n = view_check_export(&s, v, BS_VIEW_MAX_VIOLATIONS);
    CHECK(n == 1 && v[0].check == BS_CHECK_FIELD_MISSING);
    CHECK(n == 1 && v[0].fields == (BS_FIELD_FORMAT | BS_FIELD_SHAPE | BS_FIELD_STRIDES));
    CHECK_STR(v[0].detail, "format, shape and strides are NULL under PyBUF_FORMAT, PyBUF_ND and "
                           "PyBUF_STRIDES with ndim=1");
    /* two geometry problems, one violation */
    f = fillinfo(0);
    f.itemsize = 0;
    f.buf = 0;
    view_snapshot_fill(&s, &f, 0, safe_read, NULL);
    n = view_check_export(&s, v, BS_VIEW_MAX_VIOLATIONS);
    CHECK(n == 1 && v[0].check == BS_CHECK_BAD_VIEW_FIELDS);
    CHECK(n == 1 && v[0].fields == (BS_FIELD_ITEMSIZE | BS_FIELD_BUF));
    CHECK_STR(v[0].detail, "itemsize=0 is not positive; buf is NULL with len=8");
    /* len against shape and a format of the wrong size */
    f = fillinfo(F_ND | F_FORMAT);
    f.len = 7;
    f.format = P("i");
    view_snapshot_fill(&s, &f, F_ND | F_FORMAT, safe_read, NULL);
    n = view_check_export(&s, v, BS_VIEW_MAX_VIOLATIONS);
    CHECK(n == 1 && v[0].fields == (BS_FIELD_LEN | BS_FIELD_FORMAT));
    CHECK(strstr(v[0].detail, "len=7") && strstr(v[0].detail, "format \"i\" has item size 4"));
    CHECK(strcmp(view_field_name(6), "strides") == 0);
}

static void test_format_itemsize(void)
{
    /* struct.calcsize on x86-64 */
    static const struct { const char *fmt; int64_t size; } cases[] = {
        {"B", 1}, {"b", 1}, {"?", 1}, {"c", 1}, {"h", 2}, {"e", 2}, {"i", 4}, {"f", 4},
        {"l", 8}, {"q", 8}, {"d", 8}, {"P", 8}, {"n", 8}, {"<l", 4}, {"=L", 4}, {">q", 8},
        {"!h", 2}, {"@ci", 8}, {"ic", 5}, {"bQ", 16}, {"<bQ", 9}, {"3s", 3}, {"10p", 10},
        {"2d", 16}, {"x", 1}, {"xi", 8}, {"=xi", 5}, {"", 0}, {"0i", 0}, {"b0i", 4},
        {"i i", 8}, {"5x3h", 12},
        {"T{<i:a:}", -1}, {"Zd", -1}, {"O", -1}, {"<n", -1}, {"3", -2}, {"w", -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t got = view_format_itemsize(cases[i].fmt);
        if (got != cases[i].size)
            fprintf(stderr, "format \"%s\": %lld, expected %lld\n", cases[i].fmt, (long long)got,
                    (long long)cases[i].size);
        CHECK(got == cases[i].size);
    }
}

/* ---- engine rules ----------------------------------------------------- */

typedef struct {
    int n;
    bs_check_id checks[16];
    uint32_t fields[16];
    char message[512];
} captured;

static void sink(const bs_finding *f, void *ctx)
{
    captured *c = ctx;
    if (c->n < 16) {
        c->checks[c->n] = f->check;
        c->fields[c->n] = f->fields;
    }
    snprintf(c->message, sizeof c->message, "%s", f->message);
    c->n++;
}

static bs_options opts;

static void test_call_rules(void)
{
    captured c = {0};
    bs_engine *e = engine_new(&opts, sink, &c);
    bs_event ev = {.kind = BS_EV_BUFFER_CALL, .obj = 0x9000, .view = 0x1000};
    ev.rc = -1;
    ev.call = BS_CALL_EXC_KNOWN | BS_CALL_EXC_AFTER | BS_CALL_OBJ_WRITTEN;
    ev.view_obj = 0x9000;
    engine_process(e, &ev);
    CHECK(c.n == 1 && c.checks[0] == BS_CHECK_ERROR_LEFT_OBJ);
    c.n = 0;
    ev.call = BS_CALL_EXC_KNOWN; /* no exception, obj left untouched (garbage from before) */
    ev.view_obj = 0x4242;
    engine_process(e, &ev);
    CHECK(c.n == 1 && c.checks[0] == BS_CHECK_ERROR_WITHOUT_EXCEPTION);
    c.n = 0;
    ev.call = 0; /* exception state unknown (one was pending before the call) */
    engine_process(e, &ev);
    CHECK(c.n == 0);
    ev.rc = 0;
    ev.call = BS_CALL_EXC_KNOWN | BS_CALL_EXC_AFTER | BS_CALL_OBJ_IS_SELF | BS_CALL_OBJ_REF_GAINED;
    ev.view_obj = 0x9000;
    engine_process(e, &ev);
    CHECK(c.n == 1 && c.checks[0] == BS_CHECK_SUCCESS_WITH_EXCEPTION);
    c.n = 0;
    ev.rc = 1;
    ev.call = BS_CALL_EXC_KNOWN | BS_CALL_EXC_AFTER;
    engine_process(e, &ev);
    CHECK(c.n == 1 && c.checks[0] == BS_CHECK_SUCCESS_WITH_EXCEPTION);
    c.n = 0;
    ev.rc = 0;
    ev.call = BS_CALL_EXC_KNOWN | BS_CALL_OBJ_IS_SELF; /* no new reference */
    engine_process(e, &ev);
    CHECK(c.n == 1 && c.checks[0] == BS_CHECK_BAD_VIEW_OBJ);
    c.n = 0;
    ev.view_obj = 0;
    ev.call = BS_CALL_EXC_KNOWN;
    engine_process(e, &ev);
    CHECK(c.n == 1 && c.checks[0] == BS_CHECK_BAD_VIEW_OBJ);
    c.n = 0;
    /* forwarding (view->obj is another object): no refcount verdict */
    ev.view_obj = 0x7000;
    ev.call = BS_CALL_EXC_KNOWN;
    engine_process(e, &ev);
    CHECK(c.n == 0);
    /* the view checker through the engine */
    bs_view_fields f = fillinfo(0);
    f.format = P("B");
    bs_view_snapshot s;
    view_snapshot_fill(&s, &f, 0, safe_read, NULL);
    ev.call = BS_CALL_EXC_KNOWN | BS_CALL_CHECK_VIEW | BS_CALL_OBJ_IS_SELF | BS_CALL_OBJ_REF_GAINED;
    ev.view_obj = 0x9000;
    ev.snapshot = &s;
    engine_process(e, &ev);
    CHECK(c.n == 1 && c.checks[0] == BS_CHECK_FIELD_NOT_REQUESTED);
    CHECK(c.fields[0] == BS_FIELD_FORMAT);
    c.n = 0;
    /* every unrequested field of one answer in one finding */
    f = fillinfo(F_STRIDES | F_FORMAT);
    view_snapshot_fill(&s, &f, F_ND, safe_read, NULL);
    ev.flags = F_ND;
    ev.type_name = engine_intern(e, "zmq.sugar.frame.Frame");
    engine_process(e, &ev);
    CHECK(c.n == 1 && c.checks[0] == BS_CHECK_FIELD_NOT_REQUESTED);
    CHECK(c.fields[0] == (BS_FIELD_FORMAT | BS_FIELD_STRIDES));
    CHECK_STR(c.message, "bf_getbuffer of zmq.sugar.frame.Frame answered PyBUF_CONTIG_RO: format "
                         "(\"B\") and strides are set, which the request did not ask for (it lacks "
                         "PyBUF_FORMAT and PyBUF_STRIDES)");
    c.n = 0;
    ev = (bs_event){.kind = BS_EV_BUFFER_CALL, .obj = 0x9000, .call = BS_CALL_RELEASE | BS_CALL_NO_GIL};
    engine_process(e, &ev);
    CHECK(c.n == 1 && c.checks[0] == BS_CHECK_NO_GIL);
    engine_free(e);
}

static void test_consumer_modified_view(void)
{
    captured c = {0};
    bs_engine *e = engine_new(&opts, sink, &c);
    bs_event x = {.kind = BS_EV_EXPORT, .view = 0x1000, .obj = 0x9000, .contents_hash = 77};
    x.v = fillinfo(0);
    bs_event r = {.kind = BS_EV_RELEASE, .view = 0x1000, .obj = 0x9000, .contents_hash = 77,
                  .slot_complete = 1};
    r.v = x.v;
    r.refcnt_before = r.refcnt_after = 2;
    engine_process(e, &x);
    engine_process(e, &r);
    CHECK(c.n == 0);
    engine_process(e, &x);
    r.v.buf += 1;
    r.v.len -= 1;
    engine_process(e, &r);
    CHECK(c.n == 1 && c.checks[0] == BS_CHECK_CONSUMER_MODIFIED_VIEW);
    c.n = 0;
    engine_process(e, &x);
    r.v = x.v;
    r.contents_hash = 78; /* shape contents changed */
    engine_process(e, &r);
    CHECK(c.n == 1 && c.checks[0] == BS_CHECK_CONSUMER_MODIFIED_VIEW);
    c.n = 0;
    engine_process(e, &x);
    r.contents_hash = 0; /* not taken: no verdict */
    engine_process(e, &r);
    CHECK(c.n == 0);
    engine_free(e);
}

/* ---- randomized ------------------------------------------------------- */

static uint64_t rng = 0x2545f4914f6cdd1dULL;
static uint64_t next(void) { return xorshift64(&rng); }

static char *edge; /* last bytes of a mapped page followed by an unmapped one */

static uint64_t random_ptr(void *valid, size_t valid_len)
{
    switch (next() % 9) {
    case 0: return 0;
    case 1: return next();                           /* anywhere */
    case 2: return next() % 4096;                    /* the NULL page */
    case 3: return 0xffff800000000000ULL + next() % 4096; /* kernel space */
    case 4: return P(edge + 4096 - 1 - next() % 24); /* runs into the unmapped page */
    case 5: return P(edge + 4096 + next() % 4096);   /* unmapped */
    default: return P((char *)valid + next() % (valid_len ? valid_len : 1));
    }
}

static const char *const formats[] = {"B", "b", "<i", "i", "d", "2d", "bQ", "3s", "", "T{<i:x:}",
                                      "Zd", "3", "@ci", "xyz", "\xff\xfe", "P", "<n"};

static void fill_random_memory(char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)next();
    if (next() % 2)
        buf[next() % n] = '\0';
}

static void test_randomized(void)
{
    long pagesz = sysconf(_SC_PAGESIZE);
    edge = mmap(NULL, (size_t)pagesz * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(edge != MAP_FAILED);
    if (edge == MAP_FAILED)
        return;
    munmap(edge + pagesz, (size_t)pagesz);
    fill_random_memory(edge, (size_t)pagesz);
    /* mapped, not globals: reads that run past them are real reads of
     * mapped memory, which ASan must not mistake for overflows */
    char *mem = mmap(NULL, 4096 + 3 * 80 * 8, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(mem != MAP_FAILED);
    if (mem == MAP_FAILED)
        return;
    int64_t (*arr)[80] = (int64_t (*)[80])(mem + 4096);
    bs_range mem_range = {P(mem), P(mem) + 4096 + 3 * 80 * 8};
    bs_trusted mem_trusted = {&mem_range, 1};
    const long n_garbage = 1000000, n_good = 200000;
    long found = 0, crashes_none = 0;
    for (long k = 0; k < n_garbage; k++) {
        fill_random_memory(mem, 4096);
        for (int a = 0; a < 3; a++)
            for (int i = 0; i < 80; i++)
                arr[a][i] = (int64_t)(next() % 7 == 0 ? next() : next() % 16) - (next() % 5 == 0);
        bs_view_fields f;
        f.buf = next() % 4 ? P(mem) : next();
        f.len = (int64_t)(next() % 3 ? next() % 512 : next());
        f.itemsize = (int64_t)(next() % 3 ? next() % 17 : next());
        f.readonly = (int32_t)(next() % 2);
        static const int32_t ndims[] = {0, 1, 2, 3, 64, 65, 1000, -1, INT32_MIN, INT32_MAX};
        f.ndim = next() % 2 ? (int32_t)(next() % 5) : ndims[next() % 10];
        f.format = next() % 3 ? P(formats[next() % (sizeof formats / sizeof formats[0])])
                              : random_ptr(mem, 4096);
        f.shape = random_ptr(arr[0], 80 * 8);
        f.strides = random_ptr(arr[1], 80 * 8);
        f.suboffsets = next() % 4 ? 0 : random_ptr(arr[2], 80 * 8);
        f.internal = next();
        int32_t flags = (int32_t)(next() % 0x200);
        if (next() % 50 == 0)
            flags = (int32_t)next();
        bs_view_snapshot s;
        /* the generated memory is vouched for, as the exporter object is
         * at run time; the rest goes through the guarded path */
        view_snapshot_fill(&s, &f, flags, safe_read, &mem_trusted);
        bs_view_violation v[BS_VIEW_MAX_VIOLATIONS];
        int n = view_check_export(&s, v, BS_VIEW_MAX_VIOLATIONS);
        if (n < 0 || n > BS_VIEW_MAX_VIOLATIONS) {
            CHECK(0);
            break;
        }
        for (int i = 0; i < n; i++) {
            int ok = v[i].check == BS_CHECK_FIELD_NOT_REQUESTED || v[i].check == BS_CHECK_FIELD_MISSING ||
                     v[i].check == BS_CHECK_BAD_VIEW_FIELDS || v[i].check == BS_CHECK_NOT_CONTIGUOUS;
            if (!ok || !memchr(v[i].detail, '\0', sizeof v[i].detail)) {
                CHECK(0);
                k = n_garbage;
            }
        }
        found += n;
        crashes_none += view_snapshot_hash(&s) != 0;
    }
    CHECK(crashes_none == n_garbage);
    CHECK(found > n_garbage / 2);
    /* well-formed: a C-contiguous (or, under PyBUF_STRIDES, any strided)
     * answer that honours the request is never reported */
    long false_positives = 0;
    for (long k = 0; k < n_good; k++) {
        static const struct { const char *fmt; int64_t size; } items[] = {
            {"B", 1}, {"<i", 4}, {"d", 8}, {"bQ", 16}, {"3s", 3}, {"T{<i:x:}", 4}};
        int it = (int)(next() % 6);
        int32_t flags = (int32_t)(next() % 0x200);
        int32_t ndim = (int32_t)(next() % 5);
        int64_t shape[4], strides[4], sub[4];
        int64_t count = 1;
        for (int32_t i = 0; i < ndim; i++) {
            shape[i] = (int64_t)(next() % 4);
            count *= shape[i];
        }
        int64_t sd = items[it].size;
        int fortran = (flags & 0x60) == 0x40; /* PyBUF_F_CONTIGUOUS without C */
        for (int32_t j = 0; j < ndim; j++) {
            int32_t i = fortran ? j : ndim - 1 - j;
            strides[i] = sd;
            sd *= shape[i];
            sub[i] = -1;
        }
        int indirect = ndim > 0 && (flags & BS_PYBUF_INDIRECT) == BS_PYBUF_INDIRECT &&
                       !(flags & 0xe0) && next() % 2;
        if (indirect)
            sub[0] = 0;
        bs_view_fields f = {.buf = P(mem), .len = count * items[it].size, .itemsize = items[it].size,
                            .ndim = ndim};
        f.format = (flags & F_FORMAT) ? P(items[it].fmt) : 0;
        f.shape = (flags & F_ND) == F_ND && ndim ? P(shape) : 0;
        f.strides = (flags & F_STRIDES) == F_STRIDES && ndim ? P(strides) : 0;
        f.suboffsets = indirect ? P(sub) : 0;
        if ((flags & F_ND) != F_ND && next() % 2)
            f.ndim = 1; /* PyBuffer_FillInfo's ndim for SIMPLE */
        uint64_t found_mask = check_view(&f, flags);
        false_positives += found_mask != 0;
        if (found_mask && false_positives < 5)
            fprintf(stderr, "false positive: flags 0x%x ndim %d fmt %s mask 0x%llx\n", flags, ndim,
                    items[it].fmt, (unsigned long long)found_mask);
    }
    CHECK(false_positives == 0);
    bs_safe_read_stats st;
    safe_read_stats(&st);
    printf("randomized: %ld garbage views (%ld violations), %ld well-formed; reads: %llu direct, "
           "%llu in loaded segments, %llu through the kernel\n",
           n_garbage, found, n_good, (unsigned long long)st.direct, (unsigned long long)st.module,
           (unsigned long long)st.syscall);
    munmap(edge, (size_t)pagesz);
    munmap(mem, 4096 + 3 * 80 * 8);
}

static void test_safe_read_partial(void)
{
    long pagesz = sysconf(_SC_PAGESIZE);
    char *p = mmap(NULL, (size_t)pagesz * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED);
    munmap(p + pagesz, (size_t)pagesz);
    memset(p, 'x', (size_t)pagesz);
    char out[64];
    CHECK(safe_read(out, P(p + pagesz - 10), 64, 0, NULL) == 10);
    CHECK(safe_read(out, P(p + pagesz), 8, 0, NULL) == 0);
    CHECK(safe_read(out, 0, 8, 0, NULL) == 0);
    CHECK(safe_read(out, UINT64_MAX - 3, 8, 0, NULL) == 0);
    bs_range r = {P(p), P(p) + 16};
    bs_trusted tr = {&r, 1};
    CHECK(safe_read(out, P(p), 32, 0, &tr) == 32); /* past the trusted range: checked read */
    CHECK(safe_read(out, P("B"), 64, 1, NULL) == 2 && out[0] == 'B');
    munmap(p, (size_t)pagesz);
}

int main(void)
{
    bs_options_defaults(&opts);
    test_fillinfo_is_clean_for_every_request();
    test_each_rule();
    test_every_field_in_one_violation();
    test_format_itemsize();
    test_call_rules();
    test_consumer_modified_view();
    test_safe_read_partial();
    test_randomized();
    return checks_report();
}
