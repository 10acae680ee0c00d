/* The exporter census: counts per exporter type and per acquiring stack,
 * and the first stacks that disqualify a type for PyBUF_IMMUTABLE ("nothing
 * changes the memory while held") or would make PyBUF_EXCLUSIVE refuse
 * ("another holder is live"). Called with the engine lock held, from the
 * engine's event handlers; no Python, no memory reads: a change is two
 * different content hashes of the same hold, as the interception layer sent
 * them (only watched exports are hashed: readers and read-only grants). */
#include "census.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"


bs_census *census_new(int64_t hash_limit, int hash_full)
{
    bs_census *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (u64map_init(&c->site_ids, 256) < 0 || u64map_init(&c->type_cache, 64) < 0) {
        census_free(c);
        return NULL;
    }
    c->hash_limit = hash_limit;
    c->hash_full = hash_full;
    return c;
}

void census_free(bs_census *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->ntypes; i++) {
        free(c->types[i].name);
        for (int k = 0; k < CENSUS_EV_COUNT; k++) {
            free(c->types[i].ev_text[k]);
            free(c->types[i].ev_json[k]);
        }
    }
    free(c->types);
    for (size_t i = 0; i < c->nsites; i++)
        free(c->sites[i].name);
    free(c->sites);
    u64map_destroy(&c->site_ids);
    u64map_destroy(&c->type_cache);
    free(c);
}

void census_counts_add(census_counts *to, const census_counts *a)
{
    to->exports += a->exports;
    to->readers += a->readers;
    to->writers += a->writers;
    to->mutated += a->mutated;
    to->unknown += a->unknown;
    to->sampled += a->sampled;
    to->ro += a->ro;
    to->rw += a->rw;
    to->refusals += a->refusals;
    to->flipped += a->flipped;
    if (a->max_holders > to->max_holders)
        to->max_holders = a->max_holders;
}

const char *census_answers(const census_counts *n)
{
    if (n->ro && n->rw)
        return n->flipped ? "ro+rw (flags)" : "ro+rw";
    if (n->rw)
        return "rw";
    return n->ro ? "ro" : "-";
}

void census_immutable_ready(const census_counts *n, char *buf, size_t len)
{
    if (n->mutated)
        snprintf(buf, len, "no (%llu)", (unsigned long long)n->mutated);
    else if (n->rw)
        snprintf(buf, len, "no (rw)");
    else if (n->unknown)
        snprintf(buf, len, "unknown (%llu)", (unsigned long long)n->unknown);
    else
        snprintf(buf, len, n->exports ? "yes" : "-");
}

void engine_set_census(bs_engine *e, bs_census *c)
{
    engine_lock(e);
    e->census = c;
    if (c) {
        /* type-name ids are the engine's own */
        u64map_destroy(&c->type_cache);
        u64map_init(&c->type_cache, 64);
    }
    engine_unlock(e);
}

/* ---- rows ------------------------------------------------------------- */

static uint32_t type_index(bs_census *c, bs_engine *e, uint32_t type_name)
{
    uintptr_t t = (uintptr_t)u64map_get(&c->type_cache, (uint64_t)type_name + 1);
    if (t)
        return (uint32_t)(t - 1);
    const char *name = engine_string(e, type_name);
    if (!*name)
        name = "?";
    size_t i;
    for (i = 0; i < c->ntypes; i++)
        if (!strcmp(c->types[i].name, name))
            break;
    if (i == c->ntypes) {
        if (c->ntypes == c->captypes) {
            size_t cap = c->captypes ? c->captypes * 2 : 16;
            census_type *n = realloc(c->types, cap * sizeof *n);
            if (!n)
                return UINT32_MAX;
            c->types = n;
            c->captypes = cap;
        }
        census_type *ty = &c->types[c->ntypes];
        memset(ty, 0, sizeof *ty);
        if (!(ty->name = strdup(name)))
            return UINT32_MAX;
        c->ntypes++;
    }
    u64map_put(&c->type_cache, (uint64_t)type_name + 1, (void *)(uintptr_t)(i + 1));
    return (uint32_t)i;
}

static census_site *site_of(bs_census *c, uint32_t site)
{
    return site && site <= c->nsites ? &c->sites[site - 1] : NULL;
}

/* The sub-row of TYPE and STACK, + 1; 0 when out of memory. */
static uint32_t site_index(bs_census *c, uint32_t type, uint32_t stack)
{
    uint64_t key = ((uint64_t)type + 1) << 32 | stack;
    uintptr_t s = (uintptr_t)u64map_get(&c->site_ids, key);
    if (s)
        return (uint32_t)s;
    if (c->nsites == c->capsites) {
        size_t cap = c->capsites ? c->capsites * 2 : 64;
        census_site *n = realloc(c->sites, cap * sizeof *n);
        if (!n)
            return 0;
        c->sites = n;
        c->capsites = cap;
    }
    census_site *site = &c->sites[c->nsites++];
    memset(site, 0, sizeof *site);
    site->type = type;
    site->stack = stack;
    u64map_put(&c->site_ids, key, (void *)(uintptr_t)c->nsites);
    return (uint32_t)c->nsites;
}

static void set_evidence(census_evidence *ev, const export_rec *x, uint32_t other,
                         uint32_t other_thread, int32_t other_flags)
{
    if (ev->acquire || ev->other)
        return; /* the first one is kept */
    ev->acquire = x->stack;
    ev->acquire_thread = x->thread;
    ev->flags = x->flags;
    ev->other = other;
    ev->other_thread = other_thread;
    ev->other_flags = other_flags;
}

