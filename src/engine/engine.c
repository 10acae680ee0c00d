/* The export registry and the lifetime rules (leaked-export,
 * exporter-freed-while-exported, release-unknown, release-decrefs-obj); the
 * other rules live in rules_*.c and are called from here.
 * Pure C: it must never call Python, it runs inside bf_getbuffer and
 * tp_dealloc hooks and offline. Rules are functions of (registry, event). */
#include "engine.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/spin.h"
#include "../common/u64map.h"
#include "../stacks/depot.h"
#include "registry.h"
#include "rules.h"

/* ---- strings ---------------------------------------------------------- */

static uint32_t intern_locked(bs_engine *e, const char *s)
{
    if (!s || !*s)
        return 0;
    uint64_t h = fnv1a_str(FNV1A_BASIS, s) | 1;
    for (uint64_t k = h;; k = k * 31 + 7) {
        uintptr_t id = (uintptr_t)u64map_get(&e->string_ids, k | 1);
        if (!id)
            break;
        if (!strcmp(e->strings[id - 1], s))
            return (uint32_t)(id - 1);
    }
    if (e->nstrings == e->capstrings) {
        size_t cap = e->capstrings ? e->capstrings * 2 : 64;
        char **n = realloc(e->strings, cap * sizeof *n);
        if (!n)
            return 0;
        e->strings = n;
        e->capstrings = cap;
    }
    char *copy = strdup(s);
    if (!copy)
        return 0;
    uint32_t id = (uint32_t)e->nstrings;
    e->strings[e->nstrings++] = copy;
    uint64_t k = h;
    while (u64map_get(&e->string_ids, k | 1))
        k = k * 31 + 7;
    u64map_put(&e->string_ids, k | 1, (void *)(uintptr_t)(id + 1));
    return id;
}

uint32_t engine_intern(bs_engine *e, const char *s)
{
    engine_lock(e);
    uint32_t id = intern_locked(e, s);
    engine_unlock(e);
    return id;
}

void engine_set_context(bs_engine *e, const char *name)
{
    engine_lock(e);
    e->context = intern_locked(e, name);
    engine_unlock(e);
}

const char *engine_string(bs_engine *e, uint32_t id)
{
    return id < e->nstrings ? e->strings[id] : "";
}

/* ---- lifecycle -------------------------------------------------------- */

static void init_mutex(engine_mutex *m)
{
    pthread_mutex_init(&m->mutex, NULL);
    atomic_store(&m->ticket_next, 0);
    atomic_store(&m->ticket_owner, 0);
}

static void free_shards(bs_engine *e)
{
    for (unsigned i = 0; e->shards && i < e->nshards; i++) {
        engine_shard *s = &e->shards[i];
        u64map_destroy(&s->by_view);
        u64map_destroy(&s->by_obj);
        free(s->tomb);
        pthread_mutex_destroy(&s->lock.mutex);
    }
    free(e->shards);
    e->shards = NULL;
    e->nshards = 0;
}

/* N empty shards of NTOMB tombstones each (-1: out of memory). */
static int make_shards(bs_engine *e, unsigned n, size_t ntomb)
{
    e->shards = aligned_alloc(64, n * sizeof *e->shards);
    if (!e->shards)
        return -1;
    memset(e->shards, 0, n * sizeof *e->shards);
    e->nshards = n;
    for (unsigned i = 0; i < n; i++) {
        engine_shard *s = &e->shards[i];
        init_mutex(&s->lock);
        s->ntomb = ntomb;
        if (!(s->tomb = calloc(ntomb, sizeof *s->tomb)) ||
            u64map_init(&s->by_view, n == 1 ? 1024 : 256) < 0 ||
            u64map_init(&s->by_obj, n == 1 ? 1024 : 256) < 0)
            return -1;
    }
    return 0;
}

void engine_contended(bs_engine *e)
{
    e->contended = 1;
    if (e->nshards != 1 || e->shards[0].by_obj.len || e->shards[0].nlive)
        return; /* too late to split: one shard, a ticket lock */
    free_shards(e);
    if (make_shards(e, N_SHARDS, N_SHARD_TOMBSTONES) < 0) {
        free_shards(e);
        if (make_shards(e, 1, N_TOMBSTONES) < 0)
            abort(); /* no memory for one empty registry at startup */
    }
}

bs_engine *engine_new(const bs_options *opts, bs_finding_sink sink, void *sink_ctx)
{
    bs_engine *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->opts = opts;
    e->sink = sink;
    e->sink_ctx = sink_ctx;
    init_mutex(&e->watch_lock);
    if (make_shards(e, 1, N_TOMBSTONES) < 0 || u64map_init(&e->string_ids, 256) < 0) {
        engine_free(e);
        return NULL;
    }
    e->lifetime = 1;
    intern_locked(e, "?"); /* id 0 placeholder so that 0 means unknown */
    e->strings[0][0] = '\0';
    return e;
}

/* O's unmatched releases of copies (see pend_release). */
static void free_pending(exporter_rec *o)
{
    for (pending_release *p = o->pending, *n; p; p = n) {
        n = p->next;
        free(p);
    }
    o->pending = NULL;
}

void engine_free(bs_engine *e)
{
    if (!e)
        return;
    for (unsigned i = 0; i < e->nshards; i++) {
        engine_shard *s = &e->shards[i];
        for (int k = 0; k < N_THREAD_LISTS; k++)
            for (export_rec *x = s->live[k], *n; x; x = n) {
                n = x->next;
                mutation_free_record(x);
                free(x);
            }
        for (int k = 0; k < N_THREAD_LISTS; k++)
            for (export_rec *x = s->free_exports[k], *n; x; x = n) {
                n = x->next;
                free(x);
            }
        for (size_t k = 0; k < s->by_obj.cap; k++)
            if (s->by_obj.keys[k]) {
                exporter_rec *o = s->by_obj.vals[k];
                free_pending(o);
                free(o);
            }
    }
    mutation_free_recycled(e);
    for (size_t i = 0; i < e->nstrings; i++)
        free(e->strings[i]);
    free(e->strings);
    free_shards(e);
    u64map_destroy(&e->string_ids);
    pthread_mutex_destroy(&e->watch_lock.mutex);
    free(e);
}

