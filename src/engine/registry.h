/* The engine's internal state, shared by the registry (engine.c) and the
 * rule files (rules_*.c): live exports, per-exporter state, tombstones.
 * Never included outside src/engine: the public interface is engine.h. */
#ifndef BUFSAN_ENGINE_REGISTRY_H
#define BUFSAN_ENGINE_REGISTRY_H

#include <pthread.h>

#include "../common/u64map.h"
#include "census.h"
#include "engine.h"
#include "itree.h"

/* Another export of the same memory seen live during a watched export's
 * hold: a likely writer when the bytes change. */
typedef struct {
    uint32_t stack, thread, type_name;
    int32_t flags;
    int writer;
} bs_other_export;

#define BS_MAX_OTHERS 4

struct watch_rec;

struct exporter_rec;

typedef struct export_rec {
    uint64_t view, obj;
    struct exporter_rec *owner; /* its exporter's record */
    uint32_t type_name, thread, stack;
    int32_t flags;
    bs_view_fields v;
    uint64_t contents_hash; /* what format/shape/strides/suboffsets held */
    uint64_t holds_view;    /* bs_event.holds_view */
    struct export_rec *prev, *next;         /* all live exports */
    struct export_rec *obj_prev, *obj_next; /* live exports of one exporter */
    struct watch_rec *w;                    /* set while watched: its bytes were hashed */
    uint8_t in_view_map;
    uint8_t inherited; /* live in the parent when this process was forked */
    /* mutation rules (rules_mutation.c) */
    uint8_t consumer;  /* bs_consumer */
    uint8_t moved, reported;
    uint8_t trusted; /* bs_event.trusted */
    uint32_t context; /* the test running when it was acquired (engine string), 0: none */
    census_hold census; /* census.c, when a census is attached */
} export_rec;

/* Is the holder a view object (memoryview, PickleBuffer, a third-party view
 * made in an exporter type's tp_new/tp_init), not a call? */
static inline int consumer_is_view_object(uint32_t consumer)
{
    return consumer == BS_CONSUMER_MEMORYVIEW || consumer == BS_CONSUMER_PICKLEBUFFER ||
           consumer == BS_CONSUMER_VIEW_OBJECT;
}

/* An answer that lets its holder write: a granted PyBUF_WRITABLE request, or
 * a view object's hold on writable memory, which writes without asking. */
static inline int hold_may_write(int readonly, int32_t flags, uint32_t consumer)
{
    return !readonly && ((flags & 0x1 /* PyBUF_WRITABLE */) || consumer_is_view_object(consumer));
}

static inline int export_may_write(const export_rec *x)
{
    return hold_may_write(x->v.readonly, x->flags, x->consumer);
}

/* A granted PyBUF_WRITABLE request: a writer that announced it (its holds
 * are observed at both ends; engine.nwritable counts the live ones). */
static inline int export_writable_grant(const export_rec *x)
{
    return !x->v.readonly && (x->flags & 0x1 /* PyBUF_WRITABLE */);
}

/* What a watched export (a reader whose bytes were hashed) needs besides its
 * record: allocated while it is watched only, so that the other exports
 * cost none of it. Also the node of the interval index (itree.c). */
typedef struct watch_rec {
    /* what a walk of the index reads, first: one cache line per node (the
     * records are 64-byte aligned; a join of 1,000 memoryviews holds 1,000
     * at once) */
    uint64_t buf;
    int64_t len;
    struct watch_rec *it_left, *it_right;
    uint64_t it_maxend;
    uint32_t it_prio;
    int indexed;
    export_rec *x;
    uint64_t hash;
    struct watch_rec *prev, *next; /* all watched exports */
    int nothers;
    bs_other_export others[BS_MAX_OTHERS];
} watch_rec;

/* The WRITABLE answers an exporter gave over its life (rules_writable.c). */
typedef struct {
    uint32_t type_name; /* of the object that answered; 0: no answer yet */
    /* answers to requests without PyBUF_WRITABLE, by readonly value */
    uint8_t seen[2];
    uint8_t granted; /* a PyBUF_WRITABLE request was granted */
    uint8_t reported_live, reported_change, reported_policy;
    uint32_t stack[2], thread[2];
    int32_t flags[2];
    uint32_t granted_stack, granted_thread;
    int32_t granted_flags;
} writable_answers;

/* A release of a copy that matched no live export (engine.c). */
typedef struct pending_release {
    bs_view_fields v;
    struct pending_release *next;
} pending_release;

/* Everything known about one exporter object, from its first export until
 * its deallocation (or the engine's end): one map entry for it all. */
typedef struct exporter_rec {
    uint64_t obj;
    uint32_t nlive;
    export_rec *exports;   /* its live exports */
    uint64_t tomb_seq;     /* its newest tombstone, 0 = none */
    writable_answers answers;
    pending_release *pending; /* unmatched releases of copies */
    /* the memory (buf, len) of its newest export: every live export in the
     * view map and not moved has it (mutation_on_export marks the others
     * moved), so an export of the same memory checks none of them (before
     * the first export: zeros, and no exports to check) */
    uint64_t cur_buf;
    int64_t cur_len;
    uint32_t nwatched; /* its live exports with a watch record (x->w) */
} exporter_rec;

