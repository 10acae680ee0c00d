/* Trace reader unit tests on hand-made files: version tolerance (fields
 * mapped by name from another layout, unknown records and trailing payload
 * bytes skipped, missing trailing fields read as 0), delta decoding, and
 * the messages for damaged files. */
#include <stdlib.h>
#include <string.h>

#include "../../src/trace/fields.h"
#include "../../src/trace/format.h"
#include "../../src/trace/reader.h"
#include "check.h"

typedef struct {
    uint8_t b[8192];
    size_t n;
} buf;

static void put(buf *f, const void *p, size_t n)
{
    memcpy(f->b + f->n, p, n);
    f->n += n;
}

static void header(buf *f, uint16_t major, uint16_t minor)
{
    uint8_t h[TR_HEADER_SIZE] = {0};
    uint32_t hs = TR_HEADER_SIZE, pid = 4242;
    memcpy(h, TR_MAGIC, 8);
    memcpy(h + 8, &major, 2);
    memcpy(h + 10, &minor, 2);
    memcpy(h + 12, &hs, 4);
    memcpy(h + 16, &pid, 4);
    put(f, h, sizeof h);
}

typedef struct {
    uint8_t b[4096];
    size_t n;
} pay;

static void pv(pay *p, uint64_t v)
{
    p->n += tr_put_varint(p->b + p->n, v);
}

static void ps(pay *p, const char *s)
{
    pv(p, strlen(s));
    memcpy(p->b + p->n, s, strlen(s));
    p->n += strlen(s);
}

static void record(buf *f, uint8_t type, const pay *p)
{
    f->b[f->n++] = type;
    f->n += tr_put_varint(f->b + f->n, p->n);
    put(f, p->b, p->n);
}

/* A writer whose bs_event is: obj (8 bytes at 0), an unknown field "future"
 * (8 at 8), view (8 at 16), v.len (8 at 24), kind (4 at 32), thread (4 at 36). */
static void foreign_schema(buf *f)
{
    pay p = {0};
    pv(&p, 40);
    pv(&p, 6);
    const struct { const char *n; int off, size; } fl[] = {
        {"obj", 0, 8}, {"future", 8, 8}, {"view", 16, 8}, {"v.len", 24, 8}, {"kind", 32, 4},
        {"thread", 36, 4}};
    for (int i = 0; i < 6; i++) {
        ps(&p, fl[i].n);
        pv(&p, (uint64_t)fl[i].off);
        pv(&p, (uint64_t)fl[i].size);
        pv(&p, 0);
    }
    record(f, TR_SCHEMA, &p);
}

static void foreign_event(buf *f, uint64_t kind, uint64_t mask, const int64_t *deltas, int n,
                          int extra_bytes)
{
    pay p = {0};
    pv(&p, kind);
    pv(&p, 1000);
    pv(&p, mask);
    for (int i = 0; i < n; i++)
        pv(&p, tr_zigzag(deltas[i]));
    for (int i = 0; i < extra_bytes; i++)
        p.b[p.n++] = 0x7f; /* a newer writer's trailing field */
    record(f, TR_EVENT, &p);
}

static void test_foreign_layout(void)
{
    buf f = {0};
    header(&f, TR_VERSION_MAJOR, TR_VERSION_MINOR + 3);
    pay p = {0};
    pv(&p, 4242);
    pv(&p, 1);
    pv(&p, 5000);
    pv(&p, 0);
    ps(&p, "/usr/bin/python3.11");
    ps(&p, "trace=x");
    record(&f, TR_PROCESS, &p);
    foreign_schema(&f);
    pay unknown = {0};
    ps(&unknown, "a record from the future");
    record(&f, 200, &unknown);
    /* words: 0 obj, 1 future, 2 view, 3 len, 4 kind|thread<<32 */
    int64_t d1[] = {0x1000, 77, 0x2000, 64, 1 | (3ll << 32)};
    foreign_event(&f, BS_EV_EXPORT, 0x1f, d1, 5, 0);
    int64_t d2[] = {0x10, 1};
    foreign_event(&f, BS_EV_EXPORT, 0x5, d2, 2, 3); /* obj +0x10, view +1 */
    pay endrec = {0};
    pv(&endrec, 0);
    record(&f, TR_END, &endrec); /* no event count: an older writer */

    tr_reader r;
    CHECK(tr_reader_init(&r, f.b, f.n) == 0);
    CHECK(r.newer == 1);
    CHECK(strstr(r.warning, "newer") != NULL);
    tr_record rec;
    CHECK(tr_next(&r, &rec) == 1 && rec.type == TR_PROCESS);
    CHECK(rec.u.process.pid == 4242);
    CHECK_STR(rec.u.process.exe, "/usr/bin/python3.11");
    CHECK(tr_next(&r, &rec) == 1 && rec.type == TR_SCHEMA);
    CHECK(tr_next(&r, &rec) == 1 && rec.type == TR_EVENT); /* unknown record skipped */
    CHECK(rec.u.event.ev.kind == BS_EV_EXPORT);
    CHECK(rec.u.event.ev.obj == 0x1000);
    CHECK(rec.u.event.ev.view == 0x2000);
    CHECK(rec.u.event.ev.v.len == 64);
    CHECK(rec.u.event.ev.thread == 3);
    CHECK(rec.u.event.ev.stack == 0); /* not in the writer's layout */
    CHECK(rec.u.event.time_ns == 6000);
    CHECK(tr_next(&r, &rec) == 1 && rec.type == TR_EVENT);
    CHECK(rec.u.event.ev.obj == 0x1010);
    CHECK(rec.u.event.ev.view == 0x2001);
    CHECK(rec.u.event.ev.v.len == 64); /* unchanged word */
    CHECK(tr_next(&r, &rec) == 1 && rec.type == TR_END);
    CHECK(rec.u.end.nevents == 0);
    CHECK(tr_next(&r, &rec) == 0);
    CHECK(r.error[0] == '\0');
    char end[512];
    tr_reader_describe_end(&r, end, sizeof end);
    CHECK(strstr(end, "trace complete: 2 events") != NULL);
    tr_reader_free(&r);

    /* cut inside the last event: the first one is still read */
    size_t cut = f.n - 3 - 6;
    CHECK(tr_reader_init(&r, f.b, cut) == 0);
    int events = 0;
    while (tr_next(&r, &rec) > 0)
        events += rec.type == TR_EVENT;
    CHECK(events == 1);
    CHECK(strstr(r.error, "truncated event record") != NULL);
    tr_reader_free(&r);
}

