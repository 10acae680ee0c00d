/* An interval index over watched exports: which ones' memory overlaps
 * [lo, hi)? A treap keyed by (buf, record address) whose nodes carry the
 * largest end in their subtree, so a query costs O(log n + matches) instead
 * of a scan. The nodes are the watch records themselves (fields it_*), so
 * the index allocates nothing. */
#ifndef BUFSAN_ENGINE_ITREE_H
#define BUFSAN_ENGINE_ITREE_H

#include <stdint.h>

struct watch_rec;

/* The end of [BUF, BUF+LEN), saturated: garbage views may wrap. */
static inline uint64_t itree_end(uint64_t buf, int64_t len)
{
    uint64_t end = buf + (uint64_t)len;
    return end < buf ? UINT64_MAX : end;
}

/* Inserts X (its buf / len must not change while it is indexed);
 * records with len <= 0 are not indexed. */
void itree_insert(struct watch_rec **root, struct watch_rec *x);
void itree_remove(struct watch_rec **root, struct watch_rec *x);
/* Calls FN for indexed records overlapping [LO, HI), in buf order, until FN
 * returns non-zero or LIMIT records were visited; returns the count. */
int itree_query(struct watch_rec *root, uint64_t lo, uint64_t hi, int limit,
                int (*fn)(struct watch_rec *x, void *arg), void *arg);

#endif
