/* See depot.h. Entries and frame records are individually allocated and
 * never freed, so the pointers handed out by depot_get stay valid without
 * the lock. */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "depot.h"

#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../common/u64map.h"

/* One distinct Python frame: its key and what it resolved to. */
typedef struct frame_rec {
    uint64_t key[2];
    bs_py_frame f;
    struct frame_rec *chain; /* same hash */
} frame_rec;

#define REC_OF(frame) ((const frame_rec *)(const void *)((const char *)(frame) - offsetof(frame_rec, f)))

typedef struct entry {
    uint64_t hash;
    uint32_t npy, nnative, id;
    struct entry *chain; /* same hash bucket key */
    uint64_t *pcs;
    const bs_py_frame *py[]; /* npy frames, then the pcs */
} entry;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static entry **entries; /* id-1 -> entry */
static uint32_t nentries, capentries;
static u64map by_hash;   /* stack hash -> entry chain */
static u64map frames;    /* frame key hash -> frame_rec chain */

/* Hash of the words a (n_a of them) followed by b (n_b). Only the innermost
 * 16 words of each part are hashed (with both lengths): stacks that differ
 * deeper share a bucket and are told apart by the comparison of the words,
 * while hashing whole 40-frame stacks cost 10% of a test suite's time. */
#define HASHED_WORDS 16
static uint64_t hash_two(const uint64_t *a, size_t n_a, const uint64_t *b, size_t n_b, uint32_t npy)
{
    uint64_t ha = XXH3_64bits(a, (n_a < HASHED_WORDS ? n_a : HASHED_WORDS) * sizeof *a);
    uint64_t hb = XXH3_64bits(b, (n_b < HASHED_WORDS ? n_b : HASHED_WORDS) * sizeof *b);
    return u64_mix(ha ^ u64_mix(hb + npy + ((uint64_t)n_a << 20) + ((uint64_t)n_b << 40))) | 1;
}

static uint64_t frame_hash(const uint64_t key[2])
{
    return u64_mix(key[0] ^ (key[1] * 0x9e3779b97f4a7c15ULL)) | 1;
}

static const frame_rec *find_frame_locked(const uint64_t key[2])
{
    for (const frame_rec *r = frames.cap ? u64map_get(&frames, frame_hash(key)) : NULL; r;
         r = r->chain)
        if (r->key[0] == key[0] && r->key[1] == key[1])
            return r;
    return NULL;
}

/* Adds R unless its key is there already; returns the record to use. */
static const frame_rec *add_frame_locked(frame_rec *r)
{
    const frame_rec *old = find_frame_locked(r->key);
    if (old)
        return old;
    if (!frames.cap && u64map_init(&frames, 4096) < 0)
        return NULL;
    uint64_t h = frame_hash(r->key);
    r->chain = u64map_get(&frames, h);
    if (u64map_put(&frames, h, r) < 0)
        return NULL;
    return r;
}

static int same_stack(const entry *e, const uint64_t *pykeys, uint32_t npy, const uint64_t *pcs,
                      uint32_t nnative)
{
    if (e->npy != npy || e->nnative != nnative)
        return 0;
    if (nnative && memcmp(e->pcs, pcs, nnative * sizeof *pcs))
        return 0;
    for (uint32_t i = 0; i < npy; i++) {
        const frame_rec *r = REC_OF(e->py[i]);
        if (r->key[0] != pykeys[2 * i] || r->key[1] != pykeys[2 * i + 1])
            return 0;
    }
    return 1;
}

static uint32_t lookup_locked(uint64_t h, const uint64_t *pykeys, uint32_t npy,
                              const uint64_t *pcs, uint32_t nnative)
{
    for (entry *e = by_hash.cap ? u64map_get(&by_hash, h) : NULL; e; e = e->chain)
        if (same_stack(e, pykeys, npy, pcs, nnative))
            return e->id;
    return 0;
}

static uint32_t insert_locked(entry *e)
{
    if (!by_hash.cap && u64map_init(&by_hash, 4096) < 0)
        return 0;
    if (nentries == capentries) {
        uint32_t cap = capentries ? capentries * 2 : 4096;
        entry **n = realloc(entries, cap * sizeof *n);
        if (!n)
            return 0;
        entries = n;
        capentries = cap;
    }
    e->chain = u64map_get(&by_hash, e->hash);
    if (u64map_put(&by_hash, e->hash, e) < 0)
        return 0;
    entries[nentries++] = e;
    e->id = nentries;
    return e->id;
}

/* Resolves the frames of a new stack: RESOLVE(key) for a live process,
 * copies of GIVEN[i] offline. */
typedef struct {
    bs_py_resolver resolve;
    const bs_py_frame *given;
} frame_source;

static void free_frame(frame_rec *r, const frame_source *src)
{
    if (src->given) {
        free((char *)r->f.file);
        free((char *)r->f.function);
    } /* else the strings are the resolver's, shared */
    free(r);
}

