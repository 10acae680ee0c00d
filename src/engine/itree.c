/* Interval treap over watch records: see itree.h. */
#include "itree.h"

#include "registry.h"

static uint64_t end_of(const watch_rec *x) { return itree_end(x->buf, x->len); }

static int before(const watch_rec *a, const watch_rec *b)
{
    return a->buf < b->buf || (a->buf == b->buf && (uintptr_t)a < (uintptr_t)b);
}

static void update(watch_rec *x)
{
    uint64_t m = end_of(x);
    if (x->it_left && x->it_left->it_maxend > m)
        m = x->it_left->it_maxend;
    if (x->it_right && x->it_right->it_maxend > m)
        m = x->it_right->it_maxend;
    x->it_maxend = m;
}

/* xorshift on the record's address: a priority that needs no state */
static uint32_t priority(const watch_rec *x)
{
    uint64_t k = (uintptr_t)x;
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 29;
    return (uint32_t)k;
}

/* Splits T into records before X (*l) and after X (*r). */
static void split(watch_rec *t, const watch_rec *x, watch_rec **l, watch_rec **r)
{
    if (!t) {
        *l = *r = NULL;
        return;
    }
    if (before(t, x)) {
        split(t->it_right, x, &t->it_right, r);
        *l = t;
    } else {
        split(t->it_left, x, l, &t->it_left);
        *r = t;
    }
    update(t);
}

static watch_rec *merge(watch_rec *l, watch_rec *r)
{
    if (!l || !r)
        return l ? l : r;
    if (l->it_prio > r->it_prio) {
        l->it_right = merge(l->it_right, r);
        update(l);
        return l;
    }
    r->it_left = merge(l, r->it_left);
    update(r);
    return r;
}

static watch_rec *insert(watch_rec *t, watch_rec *x)
{
    if (!t)
        return x;
    if (x->it_prio > t->it_prio) {
        split(t, x, &x->it_left, &x->it_right);
        update(x);
        return x;
    }
    if (before(x, t))
        t->it_left = insert(t->it_left, x);
    else
        t->it_right = insert(t->it_right, x);
    update(t);
    return t;
}

static watch_rec *remove_rec(watch_rec *t, watch_rec *x)
{
    if (!t)
        return NULL;
    if (t == x)
        return merge(t->it_left, t->it_right);
    if (before(x, t))
        t->it_left = remove_rec(t->it_left, x);
    else
        t->it_right = remove_rec(t->it_right, x);
    update(t);
    return t;
}

void itree_insert(watch_rec **root, watch_rec *x)
{
    if (x->indexed || x->len <= 0)
        return;
    x->it_left = x->it_right = NULL;
    x->it_prio = priority(x);
    x->it_maxend = end_of(x);
    x->indexed = 1;
    *root = insert(*root, x);
}

void itree_remove(watch_rec **root, watch_rec *x)
{
    if (!x->indexed)
        return;
    *root = remove_rec(*root, x);
    x->indexed = 0;
    x->it_left = x->it_right = NULL;
}

typedef struct {
    uint64_t lo, hi;
    int limit, n, stop;
    int (*fn)(watch_rec *, void *);
    void *arg;
} query_ctx;

static void visit(watch_rec *t, query_ctx *q)
{
    while (t && !q->stop && t->it_maxend > q->lo) {
        visit(t->it_left, q);
        if (q->stop || t->buf >= q->hi)
            return; /* this record and everything right of it start too late */
        if (end_of(t) > q->lo) {
            q->n++;
            if (q->fn(t, q->arg) || q->n >= q->limit)
                q->stop = 1;
        }
        t = t->it_right;
    }
}

int itree_query(watch_rec *root, uint64_t lo, uint64_t hi, int limit,
                int (*fn)(watch_rec *x, void *arg), void *arg)
{
    if (hi <= lo || limit <= 0)
        return 0;
    query_ctx q = {lo, hi, limit, 0, 0, fn, arg};
    visit(root, &q);
    return q.n;
}