static void test_damage(void)
{
    buf f = {0};
    header(&f, TR_VERSION_MAJOR, TR_VERSION_MINOR);
    pay p = {0};
    pv(&p, 1);
    ps(&p, "file.py");
    record(&f, TR_STRING, &p);
    pay st = {0};
    pv(&st, 1);  /* stack id */
    pv(&st, 1);  /* one Python frame */
    pv(&st, 1);  /* file: string 1 */
    pv(&st, 9);  /* function: string 9, never written */
    pv(&st, 2);
    pv(&st, 0);
    record(&f, TR_STACK, &st);
    tr_reader r;
    tr_record rec;
    CHECK(tr_reader_init(&r, f.b, f.n) == 0);
    CHECK(tr_next(&r, &rec) == 1 && rec.type == TR_STRING);
    CHECK(tr_next(&r, &rec) == 0);
    CHECK(strstr(r.error, "corrupt stack record at offset") != NULL);
    tr_reader_free(&r);

    /* a zeroed tail: the writer died */
    buf z = {0};
    header(&z, TR_VERSION_MAJOR, TR_VERSION_MINOR);
    record(&z, TR_STRING, &p);
    memset(z.b + z.n, 0, 100);
    z.n += 100;
    CHECK(tr_reader_init(&r, z.b, z.n) == 0);
    CHECK(tr_next(&r, &rec) == 1);
    CHECK(tr_next(&r, &rec) == 0);
    char end[512];
    tr_reader_describe_end(&r, end, sizeof end);
    CHECK(strstr(end, "no end record") != NULL);
    tr_reader_free(&r);

    CHECK(tr_reader_init(&r, (const uint8_t *)"GIF89a..........", 16) < 0);
    CHECK(strstr(r.error, "not a bufsan trace") != NULL);
    tr_reader_free(&r);
}

/* The test record (format 1.1): the nodeid, "" when no test runs; a newer
 * writer's trailing field is ignored; a name running past the payload is
 * damage. */
static void test_test_record(void)
{
    buf f = {0};
    header(&f, TR_VERSION_MAJOR, TR_VERSION_MINOR);
    pay p = {0};
    ps(&p, "tests/test_codec.py::test_leaky");
    record(&f, TR_TEST, &p);
    pay none = {0};
    ps(&none, "");
    pv(&none, 99); /* a newer writer's trailing field */
    record(&f, TR_TEST, &none);
    pay bad = {0};
    pv(&bad, 40); /* a name of 40 bytes in a payload of 3 */
    ps(&bad, "ab");
    record(&f, TR_TEST, &bad);
    tr_reader r;
    tr_record rec;
    CHECK(tr_reader_init(&r, f.b, f.n) == 0);
    CHECK(r.warning[0] == '\0');
    CHECK(tr_next(&r, &rec) == 1 && rec.type == TR_TEST);
    CHECK_STR(rec.u.test.name, "tests/test_codec.py::test_leaky");
    CHECK(tr_next(&r, &rec) == 1 && rec.type == TR_TEST);
    CHECK_STR(rec.u.test.name, "");
    CHECK(tr_next(&r, &rec) == 0);
    CHECK(strstr(r.error, "corrupt test record at offset") != NULL);
    CHECK_STR(tr_record_name(TR_TEST), "test");
    tr_reader_free(&r);
}

int main(void)
{
    test_test_record();
    test_foreign_layout();
    test_damage();
    return checks_report();
}