/* A recently released export: evidence for release-unknown. */
typedef struct {
    uint64_t view, obj, buf, internal;
    int64_t len;
    uint32_t acquire_stack, release_stack, acquire_thread, release_thread, type_name;
    int32_t flags;
    uint64_t seq;      /* 1 + its number in the ring's history; 0 = empty */
    uint64_t prev_seq; /* the previous tombstone of the same obj, or 0 */
    /* the exporter's record: alive while the tombstone is (its deallocation
     * clears its tombstones) */
    exporter_rec *owner;
} tombstone;

#define N_TOMBSTONES 4096
#define N_THREAD_LISTS 8
#define N_OBJ_FILTER 4096
/* shards of a free-threaded build's registry (engine_contended); a power
 * of two */
#define N_SHARDS 8
/* tombstones per shard there: more in all than one registry keeps, so
 * that each object's history is as long on average */
#define N_SHARD_TOMBSTONES 1024

#define BS_MAX_FROZEN_THREADS 256

/* A lock: a mutex where the GIL serialises events, a ticket lock where
 * threads contend (see engine.c, engine_lock). */
typedef struct {
    pthread_mutex_t mutex;
    _Atomic uint32_t ticket_next, ticket_owner;
} engine_mutex;

/* The part of the registry that belongs to some exporters: those whose
 * address hashes to it (shard_of). One shard unless threads contend: then
 * an export, release or deallocation that touches nothing but its
 * exporter's records takes its shard's lock alone, and threads that use
 * different exporters do not wait for each other. */
typedef struct engine_shard {
    engine_mutex lock;
    u64map by_view; /* view -> export_rec, of this shard's exporters */
    u64map by_obj;  /* obj -> exporter_rec, until the object's deallocation */
    /* the live exports, one list per thread (number mod N_THREAD_LISTS),
     * newest first: a new export is linked before the last one of its own
     * thread, not another thread's (whose record a free-threaded build
     * had to fetch from the other core at every export) */
    export_rec *live[N_THREAD_LISTS];
    size_t nlive;
    /* recycled records, no malloc per export: one list per thread (number
     * mod N_THREAD_LISTS), so that a record goes back to the thread that
     * acquired it (on a free-threaded build, one list handed each thread's
     * records to the other, their cache lines with them) */
    export_rec *free_exports[N_THREAD_LISTS];
    tombstone *tomb; /* a ring of ntomb */
    size_t ntomb, tomb_next;
} __attribute__((aligned(64))) engine_shard;

struct bs_engine {
    engine_shard *shards;
    unsigned nshards; /* 1, or N_SHARDS where threads contend */
    int contended;    /* engine_contended: the ticket lock, not the mutex */
    bs_event_recorder recorder;
    void *recorder_ctx;
    const bs_options *opts;
    bs_finding_sink sink;
    void *sink_ctx;
    /* exporter records per bucket of their objects' addresses (obj_count):
     * changed atomically under a shard's lock, read without it by
     * engine_has_exporter, which every deallocation of an exporter type
     * asks */
    uint32_t obj_filter[N_OBJ_FILTER];
    struct watch_rec *by_mem; /* interval index of the watched exports (rules_mutation.c) */
    /* live exports granted PyBUF_WRITABLE: changed atomically under a
     * shard's lock, read without it (engine_writer_watch_list: most
     * releases are not a writer's, and then cost no lock) */
    size_t nwritable;
    char **strings;
    size_t nstrings, capstrings;
    u64map string_ids;   /* hash -> id+1 (collisions resolved by scan) */
    int finalized;
    uint32_t context; /* the test running now (engine_set_context), 0: none */
    /* the interpreter's lifetime in an embedder that initializes it again
     * after Py_FinalizeEx (BS_EV_LIFETIME): 1, 2, ... */
    unsigned lifetime;
    /* threads still running Python when finalization began (daemon
     * threads): CPython freezes them and never clears their frames, so
     * what they hold is not leaked (engine_thread_outlives_program) */
    uint32_t frozen_threads[BS_MAX_FROZEN_THREADS];
    uint32_t frozen_stacks[BS_MAX_FROZEN_THREADS]; /* their Python frames then */
    int nfrozen;
    /* rules_mutation.c: live exports carrying a content hash (atomic
     * stores, so that it can be tested without a lock). It and what hangs
     * from it (by_mem, free_watches, the side records' lists of other
     * exports) are read and changed under the watch lock
     * (engine_watch_lock), taken after a shard's lock or every shard's. */
    struct watch_rec *watched;
    struct watch_rec *free_watches; /* recycled side records (next-linked) */
    engine_mutex watch_lock;
    bs_census *census; /* the exporter census, or NULL (engine_set_census) */
};