/* A lock is held for a few hundred nanoseconds per event. Where the GIL
 * serialises events, glibc's mutex costs nothing but its fast path. Where
 * threads contend for it (a free-threaded build), a mutex is unfair: the
 * thread that just released it takes it again before the waiter runs, the
 * waiter sleeps in the kernel and each handoff costs a system call (two
 * threads did 0.6 of one thread's work in some runs, with thousands of
 * context switches; an adaptive mutex or a spinning trylock starved the
 * waiter the same way). A ticket lock hands it over in arrival order; a
 * waiter that spins long (more threads than CPUs, its predecessor not
 * running) yields its CPU. */
static void mutex_lock(const bs_engine *e, engine_mutex *m)
{
    if (!e->contended) {
        pthread_mutex_lock(&m->mutex);
        return;
    }
    uint32_t t = atomic_fetch_add_explicit(&m->ticket_next, 1, memory_order_relaxed);
    for (unsigned spins = 0;
         atomic_load_explicit(&m->ticket_owner, memory_order_acquire) != t; spins++) {
        cpu_relax();
        if (spins >= 2000)
            sched_yield();
    }
}

static void mutex_unlock(const bs_engine *e, engine_mutex *m)
{
    if (!e->contended) {
        pthread_mutex_unlock(&m->mutex);
        return;
    }
    uint32_t o = atomic_load_explicit(&m->ticket_owner, memory_order_relaxed);
    atomic_store_explicit(&m->ticket_owner, o + 1, memory_order_release);
}

/* Every shard, in order: a thread that holds one shard's lock never takes
 * another, so this order is the only one. */
void engine_lock(bs_engine *e)
{
    for (unsigned i = 0; i < e->nshards; i++)
        mutex_lock(e, &e->shards[i].lock);
}

void engine_unlock(bs_engine *e)
{
    for (unsigned i = e->nshards; i-- > 0;)
        mutex_unlock(e, &e->shards[i].lock);
}

void engine_after_fork_child(bs_engine *e)
{
    for (unsigned i = 0; i < e->nshards; i++)
        init_mutex(&e->shards[i].lock);
    init_mutex(&e->watch_lock);
    for (export_rec *x = live_first(e); x; x = live_next(e, x))
        x->inherited = 1;
}

/* ---- flag names ------------------------------------------------------- */

void bs_flag_names(int32_t flags, char *buf, size_t len)
{
    static const struct { int32_t v; const char *n; } whole[] = {
        {0x11d, "PyBUF_FULL"}, {0x11c, "PyBUF_FULL_RO"}, {0x1d, "PyBUF_RECORDS"},
        {0x1c, "PyBUF_RECORDS_RO"}, {0x19, "PyBUF_STRIDED"}, {0x18, "PyBUF_STRIDED_RO"},
        {0x9, "PyBUF_CONTIG"}, {0x8, "PyBUF_CONTIG_RO"}, {0x0, "PyBUF_SIMPLE"},
    };
    static const struct { int32_t v; const char *n; } parts[] = {
        {0x118, "PyBUF_INDIRECT"}, {0x98, "PyBUF_ANY_CONTIGUOUS"}, {0x58, "PyBUF_F_CONTIGUOUS"},
        {0x38, "PyBUF_C_CONTIGUOUS"}, {0x18, "PyBUF_STRIDES"}, {0x8, "PyBUF_ND"},
        {0x4, "PyBUF_FORMAT"}, {0x1, "PyBUF_WRITABLE"},
    };
    for (size_t i = 0; i < sizeof whole / sizeof whole[0]; i++)
        if (flags == whole[i].v) {
            snprintf(buf, len, "%s", whole[i].n);
            return;
        }
    size_t off = 0;
    int32_t rest = flags;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        if ((rest & parts[i].v) == parts[i].v) {
            off += (size_t)snprintf(buf + off, off < len ? len - off : 0, "%s%s", off ? "|" : "",
                                    parts[i].n);
            rest &= ~parts[i].v;
        }
    }
    if (rest)
        snprintf(buf + off, off < len ? len - off : 0, "%s0x%x", off ? "|" : "", (unsigned)rest);
}

/* ---- registry --------------------------------------------------------- */

/* Takes X out of the live list and its exporter's; out of the view map too
 * unless the caller already removed it (IN_VIEW_MAP 0). */
static void unlink_export(bs_engine *e, export_rec *x, int in_view_map)
{
    engine_shard *s = shard_of(e, x->obj);
    if (x->prev)
        x->prev->next = x->next;
    else
        s->live[thread_list(x->thread)] = x->next;
    if (x->next)
        x->next->prev = x->prev;
    s->nlive--;
    if (export_writable_grant(x))
        __atomic_fetch_sub(&e->nwritable, 1, __ATOMIC_RELAXED);
    mutation_on_gone(e, x);
    if (e->census)
        census_on_gone(e, x);
    if (in_view_map && x->in_view_map && u64map_get(&s->by_view, x->view) == x)
        u64map_del(&s->by_view, x->view);
    exporter_rec *owner = x->owner;
    if (x->obj_prev)
        x->obj_prev->obj_next = x->obj_next;
    else
        owner->exports = x->obj_next;
    if (x->obj_next)
        x->obj_next->obj_prev = x->obj_prev;
    owner->nlive--;
}

