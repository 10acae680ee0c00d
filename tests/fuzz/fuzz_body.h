/* What the trace fuzzer and the corpus replay test run on one input: read
 * every record and replay the events through an engine. Must never crash,
 * leak or loop, whatever the bytes. */
#ifndef BUFSAN_TESTS_FUZZ_BODY_H
#define BUFSAN_TESTS_FUZZ_BODY_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../src/engine/engine.h"
#include "../../src/trace/reader.h"

static void fuzz_sink(const bs_finding *f, void *ctx)
{
    (*(uint64_t *)ctx) += f->count;
}

static int fuzz_one(const uint8_t *data, size_t len)
{
    static bs_options opts;
    static int init;
    if (!init) {
        bs_options_defaults(&opts);
        init = 1;
    }
    tr_reader r;
    if (tr_reader_init(&r, data, len) < 0) {
        tr_reader_free(&r);
        return 0;
    }
    uint64_t found = 0;
    bs_engine *e = engine_new(&opts, fuzz_sink, &found);
    tr_record rec;
    size_t n = 0;
    while (tr_next(&r, &rec) > 0) {
        n++;
        if (rec.type == TR_EVENT)
            engine_process(e, &rec.u.event.ev);
        if (rec.type == TR_TEST)
            engine_set_context(e, rec.u.test.name);
        if (rec.type == TR_STACK) {
            /* touch every frame: the pointers must be valid */
            size_t sum = 0;
            for (uint32_t i = 0; i < rec.u.stack.npy; i++)
                sum += strlen(rec.u.stack.py[i].file) + strlen(rec.u.stack.py[i].function);
            for (uint32_t i = 0; i < rec.u.stack.nnative; i++)
                sum += (size_t)rec.u.stack.pcs[i];
            (void)sum;
        }
    }
    char end[512];
    tr_reader_describe_end(&r, end, sizeof end);
    bs_event fin = {.kind = BS_EV_FINALIZE};
    engine_process(e, &fin);
    engine_free(e);
    tr_reader_free(&r);
    return (int)(n & 1);
}

#endif
