/* The mutation rules: mutated-while-shared, readonly-mutated (content hashes
 * carried by events, compared here), moved-while-exported and
 * writable-while-shared (geometry of exports of one exporter).
 * The engine never reads the memory under an export: the interception layer
 * hashes it and sends the values (export, release, BS_EV_OBSERVE); this
 * file decides which exports are watched and compares. Called with the
 * engine lock held; no Python.
 *
 * Who wrote. A reader granted readonly=0 may write its own hold (the
 * protocol allows it; CPython's memoryview does it), so a change under a
 * reader is only blamed on a writer bufsan saw: a mutation slot call of the
 * exporter (or of a memoryview over the memory), bracketed by observations
 * (BS_OBS_WRITE_BEFORE/AFTER), or a PyBUF_WRITABLE export of the same
 * memory, observed when it is acquired and when it is released. Each
 * observation refreshes the export's hash, so a change is attributed to
 * what happened since the previous one. A writer is the holder's own when
 * it ran on the holder's thread while the Python call that acquired the
 * hold was still running (its Python frames are the outer frames of the
 * writer's stack). Changes with no foreign writer are reported only with
 * strict=1. Read-only grants are reported whoever wrote. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../stacks/depot.h"
#include "registry.h"

#define PYBUF_WRITABLE 0x1

static int same_frame(const bs_py_frame *a, const bs_py_frame *b)
{
    if (a == b)
        return 1;
    return a->line == b->line && !strcmp(a->file ? a->file : "", b->file ? b->file : "") &&
           !strcmp(a->function ? a->function : "", b->function ? b->function : "");
}

/* Is a write by THREAD at STACK the own write of X's holder? Yes when it
 * runs on X's thread while the Python call that acquired X is still running:
 * X's Python frames are the outermost frames of STACK (both may be cut at
 * stack_depth: the frames both kept must agree). Without Python frames to
 * compare, a write on the holder's thread is its own: the benefit of the
 * doubt. */
static int holders_own(const export_rec *x, uint32_t thread, uint32_t stack)
{
    if (thread != x->thread)
        return 0;
    bs_stack sx, sw;
    if (depot_get(x->stack, &sx) < 0 || depot_get(stack, &sw) < 0 || !sx.npy || !sw.npy)
        return 1;
    for (uint32_t k = 0; k < sw.npy; k++) {
        if (!same_frame(sw.py[k], sx.py[0]))
            continue;
        uint32_t n = sw.npy - k < sx.npy ? sw.npy - k : sx.npy;
        uint32_t i = 1;
        while (i < n && same_frame(sw.py[k + i], sx.py[i]))
            i++;
        if (i == n)
            return 1;
    }
    return 0;
}

static int is_reader(const bs_options *o, int32_t flags, uint32_t consumer)
{
    return !(flags & PYBUF_WRITABLE) && (consumer == BS_CONSUMER_OTHER || o->strict);
}

int engine_wants_hash(const bs_options *o, int32_t flags, int readonly, uint32_t consumer)
{
    if (consumer == BS_CONSUMER_PRIVATE_FILL && !o->strict)
        return 0;
    if (readonly && o->severity[BS_CHECK_READONLY_MUTATED] != BS_SEV_OFF)
        return 1;
    return is_reader(o, flags, consumer) &&
           o->severity[BS_CHECK_MUTATED_WHILE_SHARED] != BS_SEV_OFF;
}

/* Remembers another export live during W's hold; writers take precedence
 * over readers when the list is full. */
static void add_other(watch_rec *w, uint32_t stack, uint32_t thread, uint32_t type_name,
                      int32_t flags, int writer)
{
    /* the holder's own writes are its business: listed, never first */
    if (writer && holders_own(w->x, thread, stack))
        writer = 0;
    for (int i = 0; i < w->nothers; i++)
        if (w->others[i].stack == stack && w->others[i].flags == flags &&
            w->others[i].thread == thread)
            return;
    bs_other_export o = {stack, thread, type_name, flags, writer};
    if (w->nothers < BS_MAX_OTHERS) {
        w->others[w->nothers++] = o;
        return;
    }
    if (!writer)
        return;
    for (int i = 0; i < w->nothers; i++)
        if (!w->others[i].writer) {
            w->others[i] = o;
            return;
        }
}