static void add_tombstone(bs_engine *e, const export_rec *x, const bs_event *rel)
{
    engine_shard *s = shard_of(e, x->obj);
    uint64_t seq = ++s->tomb_next; /* 1-based */
    /* the entry overwritten may be the newest of its object's chain: that
     * chain's walk (forget_tombstones) stops at it, seeing another seq
     * there (its owner is not read: it was a cache miss at every release) */
    tombstone *t = &s->tomb[(seq - 1) % s->ntomb];
    t->view = x->view;
    t->obj = x->obj;
    t->buf = x->v.buf;
    t->len = x->v.len;
    t->internal = x->v.internal;
    t->acquire_stack = x->stack;
    t->acquire_thread = x->thread;
    t->type_name = x->type_name;
    t->flags = x->flags;
    t->release_stack = rel ? rel->stack : 0;
    t->release_thread = rel ? rel->thread : 0;
    t->seq = seq;
    t->prev_seq = x->owner->tomb_seq;
    t->owner = x->owner;
    x->owner->tomb_seq = seq;
}

/* Drops every tombstone of O's object: it is gone, its address may be
 * reused. Follows the chain; an entry the ring has overwritten ends it. */
static void forget_tombstones(bs_engine *e, exporter_rec *o)
{
    engine_shard *s = shard_of(e, o->obj);
    uint64_t seq = o->tomb_seq;
    o->tomb_seq = 0;
    while (seq && s->tomb_next - seq < s->ntomb) {
        tombstone *t = &s->tomb[(seq - 1) % s->ntomb];
        if (t->seq != seq || t->owner != o)
            break;
        seq = t->prev_seq;
        memset(t, 0, sizeof *t);
    }
}

void engine_emit(bs_engine *e, bs_finding *f)
{
    f->severity = e->opts->severity[f->check];
    if (f->max_severity && f->severity > f->max_severity)
        f->severity = f->max_severity;
    if (f->severity == BS_SEV_OFF)
        return;
    if (e->lifetime > 1) {
        /* what the finding belongs to, in every output format */
        size_t n = strlen(f->message);
        snprintf(f->message + n, sizeof f->message - n, " (interpreter lifetime %u)", e->lifetime);
    }
    e->sink(f, e->sink_ctx);
}

void finding_add_stack(bs_finding *f, const char *role, const char *title, uint32_t thread,
                      uint32_t stack)
{
    if (f->nstacks >= BS_MAX_FINDING_STACKS)
        return;
    bs_finding_stack *s = &f->stacks[f->nstacks++];
    s->role = role;
    s->title = title;
    s->thread = thread;
    s->stack = stack;
}

/* Titles are written into the finding itself: findings of different
 * shards are made at once. (Not thread-local: 2 KiB would not fit the
 * static TLS room the initial-exec core relies on.) */
const char *finding_title(bs_finding *f, const char *fmt, uint32_t thread, int32_t flags)
{
    char fl[128];
    bs_flag_names(flags, fl, sizeof fl);
    char *out = f->titles[f->ntitles < BS_MAX_FINDING_STACKS ? f->ntitles++ : BS_MAX_FINDING_STACKS];
    snprintf(out, sizeof f->titles[0], fmt, thread, fl);
    return out;
}

void finding_from_export(bs_engine *e, bs_finding *f, const export_rec *x)
{
    f->has_exporter = 1;
    f->exporter_type = engine_string(e, x->type_name);
    f->exporter_addr = x->obj;
    f->exporter_len = x->v.len;
    f->exporter_readonly = x->v.readonly;
    f->has_request = 1;
    f->flags = x->flags;
    f->count = 1;
    f->bytes = x->v.len;
}

_Static_assert(N_OBJ_FILTER == 1 << 12, "obj_count takes the top 12 bits");

static uint32_t *obj_count(bs_engine *e, uint64_t obj)
{
    return &e->obj_filter[obj_scatter(obj) >> 52];
}

static void count_exporter(bs_engine *e, uint64_t obj, int delta)
{
    __atomic_fetch_add(obj_count(e, obj), (uint32_t)delta, __ATOMIC_RELAXED);
}

static void recycle_export(bs_engine *e, export_rec *x)
{
    export_rec **list = &shard_of(e, x->obj)->free_exports[thread_list(x->thread)];
    x->next = *list;
    *list = x;
}

/* A zeroed record for an export by THREAD in shard S: a recycled one of
 * its own, or a new one (NULL: out of memory). */
static export_rec *take_export(engine_shard *s, uint32_t thread)
{
    export_rec **list = &s->free_exports[thread_list(thread)];
    export_rec *x = *list;
    if (!x)
        return calloc(1, sizeof *x);
    *list = x->next;
    memset(x, 0, sizeof *x);
    return x;
}

static void on_export(bs_engine *e, const bs_event *ev)
{
    if (!ev->view || !ev->obj)
        return; /* not a real export (a damaged trace): 0 is no map key */
    engine_shard *s = shard_of(e, ev->obj);
    exporter_rec *o = u64map_get(&s->by_obj, ev->obj);
    if (!o && ev->release_unseen)
        return; /* nothing tracked to check it against */
    if (!o) {
        if (!(o = calloc(1, sizeof *o)))
            return;
        o->obj = ev->obj;
        if (u64map_put(&s->by_obj, ev->obj, o) < 0) {
            free(o);
            return;
        }
        count_exporter(e, ev->obj, 1);
    }
    writable_on_export(e, ev, o);
    mutation_on_export(e, ev, o);
    if (ev->release_unseen)
        return;
    export_rec *x = take_export(s, ev->thread);
    if (!x)
        return;
    x->view = ev->view;
    x->obj = ev->obj;
    x->type_name = ev->type_name;
    x->thread = ev->thread;
    x->stack = ev->stack;
    x->flags = ev->flags;
    x->v = ev->v;
    x->contents_hash = ev->contents_hash;
    x->in_view_map = 1;
    x->consumer = ev->consumer;
    x->trusted = ev->trusted != 0;
    x->holds_view = ev->holds_view;
    x->context = e->context;
    x->owner = o;
    export_rec *old;
    if (u64map_exchange(&s->by_view, ev->view, x, (void **)&old) < 0) {
        recycle_export(e, x);
        return;
    }
    if (old) {
        /* The Py_buffer was filled again without a release: the old export can
         * no longer be released; keep it in the live list (a leak) but out of
         * the view map. */
        old->in_view_map = 0;
    }
    export_rec **live = &s->live[thread_list(x->thread)];
    x->next = *live;
    if (*live)
        (*live)->prev = x;
    *live = x;
    s->nlive++;
    if (export_writable_grant(x))
        __atomic_fetch_add(&e->nwritable, 1, __ATOMIC_RELAXED);

    x->obj_next = o->exports;
    if (o->exports)
        o->exports->obj_prev = x;
    o->exports = x;
    o->nlive++;
    mutation_after_export(e, x, ev);
    if (e->census)
        census_on_export(e, x, ev);
}

