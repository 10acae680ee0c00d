/* The engine: a registry of live exports and per-exporter state, fed with
 * events, emitting findings. It knows nothing of Python: the same engine
 * runs in the process and over a trace. Thread-safe: engine_process takes
 * the engine lock (events arrive under the GIL in practice), or, where
 * threads contend, the lock of the exporter's shard alone for the common
 * events (see engine_contended). */
#ifndef BUFSAN_ENGINE_ENGINE_H
#define BUFSAN_ENGINE_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "../common/checks.h"
#include "../common/options.h"
#include "event.h"

#define BS_MAX_FINDING_STACKS 6

typedef struct {
    const char *role;  /* "acquire", "release", "dealloc", "earlier-release" */
    const char *title; /* "acquired by thread T0 with PyBUF_SIMPLE at:" (text) */
    uint32_t thread;
    uint32_t stack;    /* depot id */
} bs_finding_stack;

typedef struct {
    bs_check_id check;
    bs_severity severity;
    char message[512];
    int has_exporter;
    const char *exporter_type;
    uint64_t exporter_addr;
    int64_t exporter_len;
    int exporter_readonly;
    int has_request;
    int32_t flags;
    uint64_t count;
    int64_t bytes;
    /* the view fields a getbuffer conformance finding is about (BS_FIELD_*
     * of view_check.h), every one of them; 0: none */
    uint32_t fields;
    int nstacks;
    bs_finding_stack stacks[BS_MAX_FINDING_STACKS];
    /* the highest severity this finding may have (0: the check's own);
     * e.g. inconsistent-writable answers with no overlap are warnings */
    bs_severity max_severity;
    /* the test (a pytest nodeid) the finding belongs to when it is not the
     * one running as it is reported: a leak at exit names the test that
     * acquired its export. NULL: the test running now. */
    const char *test;
    /* where the stacks' titles are written (finding_title); the last one
     * takes those beyond BS_MAX_FINDING_STACKS, which are not kept */
    char titles[BS_MAX_FINDING_STACKS + 1][320];
    int ntitles;
} bs_finding;

/* Where findings go. */
typedef void (*bs_finding_sink)(const bs_finding *f, void *ctx);

typedef struct bs_engine bs_engine;

bs_engine *engine_new(const bs_options *opts, bs_finding_sink sink, void *sink_ctx);
void engine_free(bs_engine *e);

/* Consumes one event; may emit findings through the sink. */
void engine_process(bs_engine *e, const bs_event *ev);

/* Is there live state about this exporter object? (cheap, for dealloc hooks) */
int engine_has_exporter(bs_engine *e, uint64_t obj);

/* Was an export with the acquiring STACK made by an extension module's
 * initialization (kept in the module's state: still reachable, not lost)?
 * The leak check at exit and the pytest checkpoint ask the same. */
int engine_held_by_module(uint32_t stack);

/* Does the registry hold a live export filled into VIEW for OBJ? */
int engine_has_live_view(bs_engine *e, uint64_t view, uint64_t obj);

/* Number of live exports. */
size_t engine_live_exports(bs_engine *e);

/* Stack ids of every live export (for resolving names before the
 * interpreter goes away). Calls FN for each. */
void engine_for_each_live_stack(bs_engine *e, void (*fn)(uint32_t stack, void *ctx), void *ctx);

/* The test the program runs from now on (a pytest nodeid; NULL or "":
 * none): exports acquired from now on remember it, and a leak of them at
 * exit names it (bs_finding.test). */
void engine_set_context(bs_engine *e, const char *name);

/* Interned strings (type names). Id 0 is "". */
uint32_t engine_intern(bs_engine *e, const char *s);
const char *engine_string(bs_engine *e, uint32_t id);

/* After fork in the child: reinitialise the lock; the live exports are the
 * parent's (released normally if the child releases them, never reported
 * as the child's leaks). */
void engine_after_fork_child(bs_engine *e);

/* THREAD (a bs_event.thread) was still running Python when the interpreter
 * began to finalize: a daemon thread, which CPython stops where it stands
 * without clearing its frames. What it holds at the end is not reported as
 * leaked-export. */
void engine_thread_outlives_program(bs_engine *e, uint32_t thread, uint32_t stack);
/* Locks the whole engine (every shard). */
void engine_lock(bs_engine *e);
/* Threads will contend for E (a free-threaded build): its registry is
 * split into shards by exporter, each with a ticket lock, handed over in
 * arrival order (engine_lock). Call before any event and before any other
 * thread uses E. */
void engine_contended(bs_engine *e);
void engine_unlock(bs_engine *e);

/* A recorder sees every event engine_process consumes, in order, under the
 * engine lock, before the rules run (trace files). NULL: none. */
typedef void (*bs_event_recorder)(const bs_event *ev, void *ctx);
void engine_set_recorder(bs_engine *e, bs_event_recorder fn, void *ctx);

/* Calls FN with an export event (the fields it was recorded with) for each
 * live export, oldest first. Takes no lock: call with the engine locked, from
 * a recorder or a sink, or when single-threaded. */
void engine_for_each_live_export(bs_engine *e, void (*fn)(const bs_event *ev, void *ctx), void *ctx);
/* Should the interception layer hash the bytes of an export with these
 * request FLAGS, READONLY answer and CONSUMER (bs_consumer)? Only readers
 * and read-only grants are watched, and only while their check is on. */
int engine_wants_hash(const bs_options *opts, int32_t flags, int readonly, uint32_t consumer);

/* Is any live export watched (hashed)? No lock: the mutation slots' first
 * question, asked at every item assignment of an exporter. */
int engine_any_watched(bs_engine *e);

/* A live export whose content hash must be taken at an observation point. */
typedef struct {
    uint64_t view, obj, buf;
    int64_t len;
    int trusted; /* bs_event.trusted of its export */
} bs_watch;

/* Fills OUT (up to MAX) with the live hashed exports to observe: the one
 * filled into VIEW (a release; VIEW != 0, or the one whose view COPY is a
 * copy of, as a release matches), else every one of OBJ (OBJ != 0), else
 * all of them.
 * Exports whose memory may have moved are left out: it may be gone.
 * Returns how many there are (may exceed MAX). */
size_t engine_watch_list(bs_engine *e, uint64_t obj, uint64_t view, const bs_view_fields *copy,
                         bs_watch *out, size_t max);

/* The watched exports whose memory overlaps [BUF, BUF+LEN): observed
 * around a write there (BS_OBS_WRITE_BEFORE / AFTER). */
size_t engine_watch_overlap(bs_engine *e, uint64_t buf, int64_t len, bs_watch *out, size_t max);

/* When the live export filled into VIEW for OBJ was granted PyBUF_WRITABLE:
 * the watched exports of the same memory, which its release ends a write
 * of (BS_OBS_WRITE_AFTER). */
size_t engine_writer_watch_list(bs_engine *e, uint64_t view, uint64_t obj, bs_watch *out,
                                size_t max);

/* Writes "PyBUF_FULL_RO" / "PyBUF_ND|PyBUF_WRITABLE" for FLAGS into BUF. */
void bs_flag_names(int32_t flags, char *buf, size_t len);

#endif