static void report_moved(bs_engine *e, export_rec *old, const bs_event *ev)
{
    if (engine_check_off(e, BS_CHECK_MOVED_WHILE_EXPORTED))
        return;
    bs_finding f = {.check = BS_CHECK_MOVED_WHILE_EXPORTED};
    snprintf(f.message, sizeof f.message,
             "%s at 0x%llx exported buf=0x%llx len=%lld while an export of buf=0x%llx "
             "len=%lld was live: the memory that consumer holds was moved or resized",
             engine_string(e, ev->type_name), (unsigned long long)ev->obj,
             (unsigned long long)ev->v.buf, (long long)ev->v.len,
             (unsigned long long)old->v.buf, (long long)old->v.len);
    finding_from_export(e, &f, old);
    finding_add_stack(&f, "acquire",
                      finding_title(&f, "the moved export was acquired by thread T%u with %s at:",
                                    ev->thread, ev->flags), ev->thread, ev->stack);
    finding_add_stack(&f, "other",
                      finding_title(&f, "the earlier export, still live, was acquired by thread T%u "
                                    "with %s at:", old->thread, old->flags),
                      old->thread, old->stack);
    engine_emit(e, &f);
}

static void report_writable_shared(bs_engine *e, export_rec *old, const bs_event *ev)
{
    if (engine_check_off(e, BS_CHECK_WRITABLE_WHILE_SHARED))
        return;
    bs_finding f = {.check = BS_CHECK_WRITABLE_WHILE_SHARED};
    snprintf(f.message, sizeof f.message,
             "%s at 0x%llx has a writable export and another export live at the same time "
             "(mutable XOR shared)", engine_string(e, ev->type_name),
             (unsigned long long)ev->obj);
    finding_from_export(e, &f, old);
    f.flags = ev->flags;
    f.exporter_readonly = ev->v.readonly;
    finding_add_stack(&f, "acquire",
                      finding_title(&f, "acquired by thread T%u with %s at:", ev->thread, ev->flags),
                      ev->thread, ev->stack);
    finding_add_stack(&f, "other",
                      finding_title(&f, "the other export, still live, was acquired by thread T%u "
                                    "with %s at:", old->thread, old->flags),
                      old->thread, old->stack);
    engine_emit(e, &f);
}

/* Overlapping live exports visited per export: enough to fill the witness
 * lists (BS_MAX_OTHERS) many times over, bounded for exporters shared by
 * thousands of holders. */
#define WITNESS_LIMIT 256

typedef struct {
    const bs_event *ev; /* a new export: the witness */
    export_rec *x;      /* an export that goes: the witness */
    int new_writes;
} witness_ctx;

static int witness_new(watch_rec *w, void *arg)
{
    const witness_ctx *c = arg;
    add_other(w, c->ev->stack, c->ev->thread, c->ev->type_name, c->ev->flags, c->new_writes);
    return 0;
}

/* A watched export W sees the export C->x go. */
static int witness_gone(watch_rec *w, void *arg)
{
    const witness_ctx *c = arg;
    const export_rec *y = c->x;
    if (w->x != y)
        add_other(w, y->stack, y->thread, y->type_name, y->flags, export_may_write(y));
    return 0;
}