/* The shard whose view map holds VIEW, filled for OBJ: OBJ's, or where
 * OBJ is not known (0), the one that holds VIEW (every shard locked). */
static engine_shard *view_shard(bs_engine *e, uint64_t view, uint64_t obj)
{
    if (obj || e->nshards == 1)
        return shard_of(e, obj);
    for (unsigned i = 0; i < e->nshards; i++)
        if (u64map_get(&e->shards[i].by_view, view))
            return &e->shards[i];
    return e->shards;
}

export_rec *engine_view_export(bs_engine *e, uint64_t view, uint64_t obj)
{
    return u64map_get(&view_shard(e, view, obj)->by_view, view);
}

size_t engine_nlive_locked(const bs_engine *e)
{
    size_t n = 0;
    for (unsigned i = 0; i < e->nshards; i++)
        n += e->shards[i].nlive;
    return n;
}

/* Does the released copy R of a view agree with what export X was filled
 * with? Every raw field must: a copy is a copy. (Only the contents of
 * format, shape and strides are left to consumer-modified-view.) X may have
 * left the view map: a consumer that copies its view (bitarray copies a
 * stack Py_buffer to the heap) lets the stack slot be filled again. */
static int copy_agrees(const export_rec *x, const bs_view_fields *r)
{
    const bs_view_fields *v = &x->v;
    return v->buf == r->buf && v->len == r->len && v->internal == r->internal &&
           v->itemsize == r->itemsize && v->readonly == r->readonly && v->ndim == r->ndim &&
           v->format == r->format && v->shape == r->shape && v->strides == r->strides &&
           v->suboffsets == r->suboffsets;
}

export_rec *engine_find_copy(bs_engine *e, uint64_t obj, const bs_view_fields *r, int *ambiguous)
{
    exporter_rec *o = engine_exporter(e, obj);
    export_rec *found = NULL;
    int n = 0;
    for (export_rec *x = o ? o->exports : NULL; x; x = x->obj_next)
        if (copy_agrees(x, r)) {
            found = x;
            n++;
        }
    if (ambiguous)
        *ambiguous = n > 1;
    return n == 1 ? found : NULL;
}

/* The live export EV releases; *IN_VIEW_MAP tells whether it is still in
 * the view map (a match by view takes it out at once: one probe).
 * *PENDING: no live export was matched, but some agree with the released
 * copy (several of them, or the type's releases are not all seen, so the
 * released view may be one bufsan never saw filled): nothing live is
 * dropped, the release is kept as unmatched (pend_release). */
static export_rec *match_release(bs_engine *e, const bs_event *ev, int *in_view_map, int *pending)
{
    *pending = 0;
    export_rec *x = u64map_del(&view_shard(e, ev->view, ev->obj)->by_view, ev->view);
    if (x && (!ev->obj || x->obj == ev->obj)) {
        *in_view_map = 0;
        return x;
    }
    if (x) {
        /* The Py_buffer holds another object's view now, filled where bufsan
         * does not look (on a static interpreter, getargs' "y*" of bytes):
         * X's was overwritten without a release, so X can no longer be
         * released through it (it stays live: a leak, out of the view map),
         * and this release is not X's (blosc's cbuffer_validate leaks a
         * bytearray's view in a stack slot that compress() then fills with
         * a bytes object's). */
        x->in_view_map = 0;
    }
    /* a consumer may release a copy of the view: only a unique match whose
     * fields all agree is one, and only where every export of the type is
     * seen (a wrapped release slot); elsewhere the released view may have
     * been filled by the interpreter where bufsan does not look, while a
     * tracked export with the same fields is still held by someone else */
    *in_view_map = 1;
    int ambiguous = 0;
    x = engine_find_copy(e, ev->obj, &ev->v, &ambiguous);
    if (x && ev->slot_complete)
        return x;
    *pending = x || ambiguous;
    return NULL;
}

static const tombstone *find_tombstone(bs_engine *e, const bs_event *ev)
{
    engine_shard *s = shard_of(e, ev->obj);
    size_t n = s->tomb_next < s->ntomb ? s->tomb_next : s->ntomb;
    /* newest first */
    for (size_t k = 0; k < n; k++) {
        const tombstone *t = &s->tomb[(s->tomb_next - 1 - k) % s->ntomb];
        if (!t->obj || t->obj != ev->obj)
            continue;
        if (t->view == ev->view ||
            (t->buf == ev->v.buf && t->len == ev->v.len && t->internal == ev->v.internal))
            return t;
    }
    return NULL;
}

/* ---- unmatched releases of copies --------------------------------------- */

/* An unmatched release that agrees with live exports of O: at O's
 * deallocation or the end, one agreeing export still live is taken as the
 * one it released (no leak, no freed-while-exported), not before. At most
 * one per agreeing live export is kept. */
/* How many of O's unmatched releases are of the view V, beyond the live
 * exports V agrees with (negative: room for more). */
static long pending_surplus(const exporter_rec *o, const bs_view_fields *v)
{
    long n = 0;
    for (const pending_release *p = o->pending; p; p = p->next)
        n += !memcmp(&p->v, v, sizeof p->v);
    for (const export_rec *x = o->exports; x; x = x->obj_next)
        n -= copy_agrees(x, v);
    return n;
}

