/* The exporter census (issue 18): per exporter type, and per consumer call
 * site under it, what the proposed PyBUF_IMMUTABLE and PyBUF_EXCLUSIVE
 * request flags would mean for the exports bufsan saw. Fed by the engine
 * (one hook per event kind) from a live run or a trace replay; knows only
 * stack ids, never frames: the report layer names the sites. */
#ifndef BUFSAN_ENGINE_CENSUS_H
#define BUFSAN_ENGINE_CENSUS_H

#include <stddef.h>
#include <stdint.h>

#include "../common/u64map.h"
#include "event.h"

/* What one live export carries for the census (inside the engine's export
 * record: no allocation per export). */
typedef struct {
    uint32_t site;        /* its sub-row + 1; 0: not counted */
    uint8_t hashed_start; /* its bytes were hashed at acquisition */
    uint8_t hashed_end;   /* ... and at its release (or the exporter's end) */
    uint8_t changed;      /* two hashes of its bytes differed during the hold */
    uint8_t closed;
    uint64_t hash;        /* the last hash seen */
} census_hold;

typedef struct {
    uint64_t exports;
    uint64_t readers, writers;  /* writers: may write (see may_write) */
    uint64_t mutated;           /* holds whose bytes changed during the hold */
    uint64_t unknown;           /* readonly=1 holds with no hash at one end */
    uint64_t sampled;           /* hashed holds over hash_limit (sampled hash) */
    uint64_t ro, rw;            /* readonly answers 1 / 0 */
    uint64_t refusals;          /* another holder was live: EXCLUSIVE refuses */
    uint32_t max_holders;       /* live exports of one exporter, this one included */
    uint32_t flipped;           /* an exporter object answered both readonly=0 and 1 */
} census_counts;

/* The first stacks (depot ids) of what disqualifies a type. */
typedef struct {
    uint32_t acquire, acquire_thread; /* the disqualified export */
    uint32_t other, other_thread;     /* where the change was seen / the other holder */
    int32_t flags, other_flags;
} census_evidence;

enum { CENSUS_EV_MUTATED, CENSUS_EV_RW, CENSUS_EV_UNKNOWN, CENSUS_EV_REFUSAL, CENSUS_EV_COUNT };

typedef struct {
    char *name;
    census_counts n;
    census_evidence ev[CENSUS_EV_COUNT];
    /* the evidence stacks as the report writes them (text, JSON), rendered
     * while the module map of the process they belong to is loaded */
    char *ev_text[CENSUS_EV_COUNT], *ev_json[CENSUS_EV_COUNT];
} census_type;

typedef struct {
    uint32_t type;  /* index into the types */
    uint32_t stack; /* acquiring stack */
    char *name;     /* its site, once the report named it */
    census_counts n;
} census_site;

typedef struct bs_census {
    census_type *types;
    size_t ntypes, captypes;
    census_site *sites;
    size_t nsites, capsites;
    u64map site_ids;   /* (type + 1) << 32 | stack -> site + 1 */
    u64map type_cache; /* the attached engine's type-name id -> type + 1 */
    int64_t hash_limit; /* as the interception layer samples */
    int hash_full;
} bs_census;

bs_census *census_new(int64_t hash_limit, int hash_full);
void census_free(bs_census *c);

/* Adds A into TO (a sub-row into its merged row). */
void census_counts_add(census_counts *to, const census_counts *a);

/* "ro", "rw", "ro+rw", "ro+rw (flags)": the readonly answers. */
const char *census_answers(const census_counts *n);
/* "yes", "no (17)" (holds mutated), "no (rw)", "unknown (3)" (unhashed). */
void census_immutable_ready(const census_counts *n, char *buf, size_t len);

struct bs_engine;
struct export_rec;
struct exporter_rec;

/* Attaches C to E (NULL: none); C may outlive E and collect the engines of
 * several traces in turn. */
void engine_set_census(struct bs_engine *e, bs_census *c);
/* Closes the holds still live in E (their evidence ends here): before the
 * census is printed. */
void engine_census_flush(struct bs_engine *e);

/* In a forked child: the counts start again (the parent reports its own);
 * the holds inherited are not counted. */
void engine_census_after_fork_child(struct bs_engine *e);

/* Engine hooks, called with the engine lock held. */
void census_on_export(struct bs_engine *e, struct export_rec *x, const bs_event *ev);
void census_on_release(struct bs_engine *e, struct export_rec *x, const bs_event *ev);
void census_on_observe(struct bs_engine *e, const bs_event *ev);
void census_on_gone(struct bs_engine *e, struct export_rec *x);

#endif