void mutation_on_export(bs_engine *e, const bs_event *ev, exporter_rec *o)
{
    int new_writes = hold_may_write(ev->v.readonly, ev->flags, ev->consumer);
    /* Each live export is visited only when one of them may have other
     * memory (this export's differs from the newest one's) or when
     * writable-while-shared (off by default) looks for a writer: an
     * exporter with thousands of live exports (views of one array) costs
     * no walk of them per export. */
    int moved_possible = o && (o->cur_buf != ev->v.buf || o->cur_len != ev->v.len);
    int shared_wanted = !engine_check_off(e, BS_CHECK_WRITABLE_WHILE_SHARED);
    for (export_rec *x = o && (moved_possible || shared_wanted) ? o->exports : NULL; x;
         x = x->obj_next) {
        if (!x->in_view_map)
            continue; /* refilled without a release: no longer held */
        if ((x->v.buf != ev->v.buf || x->v.len != ev->v.len) && !x->moved) {
            /* its memory may be gone: never hash it again */
            x->moved = 1;
            report_moved(e, x, ev);
        }
        if (shared_wanted && (new_writes || export_may_write(x))) {
            shared_wanted = 0;
            report_writable_shared(e, x, ev);
            if (!moved_possible)
                break;
        }
    }
    if (o) {
        o->cur_buf = ev->v.buf;
        o->cur_len = ev->v.len;
    }
    /* every watched export of the same memory gets this one as a witness */
    if (__atomic_load_n(&e->watched, __ATOMIC_ACQUIRE) && ev->v.len > 0) {
        witness_ctx c = {ev, NULL, new_writes};
        engine_watch_lock(e);
        itree_query(e->by_mem, ev->v.buf, itree_end(ev->v.buf, ev->v.len), WITNESS_LIMIT,
                    witness_new, &c);
        engine_watch_unlock(e);
    }
}

void mutation_after_export(bs_engine *e, export_rec *x, const bs_event *ev)
{
    if (!ev->hashed || x->v.len <= 0)
        return;
    engine_watch_lock(e);
    watch_rec *w = e->free_watches;
    if (w) {
        e->free_watches = w->next;
        memset(w, 0, sizeof *w);
    } else if (!(w = aligned_alloc(64, (sizeof *w + 63) & ~(size_t)63))) {
        engine_watch_unlock(e);
        return; /* not watched: a change goes unseen, nothing breaks */
    } else {
        memset(w, 0, sizeof *w);
    }
    w->x = x;
    w->buf = x->v.buf;
    w->len = x->v.len;
    w->hash = ev->hash;
    x->w = w;
    if (x->owner)
        x->owner->nwatched++;
    /* The exports of the same memory live now are found when a change is
     * reported (collect_live) or as they go (mutation_on_gone): only the
     * watched exports are indexed, so exports that nobody watches cost no
     * index work. */
    itree_insert(&e->by_mem, w);
    w->next = e->watched;
    if (e->watched)
        e->watched->prev = w;
    __atomic_store_n(&e->watched, w, __ATOMIC_RELEASE);
    engine_watch_unlock(e);
}

void mutation_on_gone(bs_engine *e, export_rec *x)
{
    if (__atomic_load_n(&e->watched, __ATOMIC_ACQUIRE) && x->v.len > 0) {
        witness_ctx c = {NULL, x, 0};
        engine_watch_lock(e);
        itree_query(e->by_mem, x->v.buf, itree_end(x->v.buf, x->v.len), WITNESS_LIMIT,
                    witness_gone, &c);
        engine_watch_unlock(e);
    }
}

/* At a report: the exports of X's memory that are live now. */
static void collect_live(bs_engine *e, export_rec *x)
{
    uint64_t end = itree_end(x->v.buf, x->v.len);
    for (export_rec *y = live_first(e); y; y = live_next(e, y)) {
        if (y == x || !y->in_view_map || y->v.len <= 0)
            continue;
        if (y->v.buf < end && x->v.buf < itree_end(y->v.buf, y->v.len))
            add_other(x->w, y->stack, y->thread, y->type_name, y->flags, export_may_write(y));
    }
}