static void pend_release(exporter_rec *o, const bs_event *ev)
{
    if (pending_surplus(o, &ev->v) >= 0)
        return;
    pending_release *p = calloc(1, sizeof *p);
    if (!p)
        return;
    p->v = ev->v;
    p->next = o->pending;
    o->pending = p;
}

/* After a release of one of O's exports: drops the unmatched releases that
 * no live export agrees with any more. */
static void trim_pending(exporter_rec *o)
{
    for (pending_release **pp = &o->pending, *p; (p = *pp);) {
        if (pending_surplus(o, &p->v) > 0) {
            *pp = p->next;
            free(p);
        } else {
            pp = &p->next;
        }
    }
}

static void retire_export(bs_engine *e, export_rec *x, int in_view_map);

/* Pairs O's unmatched releases with live exports that agree with them,
 * which are taken as released; frees the records. */
static void settle_pending(bs_engine *e, exporter_rec *o)
{
    while (o->pending) {
        pending_release *p = o->pending;
        o->pending = p->next;
        for (export_rec *x = o->exports; x; x = x->obj_next)
            if (copy_agrees(x, &p->v)) {
                retire_export(e, x, 1);
                break;
            }
        free(p);
    }
}

static void on_release(bs_engine *e, const bs_event *ev)
{
    int in_view_map, pending;
    export_rec *x = match_release(e, ev, &in_view_map, &pending);
    if (x) {
        if (ev->source == BS_SRC_SLOT && ev->refcnt_after < ev->refcnt_before) {
            bs_finding f = {.check = BS_CHECK_RELEASE_DECREFS_OBJ};
            snprintf(f.message, sizeof f.message,
                     "bf_releasebuffer of %s decremented the reference count of view->obj "
                     "(%lld -> %lld); PyBuffer_Release drops that reference itself",
                     engine_string(e, x->type_name), (long long)ev->refcnt_before,
                     (long long)ev->refcnt_after);
            f.has_exporter = 1;
            f.exporter_type = engine_string(e, x->type_name);
            f.exporter_addr = x->obj;
            f.exporter_len = x->v.len;
            f.exporter_readonly = x->v.readonly;
            f.has_request = 1;
            f.flags = x->flags;
            f.count = 1;
            f.bytes = x->v.len;
            if (ev->slot_stack)
                finding_add_stack(&f, "slot", finding_title(&f, "the bf_releasebuffer function is:", 0, 0),
                          ev->thread, ev->slot_stack);
            finding_add_stack(&f, "release", finding_title(&f, "released by thread T%u at:", ev->thread, 0),
                      ev->thread, ev->stack);
            finding_add_stack(&f, "acquire", finding_title(&f, "acquired by thread T%u with %s at:", x->thread,
                                               x->flags), x->thread, x->stack);
            engine_emit(e, &f);
        }
        if (e->census)
            census_on_release(e, x, ev);
        mutation_on_release(e, x, ev);
        mutation_forget(e, x);
        bs_export_info xi = {x->obj, x->type_name, x->thread, x->stack, x->flags, &x->v,
                             x->contents_hash};
        rules_view_on_release(e, &xi, ev);
        exporter_rec *o = x->owner;
        unlink_export(e, x, in_view_map);
        add_tombstone(e, x, ev);
        recycle_export(e, x);
        if (o->pending)
            trim_pending(o);
        return;
    }
    if (pending) {
        exporter_rec *o = engine_exporter(e, ev->obj);
        if (o)
            pend_release(o, ev);
        return;
    }
    /* Only where every export of the type is seen (a wrapped release slot)
     * is an unmatched release a bug: without one, the same Py_buffer may
     * have been filled again where bufsan could not see it. */
    if (!ev->slot_complete)
        return;
    const tombstone *t = find_tombstone(e, ev);
    bs_finding f = {.check = BS_CHECK_RELEASE_UNKNOWN};
    uint32_t tn = t ? t->type_name : ev->type_name;
    if (t)
        snprintf(f.message, sizeof f.message,
                 "release of a Py_buffer at 0x%llx for %s at 0x%llx whose export was already "
                 "released (double release)",
                 (unsigned long long)ev->view, engine_string(e, tn), (unsigned long long)ev->obj);
    else
        snprintf(f.message, sizeof f.message,
                 "release of a Py_buffer at 0x%llx for %s at 0x%llx that matches no live export",
                 (unsigned long long)ev->view, engine_string(e, tn), (unsigned long long)ev->obj);
    f.has_exporter = 1;
    f.exporter_type = engine_string(e, tn);
    f.exporter_addr = ev->obj;
    f.exporter_len = ev->v.len;
    f.exporter_readonly = ev->v.readonly;
    f.count = 1;
    f.bytes = ev->v.len;
    finding_add_stack(&f, "release", finding_title(&f, "released by thread T%u at:", ev->thread, 0), ev->thread,
              ev->stack);
    if (t) {
        f.has_request = 1;
        f.flags = t->flags;
        finding_add_stack(&f, "earlier-release",
                  finding_title(&f, "the export was already released by thread T%u at:", t->release_thread, 0),
                  t->release_thread, t->release_stack);
        finding_add_stack(&f, "acquire",
                  finding_title(&f, "acquired by thread T%u with %s at:", t->acquire_thread, t->flags),
                  t->acquire_thread, t->acquire_stack);
    }
    engine_emit(e, &f);
}

/* O's exports died with it (or with the interpreter's lifetime): they
 * cannot be released any more. */
static void drop_exports(bs_engine *e, exporter_rec *o)
{
    while (o->exports) {
        export_rec *x = o->exports;
        mutation_forget(e, x);
        unlink_export(e, x, 1);
        free(x);
    }
}

