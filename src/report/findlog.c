/* See findlog.h. Linear search: the distinct findings of a run are few; the
 * repeats are many, and they stop at the first match. */
#include "findlog.h"

#include <stdlib.h>
#include <string.h>

#include "../stacks/depot.h"

static int same_str(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* The native frames of ST that count: all of them without Python frames,
 * else those LOG's report shows. */
static uint32_t counted_pcs(const bs_finding_log *log, const bs_stack *st, uint64_t *out,
                            uint32_t max)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < st->nnative && n < max; i++)
        if (!st->npy || !log->shown || log->shown(st->pcs[i]))
            out[n++] = st->pcs[i];
    return n;
}

/* Two depot stacks with the same frames: Python frames by file, line and
 * function, native frames by return address. Code that is compiled again
 * (exec() of the same source, the same module in each subinterpreter) has
 * new code objects, hence new depot ids, for the same frames. */
static int same_stack(const bs_finding_log *log, uint32_t a, uint32_t b)
{
    if (a == b)
        return 1;
    bs_stack sa, sb;
    if (!a || !b || depot_get(a, &sa) < 0 || depot_get(b, &sb) < 0)
        return 0;
    if (sa.npy != sb.npy)
        return 0;
    uint64_t pa[256], pb[256];
    uint32_t na = counted_pcs(log, &sa, pa, 256), nb = counted_pcs(log, &sb, pb, 256);
    if (na != nb || memcmp(pa, pb, na * sizeof *pa) != 0)
        return 0;
    for (uint32_t i = 0; i < sa.npy; i++) {
        const bs_py_frame *fa = sa.py[i], *fb = sb.py[i];
        if (fa != fb && (fa->line != fb->line || !same_str(fa->file, fb->file) ||
                         !same_str(fa->function, fb->function)))
            return 0;
    }
    return 1;
}

static int same_finding(const bs_finding_log *log, const bs_finding *a, const bs_finding *b)
{
    if (a->check != b->check || a->nstacks != b->nstacks || a->has_exporter != b->has_exporter ||
        a->has_request != b->has_request || (a->has_request && a->flags != b->flags))
        return 0;
    /* with stacks off (python_stacks=0 ...) different exporter types share a stack */
    if (a->has_exporter && strcmp(a->exporter_type ? a->exporter_type : "",
                                  b->exporter_type ? b->exporter_type : "") != 0)
        return 0;
    for (int i = 0; i < a->nstacks; i++)
        if (strcmp(a->stacks[i].role, b->stacks[i].role) != 0 ||
            !same_stack(log, a->stacks[i].stack, b->stacks[i].stack))
            return 0;
    return 1;
}

bs_logged_finding *findlog_find(bs_finding_log *log, const bs_finding *f)
{
    for (size_t i = 0; i < log->n; i++)
        if (same_finding(log, &log->items[i].first, f))
            return &log->items[i];
    return NULL;
}

bs_logged_finding *findlog_add(bs_finding_log *log, const bs_finding *f, int *is_new)
{
    for (size_t i = 0; i < log->n; i++) {
        bs_logged_finding *e = &log->items[i];
        if (same_finding(log, &e->first, f)) {
            e->occurrences++;
            e->count += f->count;
            e->bytes += f->bytes;
            *is_new = 0;
            return e;
        }
    }
    if (log->n == log->cap) {
        size_t cap = log->cap ? log->cap * 2 : 16;
        bs_logged_finding *items = realloc(log->items, cap * sizeof *items);
        if (!items)
            return NULL;
        log->items = items;
        log->cap = cap;
    }
    bs_logged_finding *e = &log->items[log->n++];
    e->first = *f;
    /* titles live in the finding (the emitter's stack), type names in the
     * engine, which an offline report frees after each trace (SARIF,
     * written at the end, printed freed memory): keep our own copies */
    for (int i = 0; i < f->nstacks; i++)
        e->first.stacks[i].title = f->stacks[i].title ? strdup(f->stacks[i].title) : NULL;
    e->first.exporter_type = f->exporter_type ? strdup(f->exporter_type) : NULL;
    e->first.test = NULL; /* the entry's own copy is its test[] */
    e->occurrences = 1;
    e->count = f->count;
    e->bytes = f->bytes;
    e->fingerprint[0] = e->location[0] = '\0';
    *is_new = 1;
    return e;
}

uint64_t findlog_repeats(const bs_finding_log *log)
{
    uint64_t n = 0;
    for (size_t i = 0; i < log->n; i++)
        n += log->items[i].occurrences - 1;
    return n;
}

void findlog_clear(bs_finding_log *log)
{
    for (size_t i = 0; i < log->n; i++) {
        for (int k = 0; k < log->items[i].first.nstacks; k++)
            free((char *)log->items[i].first.stacks[k].title);
        free((char *)log->items[i].first.exporter_type);
    }
    free(log->items);
    int (*shown)(uint64_t) = log->shown;
    memset(log, 0, sizeof *log);
    log->shown = shown;
}