void mutation_forget(bs_engine *e, export_rec *x)
{
    watch_rec *w = x->w;
    if (!w)
        return;
    engine_watch_lock(e);
    itree_remove(&e->by_mem, w);
    if (w->next)
        w->next->prev = w->prev;
    if (w->prev)
        w->prev->next = w->next;
    else if (e->watched == w)
        __atomic_store_n(&e->watched, w->next, __ATOMIC_RELEASE);
    x->w = NULL;
    if (x->owner && x->owner->nwatched)
        x->owner->nwatched--;
    w->next = e->free_watches;
    e->free_watches = w;
    engine_watch_unlock(e);
}

void mutation_free_recycled(bs_engine *e)
{
    for (watch_rec *w = e->free_watches, *n; w; w = n) {
        n = w->next;
        free(w);
    }
    e->free_watches = NULL;
}

void mutation_free_record(export_rec *x)
{
    free(x->w);
    x->w = NULL;
}

static const char *const observe_roles[] = {"observe", "dealloc", "observe", "observe", "writer"};
static const char *const observe_titles[] = {
    "the change was seen at a later export of the exporter, by thread T%u at:",
    "the change was seen when the exporter was deallocated, by thread T%u at:",
    "the change was seen when the interpreter finalized:",
    "the change was seen by thread T%u at:",
    "written by thread T%u at:",
};

/* A live PyBUF_WRITABLE export of X's memory that is not X's holder's own:
 * the likely writer of a change seen with no writer named. */
static const export_rec *live_foreign_writer(bs_engine *e, const export_rec *x)
{
    uint64_t end = itree_end(x->v.buf, x->v.len);
    for (const export_rec *y = live_first(e); y; y = live_next(e, y)) {
        if (y == x || !y->in_view_map || y->v.len <= 0 || !export_writable_grant(y))
            continue;
        if (y->v.buf < end && x->v.buf < itree_end(y->v.buf, y->v.len) &&
            !holders_own(x, y->thread, y->stack))
            return y;
    }
    return NULL;
}

/* The writer a change of X is blamed on. */
typedef struct {
    const char *role, *title;
    uint32_t thread, stack; /* where it wrote or was seen */
    const export_rec *export; /* a writable export, or NULL */
    int slot;                 /* a mutation slot call */
} blame;

static void report_change(bs_engine *e, export_rec *x, const blame *b)
{
    x->reported = 1;
    collect_live(e, x);
    int ro = x->v.readonly != 0;
    bs_finding f = {.check = ro ? BS_CHECK_READONLY_MUTATED : BS_CHECK_MUTATED_WHILE_SHARED};
    char fl[128];
    bs_flag_names(x->flags, fl, sizeof fl);
    const char *who = b->slot ? "; written through the exporter's own mutation entry point"
                      : b->export ? "; written through a writable export of the same memory"
                      : ro ? "" : "; no writer was observed (strict=1)";
    if (ro)
        snprintf(f.message, sizeof f.message,
                 "the %lld bytes under an export of %s at 0x%llx that was granted readonly=1 "
                 "changed during the hold: someone wrote through read-only memory%s",
                 (long long)x->v.len, engine_string(e, x->type_name), (unsigned long long)x->obj,
                 who);
    else
        snprintf(f.message, sizeof f.message,
                 "the %lld bytes under a reader's export of %s at 0x%llx (requested with %s) "
                 "changed during the hold%s; %d other export%s of the same memory %s live",
                 (long long)x->v.len, engine_string(e, x->type_name), (unsigned long long)x->obj,
                 fl, who, x->w->nothers, x->w->nothers == 1 ? "" : "s",
                 x->w->nothers == 1 ? "was" : "were");
    finding_from_export(e, &f, x);
    /* the write first, where it was seen: the line a user must look at */
    if (b->slot)
        finding_add_stack(&f, "writer", finding_title(&f, b->title, b->thread, 0), b->thread,
                          b->stack);
    else if (b->export)
        finding_add_stack(&f, "writer",
                          finding_title(&f, "written through a writable export acquired by thread "
                                           "T%u with %s at:", b->export->thread, b->export->flags),
                          b->export->thread, b->export->stack);
    finding_add_stack(&f, "acquire",
                      finding_title(&f, ro ? "acquired by thread T%u with %s at:"
                                       : "the reader's export was acquired by thread T%u with %s at:",
                                    x->thread, x->flags),
                      x->thread, x->stack);
    if (!b->slot)
        finding_add_stack(&f, b->role, finding_title(&f, b->title, b->thread, 0), b->thread,
                          b->stack);
    /* writers first */
    for (int pass = 1; pass >= 0; pass--)
        for (int i = 0; i < x->w->nothers; i++) {
            const bs_other_export *o = &x->w->others[i];
            if (o->writer != pass || (b->export && o->stack == b->export->stack &&
                                      o->thread == b->export->thread))
                continue;
            finding_add_stack(&f, "other",
                              finding_title(&f, pass ? "other export live during the hold (may "
                                                   "write), acquired by thread T%u with %s at:"
                                                 : "other export live during the hold, "
                                                   "acquired by thread T%u with %s at:",
                                            o->thread, o->flags),
                              o->thread, o->stack);
        }
    engine_emit(e, &f);
}