/* ---- hooks ------------------------------------------------------------ */

void census_on_export(bs_engine *e, export_rec *x, const bs_event *ev)
{
    bs_census *c = e->census;
    uint32_t t = type_index(c, e, x->type_name);
    if (t == UINT32_MAX)
        return;
    uint32_t s = site_index(c, t, x->stack);
    census_site *site = site_of(c, s);
    if (!site)
        return;
    census_type *ty = &c->types[t];
    x->census = (census_hold){.site = s};
    if (ev->hashed && x->v.len > 0) {
        x->census.hashed_start = 1;
        x->census.hash = ev->hash;
    }
    /* the other holders of the same exporter object live now */
    uint32_t holders = 1;
    const export_rec *other = NULL;
    for (const export_rec *y = x->owner->exports; y; y = y->obj_next)
        if (y != x && y->in_view_map) {
            holders++;
            if (!other)
                other = y;
        }
    int writes = export_may_write(x);
    int flipped = x->owner->answers.seen[0] && x->owner->answers.seen[1];
    census_counts *rows[2] = {&ty->n, &site->n};
    for (int i = 0; i < 2; i++) {
        census_counts *n = rows[i];
        n->exports++;
        n->readers += !writes;
        n->writers += writes;
        n->ro += x->v.readonly != 0;
        n->rw += x->v.readonly == 0;
        n->refusals += other != NULL;
        if (holders > n->max_holders)
            n->max_holders = holders;
        if (flipped)
            n->flipped = 1;
        if (x->census.hashed_start && !c->hash_full && x->v.len > c->hash_limit)
            n->sampled++;
    }
    if (other)
        set_evidence(&ty->ev[CENSUS_EV_REFUSAL], x, other->stack, other->thread, other->flags);
    if (!x->v.readonly)
        set_evidence(&ty->ev[CENSUS_EV_RW], x, 0, 0, 0);
}

/* A hash of X's bytes taken at THREAD/STACK: a change since the last one. */
static void census_hash(bs_engine *e, export_rec *x, uint64_t hash, uint32_t thread,
                        uint32_t stack)
{
    census_hold *h = &x->census;
    if (!h->site || h->closed || !h->hashed_start)
        return;
    if (hash != h->hash && !h->changed) {
        h->changed = 1;
        census_site *site = site_of(e->census, h->site);
        census_type *ty = &e->census->types[site->type];
        site->n.mutated++;
        ty->n.mutated++;
        set_evidence(&ty->ev[CENSUS_EV_MUTATED], x, stack, thread, 0);
    }
    h->hash = hash;
}

void census_on_release(bs_engine *e, export_rec *x, const bs_event *ev)
{
    if (!ev->hashed || x->moved)
        return;
    census_hash(e, x, ev->hash, ev->thread, ev->stack);
    x->census.hashed_end = 1;
}

void census_on_observe(bs_engine *e, const bs_event *ev)
{
    if (!ev->hashed)
        return;
    export_rec *x = engine_view_export(e, ev->view, ev->obj);
    if (!x || x->obj != ev->obj || x->moved || ev->v.buf != x->v.buf || ev->v.len != x->v.len)
        return;
    census_hash(e, x, ev->hash, ev->thread, ev->stack);
    /* the exporter's last look at it: the end of what can be known */
    if (ev->observe_point == BS_OBS_DEALLOC || ev->observe_point == BS_OBS_FINALIZE)
        x->census.hashed_end = 1;
}

void census_on_gone(bs_engine *e, export_rec *x)
{
    census_hold *h = &x->census;
    if (!h->site || h->closed)
        return;
    h->closed = 1;
    census_site *site = site_of(e->census, h->site);
    if (!site)
        return;
    census_type *ty = &e->census->types[site->type];
    /* moved or resized under its holder: its memory changed */
    if (x->moved && !h->changed) {
        h->changed = 1;
        site->n.mutated++;
        ty->n.mutated++;
        set_evidence(&ty->ev[CENSUS_EV_MUTATED], x, 0, 0, 0);
    }
    /* an empty hold has no bytes to change */
    if (x->v.readonly && x->v.len > 0 && !h->changed && !(h->hashed_start && h->hashed_end)) {
        site->n.unknown++;
        ty->n.unknown++;
        set_evidence(&ty->ev[CENSUS_EV_UNKNOWN], x, 0, 0, 0);
    }
}

void engine_census_flush(bs_engine *e)
{
    engine_lock(e);
    if (e->census)
        for (export_rec *x = live_first(e); x; x = live_next(e, x))
            census_on_gone(e, x);
    engine_unlock(e);
}

void engine_census_after_fork_child(bs_engine *e)
{
    bs_census *c = e->census;
    if (!c)
        return;
    for (export_rec *x = live_first(e); x; x = live_next(e, x))
        x->census.closed = 1;
    for (size_t i = 0; i < c->ntypes; i++) {
        census_type *ty = &c->types[i];
        memset(&ty->n, 0, sizeof ty->n);
        memset(ty->ev, 0, sizeof ty->ev);
        for (int k = 0; k < CENSUS_EV_COUNT; k++) {
            free(ty->ev_text[k]);
            free(ty->ev_json[k]);
            ty->ev_text[k] = ty->ev_json[k] = NULL;
        }
    }
    for (size_t i = 0; i < c->nsites; i++)
        memset(&c->sites[i].n, 0, sizeof c->sites[i].n);
}