/* An object's address scattered over 64 bits: its top bits pick its
 * shard and its exporter-count bucket (obj_count). */
static inline uint64_t obj_scatter(uint64_t obj) { return (obj >> 4) * 0x9e3779b97f4a7c15ULL; }

/* The shard of the exporter at OBJ. */
static inline engine_shard *shard_of(const bs_engine *e, uint64_t obj)
{
    if (e->nshards == 1)
        return e->shards;
    return &e->shards[obj_scatter(obj) >> 61];
}
_Static_assert(N_SHARDS == 1 << 3, "shard_of takes the top 3 bits");

/* The per-thread lists (live, free_exports) of THREAD. */
static inline unsigned thread_list(uint32_t thread) { return thread % N_THREAD_LISTS; }

/* Every live export, with every shard locked: for (x = live_first(e); x;
 * x = live_next(e, x)), shard by shard, thread list by thread list,
 * newest first within each. */
static inline export_rec *live_from(const bs_engine *e, unsigned k)
{
    for (; k < e->nshards * N_THREAD_LISTS; k++) {
        export_rec *x = e->shards[k / N_THREAD_LISTS].live[k % N_THREAD_LISTS];
        if (x)
            return x;
    }
    return NULL;
}
static inline export_rec *live_first(const bs_engine *e) { return live_from(e, 0); }
static inline export_rec *live_next(const bs_engine *e, const export_rec *x)
{
    if (x->next)
        return x->next;
    unsigned shard = (unsigned)(shard_of(e, x->obj) - e->shards);
    return live_from(e, shard * N_THREAD_LISTS + thread_list(x->thread) + 1);
}
/* The live exports of every shard. */
size_t engine_nlive_locked(const bs_engine *e);
/* The live export filled into VIEW: in OBJ's shard, or where OBJ is not
 * known (0), in any (every shard locked). */
export_rec *engine_view_export(bs_engine *e, uint64_t view, uint64_t obj);
/* OBJ's exporter record, or NULL. */
static inline exporter_rec *engine_exporter(bs_engine *e, uint64_t obj)
{
    return u64map_get(&shard_of(e, obj)->by_obj, obj);
}

/* Sends F to the sink at the severity the options give its check. */
void engine_emit(bs_engine *e, bs_finding *f);
/* Is CHECK off? Then a finding of it is not even formatted (some fire on
 * every export of a common pattern: writable-while-shared). */
static inline int engine_check_off(const bs_engine *e, bs_check_id check)
{
    return e->opts->severity[check] == BS_SEV_OFF;
}
void finding_add_stack(bs_finding *f, const char *role, const char *title, uint32_t thread,
                       uint32_t stack);
/* "acquired by thread T%u with %s at:" with the thread and the flag names. */
const char *finding_title(bs_finding *f, const char *fmt, uint32_t thread, int32_t flags);
/* The live export of OBJ whose view a consumer copied before releasing the
 * copy R: the only one whose fields all agree with R, or NULL (*AMBIGUOUS:
 * several agree). */
export_rec *engine_find_copy(bs_engine *e, uint64_t obj, const bs_view_fields *r, int *ambiguous);
/* Fills the exporter and request parts of F from X. */
void finding_from_export(bs_engine *e, bs_finding *f, const export_rec *x);

/* rules_mutation.c */
/* O: the exporter's record */
void mutation_on_export(bs_engine *e, const bs_event *ev, exporter_rec *o);
void mutation_after_export(bs_engine *e, export_rec *x, const bs_event *ev);
void mutation_on_observe(bs_engine *e, const bs_event *ev);
void mutation_on_release(bs_engine *e, export_rec *x, const bs_event *ev);
void mutation_forget(bs_engine *e, export_rec *x);
/* Frees what a record still being freed with the engine holds. */
void mutation_free_record(export_rec *x);
void mutation_free_recycled(bs_engine *e); /* the recycled side records */
/* X is released or dies with its exporter: a witness for the watched
 * exports of the same memory. */
void mutation_on_gone(bs_engine *e, export_rec *x);
/* Locks what the exporter at OBJ owns: its shard (OBJ 0: every shard). */
void engine_lock_exporter(bs_engine *e, uint64_t obj);
void engine_unlock_exporter(bs_engine *e, uint64_t obj);
/* The watched exports' lock, where the registry is in shards (else
 * nothing: the engine's lock covers them). */
void engine_watch_lock(bs_engine *e);
void engine_watch_unlock(bs_engine *e);
/* Does the release EV of watched export X see its bytes changed (compare:
 * a report, or the end of its watch)? */
int mutation_release_changed(const export_rec *x, const bs_event *ev);

/* rules_writable.c */
/* O: the exporter's record (its live exports are the others) */
void writable_on_export(bs_engine *e, const bs_event *ev, exporter_rec *o);

#endif