/* X is taken as released by an unmatched release of a copy (settle_pending). */
static void retire_export(bs_engine *e, export_rec *x, int in_view_map)
{
    mutation_forget(e, x);
    unlink_export(e, x, in_view_map);
    recycle_export(e, x);
}

static void on_dealloc(bs_engine *e, const bs_event *ev)
{
    exporter_rec *o = u64map_del(&shard_of(e, ev->obj)->by_obj, ev->obj);
    if (!o)
        return;
    count_exporter(e, ev->obj, -1);
    forget_tombstones(e, o);
    settle_pending(e, o);
    if (o->nlive) {
        export_rec *first = o->exports;
        int64_t bytes = 0;
        for (export_rec *x = o->exports; x; x = x->obj_next)
            bytes += x->v.len;
        bs_finding f = {.check = BS_CHECK_EXPORTER_FREED_WHILE_EXPORTED};
        snprintf(f.message, sizeof f.message,
                 "%s at 0x%llx was deallocated while %u export%s of it (%lld bytes) %s live; "
                 "the reference held by view->obj was dropped",
                 engine_string(e, first->type_name), (unsigned long long)ev->obj, o->nlive,
                 o->nlive == 1 ? "" : "s", (long long)bytes, o->nlive == 1 ? "was" : "were");
        f.has_exporter = 1;
        f.exporter_type = engine_string(e, first->type_name);
        f.exporter_addr = ev->obj;
        f.exporter_len = first->v.len;
        f.exporter_readonly = first->v.readonly;
        f.has_request = 1;
        f.flags = first->flags;
        f.count = o->nlive;
        f.bytes = bytes;
        finding_add_stack(&f, "dealloc", finding_title(&f, "deallocated by thread T%u at:", ev->thread, 0),
                  ev->thread, ev->stack);
        finding_add_stack(&f, "acquire",
                  finding_title(&f, "export acquired by thread T%u with %s at:", first->thread, first->flags),
                  first->thread, first->stack);
        engine_emit(e, &f);
        drop_exports(e, o);
    }
    free(o);
}

typedef struct {
    uint32_t stack, type_name, thread;
    int32_t flags;
    uint64_t count;
    int64_t bytes;
    uint64_t obj;
    int64_t len;
    int readonly;
    int daemon; /* held_by_frozen_thread: 1 */
    uint32_t context; /* of its oldest export acquired during a test */
} leak_group;

static int cmp_group(const void *a, const void *b)
{
    const leak_group *x = a, *y = b;
    if (x->bytes != y->bytes)
        return x->bytes < y->bytes ? 1 : -1;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return x->stack < y->stack ? -1 : x->stack > y->stack;
}

/* Was an export with the acquiring STACK made by an extension module's
 * initialization? Its innermost Python frame is then the import system's,
 * which runs the module's exec function (_call_with_frames_removed): what
 * such code acquires and never releases is kept in the module's state for
 * the life of the process (a Cython module-level memoryview), not lost. */
int engine_held_by_module(uint32_t stack)
{
    bs_stack s;
    if (depot_get(stack, &s) < 0 || !s.npy || !s.py[0]->file)
        return 0;
    return !strncmp(s.py[0]->file, "<frozen importlib._bootstrap", 28);
}

/* Do stacks A and B have the same Python frames? */
static int same_python_frames(uint32_t a, uint32_t b)
{
    bs_stack sa, sb;
    if (!a || !b || depot_get(a, &sa) < 0 || depot_get(b, &sb) < 0 || !sa.npy || sa.npy != sb.npy)
        return 0;
    for (uint32_t i = 0; i < sa.npy; i++) {
        const bs_py_frame *p = sa.py[i], *q = sb.py[i];
        if (p != q && (p->line != q->line || !p->file || !q->file || strcmp(p->file, q->file) ||
                       !p->function || !q->function || strcmp(p->function, q->function)))
            return 0;
    }
    return 1;
}

/* Held by a daemon thread that finalization froze where it stood (its
 * frames never cleared)? 2: by its frames for sure — a view object's
 * hold (the object is theirs), or an export acquired by the call the
 * thread is still in (its Python frames then are the acquiring stack's:
 * hashlib.sha256 of a bytearray with the GIL released); not reported.
 * 1: by a call it has returned from: either kept by an object of its
 * frames (a C holder) or leaked, which cannot be told apart: a warning.
 * 0: not a frozen thread's. Where the thread stood is not known on a
 * free-threaded build (its frames move while finalization runs): 2. */
static int held_by_frozen_thread(const bs_engine *e, const export_rec *x)
{
    for (int i = 0; i < e->nfrozen; i++)
        if (e->frozen_threads[i] == x->thread) {
            if (!e->frozen_stacks[i] || consumer_is_view_object(x->consumer) ||
                same_python_frames(x->stack, e->frozen_stacks[i]))
                return 2;
            return 1;
        }
    return 0;
}

static void on_thread_outlives(bs_engine *e, const bs_event *ev)
{
    if (e->nfrozen < BS_MAX_FROZEN_THREADS) {
        e->frozen_stacks[e->nfrozen] = ev->stack;
        e->frozen_threads[e->nfrozen++] = ev->thread;
    }
}

void engine_thread_outlives_program(bs_engine *e, uint32_t thread, uint32_t stack)
{
    /* an event, so that a trace replays it */
    bs_event ev = {.kind = BS_EV_THREAD_OUTLIVES, .thread = thread, .stack = stack};
    engine_process(e, &ev);
}