/* Compares HASH, taken over [BUF, BUF+LEN) at an observation point, with the
 * hash X had at its last observation, and makes HASH the new one. A change
 * is reported when it is another's doing (see the top of this file). B: the
 * writer when the observation ends a write (BS_OBS_WRITE_AFTER). */
static void compare(bs_engine *e, export_rec *x, uint64_t buf, int64_t len, uint64_t hash,
                    blame *b)
{
    if (!x->w || x->moved || x->reported || buf != x->v.buf || len != x->v.len ||
        hash == x->w->hash)
        return;
    x->w->hash = hash;
    if (x->v.readonly) {
        report_change(e, x, b);
        return;
    }
    if (b->slot || b->export) {
        uint32_t t = b->export ? b->export->thread : b->thread;
        uint32_t st = b->export ? b->export->stack : b->stack;
        if (!holders_own(x, t, st))
            report_change(e, x, b);
        return;
    }
    const export_rec *y = live_foreign_writer(e, x);
    if (y) {
        b->export = y;
        report_change(e, x, b);
    } else if (e->opts->strict) {
        report_change(e, x, b);
    } else {
        /* no writer in sight: the holder wrote its own hold, so it is a
         * mutable view (a cffi from_buffer cdata written through), not a
         * reader: its owner's later writes are expected too */
        mutation_forget(e, x);
    }
}

int mutation_release_changed(const export_rec *x, const bs_event *ev)
{
    return ev->hashed && x->w && !x->moved && !x->reported && ev->hash != x->w->hash;
}

void mutation_on_release(bs_engine *e, export_rec *x, const bs_event *ev)
{
    /* the interception layer hashed the range the export was granted (the
     * consumer's copy of the view may say otherwise) */
    if (!ev->hashed)
        return;
    blame b = {"release", "released by thread T%u at:", ev->thread, ev->stack, NULL, 0};
    compare(e, x, x->v.buf, x->v.len, ev->hash, &b);
}

void mutation_on_observe(bs_engine *e, const bs_event *ev)
{
    if (!ev->hashed)
        return;
    export_rec *x = engine_view_export(e, ev->view, ev->obj);
    if (!x || x->obj != ev->obj)
        return;
    uint32_t p = ev->observe_point <= BS_OBS_WRITE_AFTER ? ev->observe_point : BS_OBS_EXPORT;
    blame b = {observe_roles[p], observe_titles[p], ev->thread, ev->stack, NULL, 0};
    if (p == BS_OBS_WRITE_AFTER) {
        if (ev->writer) {
            const export_rec *y = engine_view_export(e, ev->writer, 0);
            if (!y || y == x)
                return;
            b.export = y;
            b.role = "release";
            b.title = "the writable export was released by thread T%u at:";
        } else {
            b.slot = 1;
        }
    }
    compare(e, x, ev->v.buf, ev->v.len, ev->hash, &b);
}

