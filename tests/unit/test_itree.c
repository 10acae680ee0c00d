/* The interval index of watched exports (src/engine/itree.c) against a brute
 * force scan: random inserts, removals and queries, wrap-around and empty
 * intervals, and the visit limit. */
#include <stdlib.h>
#include <string.h>

#include "../../src/engine/registry.h"
#include "check.h"

#define N 2000

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next(void) { return xorshift64(&rng); }

typedef struct {
    unsigned char seen[N];
    watch_rec *base;
    int count;
} visit_log;

static int record(watch_rec *x, void *arg)
{
    visit_log *l = arg;
    l->seen[x - l->base]++;
    l->count++;
    return 0;
}

static int overlaps(const watch_rec *x, uint64_t lo, uint64_t hi)
{
    if (x->len <= 0 || hi <= lo)
        return 0; /* an empty range overlaps nothing */
    uint64_t end = x->buf + (uint64_t)x->len;
    if (end < x->buf)
        end = UINT64_MAX;
    return x->buf < hi && lo < end;
}

int main(void)
{
    watch_rec *recs = calloc(N, sizeof *recs);
    int in[N] = {0};
    watch_rec *root = NULL;
    long queries = 0, matches = 0;
    for (int step = 0; step < 200000; step++) {
        int i = (int)(next() % N);
        if (next() % 2) {
            if (in[i]) {
                itree_remove(&root, &recs[i]);
                in[i] = 0;
            } else {
                /* clustered addresses (many exports of the same memory), a
                 * few huge and wrapping ranges, some empty ones */
                recs[i].buf = (next() % 4 ? 0x10000 + (next() % 64) * 16 : next());
                recs[i].len = (int64_t)(next() % 10 == 0 ? 0 : next() % 200);
                if (next() % 500 == 0)
                    recs[i].len = INT64_MAX;
                itree_insert(&root, &recs[i]);
                in[i] = recs[i].len > 0;
            }
        }
        uint64_t lo = next() % 3 ? 0x10000 + next() % 1200 : next();
        uint64_t hi = lo + next() % 300;
        visit_log l = {.base = recs};
        itree_query(root, lo, hi, N + 1, record, &l);
        queries++;
        for (int k = 0; k < N; k++) {
            int want = in[k] && overlaps(&recs[k], lo, hi);
            if (l.seen[k] != want) {
                CHECK(l.seen[k] == want);
                fprintf(stderr, "rec %d buf %llx len %lld query [%llx,%llx) seen %d\n", k, (unsigned long long)recs[k].buf, (long long)recs[k].len, (unsigned long long)lo, (unsigned long long)hi, l.seen[k]);
                step = 200000;
                break;
            }
            matches += want;
        }
        /* the limit stops the visit */
        visit_log lim = {.base = recs};
        int n = itree_query(root, lo, hi, 3, record, &lim);
        CHECK(n == lim.count && n <= 3 && (n == 3 || n == l.count));
    }
    for (int k = 0; k < N; k++)
        if (in[k])
            itree_remove(&root, &recs[k]);
    CHECK(root == NULL);
    printf("itree: %ld queries, %ld matches, all equal to a scan\n", queries, matches);
    free(recs);
    return checks_report();
}