static frame_rec *new_frame(const uint64_t *key, uint32_t i, const frame_source *src)
{
    frame_rec *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->key[0] = key[0];
    r->key[1] = key[1];
    if (src->given) {
        const bs_py_frame *g = &src->given[i];
        r->f.file = strdup(g->file ? g->file : "?");
        r->f.function = strdup(g->function ? g->function : "?");
        r->f.line = g->line;
        if (!r->f.file || !r->f.function) {
            free_frame(r, src);
            return NULL;
        }
    } else {
        src->resolve(key, &r->f);
    }
    return r;
}

static uint32_t put(uint64_t h, const uint64_t *pykeys, uint32_t npy, const uint64_t *pcs,
                    uint32_t nnative, const frame_source *src)
{
    pthread_mutex_lock(&lock);
    uint32_t id = lookup_locked(h, pykeys, npy, pcs, nnative);
    pthread_mutex_unlock(&lock);
    if (id)
        return id;
    entry *e = calloc(1, sizeof *e + (size_t)npy * sizeof e->py[0] + (size_t)nnative * sizeof *pcs);
    if (!e)
        return 0;
    e->hash = h;
    e->npy = npy;
    e->nnative = nnative;
    e->pcs = (uint64_t *)(void *)&e->py[npy];
    if (nnative)
        memcpy(e->pcs, pcs, nnative * sizeof *pcs);
    /* the frames stored already, then the new ones resolved outside the lock
     * (a resolver may call into the interpreter) */
    pthread_mutex_lock(&lock);
    for (uint32_t i = 0; i < npy; i++) {
        const frame_rec *r = find_frame_locked(&pykeys[2 * i]);
        e->py[i] = r ? &r->f : NULL;
    }
    pthread_mutex_unlock(&lock);
    frame_rec *fresh[256];
    uint32_t nfresh = 0;
    for (uint32_t i = 0; i < npy; i++) {
        if (e->py[i])
            continue;
        frame_rec *r = nfresh < 256 ? new_frame(&pykeys[2 * i], i, src) : NULL;
        if (!r) {
            for (uint32_t k = 0; k < nfresh; k++)
                free_frame(fresh[k], src);
            free(e);
            return 0;
        }
        fresh[nfresh++] = r;
        e->py[i] = &r->f;
    }
    pthread_mutex_lock(&lock);
    for (uint32_t i = 0, k = 0; i < npy && k < nfresh; i++) {
        if (e->py[i] != &fresh[k]->f)
            continue;
        const frame_rec *r = add_frame_locked(fresh[k]);
        if (r != fresh[k]) {
            /* another thread stored it meanwhile (or out of memory) */
            free_frame(fresh[k], src);
            fresh[k] = NULL;
        }
        e->py[i] = r ? &r->f : NULL;
        k++;
    }
    int complete = 1;
    for (uint32_t i = 0; i < npy; i++)
        complete &= e->py[i] != NULL;
    id = complete ? lookup_locked(h, pykeys, npy, pcs, nnative) : 0;
    int stored = 0;
    if (!id && complete)
        stored = (id = insert_locked(e)) != 0;
    pthread_mutex_unlock(&lock);
    if (!stored)
        free(e); /* another thread stored the stack first, or out of memory */
    return id;
}

uint32_t depot_put(const uint64_t *pykeys, uint32_t npy, const uint64_t *pcs, uint32_t nnative,
                   bs_py_resolver resolve)
{
    frame_source src = {resolve, NULL};
    return put(hash_two(pykeys, (size_t)npy * 2, pcs, nnative, npy), pykeys, npy, pcs, nnative,
               &src);
}

uint32_t depot_put_resolved(const bs_py_frame *pyin, uint32_t npy, const uint64_t *pcs,
                            uint32_t nnative)
{
    /* offline frames are keyed by their text: a hash of file and function,
     * and the line */
    uint64_t *keys = calloc(npy ? npy * 2 : 1, sizeof *keys);
    if (!keys)
        return 0;
    for (uint32_t i = 0; i < npy; i++) {
        uint64_t h = fnv1a_str(FNV1A_BASIS, pyin[i].file ? pyin[i].file : "");
        keys[2 * i] = fnv1a_str(h, pyin[i].function ? pyin[i].function : "");
        keys[2 * i + 1] = (uint64_t)pyin[i].line;
    }
    frame_source src = {NULL, pyin};
    uint32_t id = put(hash_two(keys, (size_t)npy * 2, pcs, nnative, npy), keys, npy, pcs,
                      nnative, &src);
    free(keys);
    return id;
}

int depot_get(uint32_t id, bs_stack *out)
{
    pthread_mutex_lock(&lock);
    entry *e = (id && id <= nentries) ? entries[id - 1] : NULL;
    pthread_mutex_unlock(&lock);
    if (!e)
        return -1;
    out->npy = e->npy;
    out->nnative = e->nnative;
    out->py = e->py;
    out->pcs = e->pcs;
    return 0;
}

uint32_t depot_size(void)
{
    return nentries;
}

void depot_after_fork_child(void)
{
    pthread_mutex_init(&lock, NULL);
}