static void on_finalize(bs_engine *e, const bs_event *ev)
{
    e->finalized = 1;
    for (unsigned k = 0; k < e->nshards; k++) {
        u64map *m = &e->shards[k].by_obj;
        for (size_t i = 0; i < m->cap; i++)
            if (m->keys[i] && ((exporter_rec *)m->vals[i])->pending)
                settle_pending(e, m->vals[i]);
    }
    size_t nlive = engine_nlive_locked(e);
    if (!nlive)
        return;
    leak_group *g = calloc(nlive, sizeof *g);
    if (!g)
        return;
    size_t ng = 0;
    u64map idx, held;
    u64map_init(&idx, nlive);
    /* the views other leaked exports keep alive: their leaks are those */
    u64map_init(&held, 16);
    for (export_rec *x = live_first(e); x; x = live_next(e, x))
        if (x->holds_view)
            u64map_put(&held, x->holds_view, (void *)1);
    for (export_rec *x = live_first(e); x; x = live_next(e, x)) {
        /* The parent owns what it held at fork (and reports it if it leaks
         * it); in the child, objects held by the parent's other threads are
         * never freed (CPython drops their thread states without clearing). */
        if (x->inherited)
            continue;
        int daemon = held_by_frozen_thread(e, x);
        if (daemon == 2)
            continue;
        if (x->consumer == BS_CONSUMER_MEMORYVIEW && u64map_get(&held, x->view))
            continue;
        uint64_t key = u64_mix(((uint64_t)x->stack << 32) ^ x->type_name) ^
                       u64_mix((uint64_t)(uint32_t)x->flags + 0x9e3779b97f4a7c15ULL) ^ (uint64_t)daemon << 1;
        key |= 1;
        leak_group *grp = NULL;
        for (uint64_t k = key;; k = u64_mix(k) | 1) {
            uintptr_t i = (uintptr_t)u64map_get(&idx, k);
            if (!i) {
                grp = &g[ng++];
                grp->stack = x->stack;
                grp->type_name = x->type_name;
                grp->flags = x->flags;
                grp->thread = x->thread;
                grp->obj = x->obj;
                grp->len = x->v.len;
                grp->readonly = x->v.readonly;
                grp->daemon = daemon;
                u64map_put(&idx, k, (void *)(uintptr_t)ng);
                break;
            }
            leak_group *c = &g[i - 1];
            if (c->stack == x->stack && c->type_name == x->type_name && c->flags == x->flags &&
                c->daemon == daemon) {
                grp = c;
                break;
            }
        }
        grp->count++;
        grp->bytes += x->v.len > 0 ? x->v.len : 0;
        /* the list runs newest first: the last one set is the oldest, the
         * test a checkpoint reported the leak in first */
        if (x->context)
            grp->context = x->context;
    }
    u64map_destroy(&idx);
    u64map_destroy(&held);
    qsort(g, ng, sizeof *g, cmp_group);
    for (size_t i = 0; i < ng; i++) {
        bs_finding f = {.check = BS_CHECK_LEAKED_EXPORT};
        /* still reachable, as LeakSanitizer says of globals */
        int reachable = engine_held_by_module(g[i].stack);
        if (reachable || g[i].daemon)
            f.max_severity = BS_SEV_WARNING;
        char why[200] = "never released";
        if (reachable)
            snprintf(why, sizeof why, "acquired by an extension module's initialization and "
                                      "still held at exit: kept in the module's state, like a "
                                      "global (still reachable; a warning, not an error)");
        else if (g[i].daemon)
            snprintf(why, sizeof why,
                     "never released by thread T%u, a daemon thread still running at exit: "
                     "CPython never clears its frames, which may hold it (a warning, not an "
                     "error)", g[i].thread);
        snprintf(f.message, sizeof f.message, "%llu export%s of %s (%lld bytes) %s",
                 (unsigned long long)g[i].count, g[i].count == 1 ? "" : "s",
                 engine_string(e, g[i].type_name), (long long)g[i].bytes, why);
        f.has_exporter = 1;
        f.exporter_type = engine_string(e, g[i].type_name);
        f.exporter_addr = g[i].obj;
        f.exporter_len = g[i].len;
        f.exporter_readonly = g[i].readonly;
        f.has_request = 1;
        f.flags = g[i].flags;
        f.count = g[i].count;
        f.bytes = g[i].bytes;
        f.test = g[i].context ? engine_string(e, g[i].context) : NULL;
        finding_add_stack(&f, "acquire", finding_title(&f, "acquired by thread T%u with %s at:", g[i].thread,
                                           g[i].flags), g[i].thread, g[i].stack);
        engine_emit(e, &f);
    }
    free(g);
    (void)ev;
}

/* A new lifetime of the interpreter (BS_EV_LIFETIME): the objects of the
 * last one are either freed or leaked and reported, so every record of
 * them goes, silently, the way a deallocation of each exporter would. */
static void on_lifetime(bs_engine *e)
{
    for (unsigned k = 0; k < e->nshards; k++) {
        u64map *m = &e->shards[k].by_obj;
        size_t n = 0;
        uint64_t *objs = m->cap ? malloc(m->cap * sizeof *objs) : NULL;
        for (size_t i = 0; objs && i < m->cap; i++)
            if (m->keys[i])
                objs[n++] = m->keys[i];
        for (size_t i = 0; i < n; i++) {
            exporter_rec *o = u64map_del(m, objs[i]);
            if (!o)
                continue;
            count_exporter(e, objs[i], -1);
            forget_tombstones(e, o);
            free_pending(o);
            drop_exports(e, o);
            free(o);
        }
        free(objs);
    }
    e->nfrozen = 0;
    e->finalized = 0;
    e->lifetime++;
}

/* Can EV be handled under its exporter's shard lock? An export, release
 * or deallocation touches only its exporter's records, and the watched
 * exports (whose memory any exporter's export may overlap) under the watch
 * lock. Not with a trace recorder (its events must be in one order) or the
 * census. Asked again under the shard lock, where neither can change (they
 * change with every shard locked). */
static int shard_event(const bs_engine *e, const bs_event *ev)
{
    return (ev->kind == BS_EV_EXPORT || ev->kind == BS_EV_RELEASE || ev->kind == BS_EV_DEALLOC) &&
           ev->obj && !e->recorder && !e->census;
}