/* Appends watched export X to OUT (counting past MAX) unless its watch is over. */
static size_t add_watch(const export_rec *x, bs_watch *out, size_t n, size_t max)
{
    if (x->moved || x->reported || !x->in_view_map)
        return n;
    if (n < max)
        out[n] = (bs_watch){x->view, x->obj, x->v.buf, x->v.len, x->trusted};
    return n + 1;
}

int engine_any_watched(bs_engine *e)
{
    return __atomic_load_n(&e->watched, __ATOMIC_ACQUIRE) != NULL;
}

size_t engine_watch_list(bs_engine *e, uint64_t obj, uint64_t view, const bs_view_fields *copy,
                         bs_watch *out, size_t max)
{
    size_t n = 0;
    /* most exports and releases happen while nothing is watched: no lock */
    if (!__atomic_load_n(&e->watched, __ATOMIC_ACQUIRE))
        return 0;
    /* one exporter's exports: its shard (every shard: all of them) */
    engine_lock_exporter(e, obj);
    if (view) {
        export_rec *x = engine_view_export(e, view, obj);
        if ((!x || x->obj != obj) && copy)
            x = engine_find_copy(e, obj, copy, NULL); /* as a release matches */
        if (x && x->w && !x->moved && !x->reported) {
            if (max)
                out[0] = (bs_watch){x->view, x->obj, x->v.buf, x->v.len, x->trusted};
            n = 1;
        }
    } else {
        /* one exporter: its own exports (cheap when many are watched) */
        exporter_rec *o = obj ? engine_exporter(e, obj) : NULL;
        if (obj && !o) {
            engine_unlock_exporter(e, obj);
            return 0;
        }
        if (o) {
            /* none of them watched: no walk of an exporter's thousands of
             * live exports while another object's reader is watched */
            for (export_rec *x = o->nwatched ? o->exports : NULL; x; x = x->obj_next)
                if (x->w)
                    n = add_watch(x, out, n, max);
        } else {
            for (watch_rec *w = e->watched; w; w = w->next)
                n = add_watch(w->x, out, n, max);
        }
    }
    engine_unlock_exporter(e, obj);
    return n;
}

typedef struct {
    bs_watch *out;
    size_t n, max;
    const export_rec *skip;
} overlap_ctx;

static int collect_overlap(watch_rec *w, void *arg)
{
    overlap_ctx *c = arg;
    if (w->x != c->skip)
        c->n = add_watch(w->x, c->out, c->n, c->max);
    return 0;
}

/* The watched exports overlapping [BUF, BUF+LEN), but SKIP; locked. */
static size_t overlap_locked(bs_engine *e, uint64_t buf, int64_t len, const export_rec *skip,
                             bs_watch *out, size_t max)
{
    if (len <= 0 || !e->by_mem)
        return 0;
    overlap_ctx c = {out, 0, max, skip};
    itree_query(e->by_mem, buf, itree_end(buf, len), WITNESS_LIMIT, collect_overlap, &c);
    return c.n;
}

size_t engine_watch_overlap(bs_engine *e, uint64_t buf, int64_t len, bs_watch *out, size_t max)
{
    if (!__atomic_load_n(&e->watched, __ATOMIC_ACQUIRE))
        return 0;
    engine_lock(e);
    size_t n = overlap_locked(e, buf, len, NULL, out, max);
    engine_unlock(e);
    return n;
}

size_t engine_writer_watch_list(bs_engine *e, uint64_t view, uint64_t obj, bs_watch *out,
                                size_t max)
{
    if (!__atomic_load_n(&e->watched, __ATOMIC_ACQUIRE) ||
        !__atomic_load_n(&e->nwritable, __ATOMIC_RELAXED))
        return 0;
    engine_lock(e);
    size_t n = 0;
    export_rec *y = engine_view_export(e, view, obj);
    if (y && y->obj == obj && export_writable_grant(y))
        n = overlap_locked(e, y->v.buf, y->v.len, y, out, max);
    engine_unlock(e);
    return n;
}