/* Does EV, under shard S's lock, need every shard after all? A release
 * whose bytes changed during a watched hold: the report looks for the
 * writer among every exporter's exports. (A watched export's hash is
 * changed only by its own shard's events.) */
static int needs_every_shard(engine_shard *s, const bs_event *ev)
{
    if (!ev->hashed || ev->kind != BS_EV_RELEASE)
        return 0;
    const export_rec *x = u64map_get(&s->by_view, ev->view);
    if (!x || x->obj != ev->obj)
        return 1; /* matched another way: rare */
    return mutation_release_changed(x, ev);
}

void engine_lock_exporter(bs_engine *e, uint64_t obj)
{
    if (obj)
        mutex_lock(e, &shard_of(e, obj)->lock);
    else
        engine_lock(e);
}

void engine_unlock_exporter(bs_engine *e, uint64_t obj)
{
    if (obj)
        mutex_unlock(e, &shard_of(e, obj)->lock);
    else
        engine_unlock(e);
}

void engine_watch_lock(bs_engine *e)
{
    if (e->nshards > 1)
        mutex_lock(e, &e->watch_lock);
}

void engine_watch_unlock(bs_engine *e)
{
    if (e->nshards > 1)
        mutex_unlock(e, &e->watch_lock);
}

void engine_process(bs_engine *e, const bs_event *ev)
{
    if (e->nshards > 1 && shard_event(e, ev)) {
        engine_shard *s = shard_of(e, ev->obj);
        mutex_lock(e, &s->lock);
        int alone = shard_event(e, ev) && !needs_every_shard(s, ev);
        if (alone && !e->finalized) {
            if (ev->kind == BS_EV_EXPORT)
                on_export(e, ev);
            else if (ev->kind == BS_EV_RELEASE)
                on_release(e, ev);
            else
                on_dealloc(e, ev);
        }
        mutex_unlock(e, &s->lock);
        if (alone)
            return;
    }
    engine_lock(e);
    if (e->recorder)
        e->recorder(ev, e->recorder_ctx);
    if (!e->finalized) {
        switch (ev->kind) {
        case BS_EV_EXPORT: on_export(e, ev); break;
        case BS_EV_RELEASE: on_release(e, ev); break;
        case BS_EV_DEALLOC: on_dealloc(e, ev); break;
        case BS_EV_FINALIZE: on_finalize(e, ev); break;
        case BS_EV_OBSERVE:
            if (e->census)
                census_on_observe(e, ev);
            mutation_on_observe(e, ev);
            break;
        case BS_EV_BUFFER_CALL: rules_view_on_call(e, ev); break;
        case BS_EV_LIFETIME: break;
        case BS_EV_THREAD_OUTLIVES: on_thread_outlives(e, ev); break;
        }
    }
    if (ev->kind == BS_EV_LIFETIME)
        on_lifetime(e);
    engine_unlock(e);
}

int engine_has_exporter(bs_engine *e, uint64_t obj)
{
    /* most deallocated objects never exported: no lock. (An object is not
     * exported by one thread while another deallocates it: its own count
     * is never read stale.) */
    if (__atomic_load_n(obj_count(e, obj), __ATOMIC_RELAXED) == 0)
        return 0;
    engine_shard *s = shard_of(e, obj);
    mutex_lock(e, &s->lock);
    int r = u64map_get(&s->by_obj, obj) != NULL;
    mutex_unlock(e, &s->lock);
    return r;
}

int engine_has_live_view(bs_engine *e, uint64_t view, uint64_t obj)
{
    engine_shard *s = shard_of(e, obj);
    mutex_lock(e, &s->lock);
    export_rec *x = u64map_get(&s->by_view, view);
    int r = x && x->obj == obj;
    mutex_unlock(e, &s->lock);
    return r;
}

size_t engine_live_exports(bs_engine *e)
{
    return engine_nlive_locked(e);
}

void engine_for_each_live_stack(bs_engine *e, void (*fn)(uint32_t, void *), void *ctx)
{
    engine_lock(e);
    for (export_rec *x = live_first(e); x; x = live_next(e, x))
        fn(x->stack, ctx);
    engine_unlock(e);
}

void engine_set_recorder(bs_engine *e, bs_event_recorder fn, void *ctx)
{
    engine_lock(e);
    e->recorder = fn;
    e->recorder_ctx = ctx;
    engine_unlock(e);
}

void engine_for_each_live_export(bs_engine *e, void (*fn)(const bs_event *, void *), void *ctx)
{
    /* oldest first, thread list by thread list */
    for (unsigned k = 0; k < e->nshards * N_THREAD_LISTS; k++) {
        export_rec *last = e->shards[k / N_THREAD_LISTS].live[k % N_THREAD_LISTS];
        while (last && last->next)
            last = last->next;
        for (export_rec *x = last; x; x = x->prev) {
            bs_event ev = {.kind = BS_EV_EXPORT};
            ev.thread = x->thread;
            ev.stack = x->stack;
            ev.type_name = x->type_name;
            ev.flags = x->flags;
            ev.view = x->view;
            ev.obj = x->obj;
            ev.v = x->v;
            fn(&ev, ctx);
        }
    }
}

/* ---- for rules files (rules.h) ---------------------------------------- */

void engine_emit_locked(bs_engine *e, bs_finding *f) { engine_emit(e, f); }

void engine_add_stack(bs_finding *f, const char *role, const char *title, uint32_t thread,
                      uint32_t stack)
{
    finding_add_stack(f, role, title, thread, stack);
}

const char *engine_fmt_title(bs_finding *f, const char *fmt, uint32_t thread, int32_t flags)
{
    return finding_title(f, fmt, thread, flags);
}

int engine_find_export_locked(bs_engine *e, uint64_t view, bs_export_info *out)
{
    export_rec *x = engine_view_export(e, view, 0);
    if (!x)
        return 0;
    *out = (bs_export_info){x->obj, x->type_name, x->thread, x->stack, x->flags, &x->v,
                            x->contents_hash};
    return 1;
}
