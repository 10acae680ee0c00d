/* See depot.h. Entries are individually allocated and never freed, so the
 * pointers handed out by depot_get stay valid without the lock. */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "depot.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../common/u64map.h"

typedef struct entry {
    uint64_t hash;
    uint32_t npy, nnative;
    uint64_t *words;       /* 2*npy py keys then nnative pcs (the identity) */
    bs_py_frame *py;
    struct entry *chain;   /* same hash bucket key */
} entry;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static entry **entries;    /* id-1 -> entry */
static uint32_t nentries, capentries;
static u64map by_hash;

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

static uint64_t hash_words(const uint64_t *w, size_t n, uint32_t npy)
{
    return hash_two(w, (size_t)npy * 2, w + (size_t)npy * 2, n - (size_t)npy * 2, npy);
}

/* Looks up the stack given as two arrays, without copying them. */
static uint32_t lookup_parts_locked(uint64_t h, const uint64_t *pykeys, uint32_t npy,
                                    const uint64_t *pcs, uint32_t nnative);

/* The id is kept in the first slot after the words to avoid a scan. */
typedef struct {
    entry e;
    uint32_t id;
} entry_with_id;

static uint32_t lookup_locked(uint64_t h, const uint64_t *w, size_t n, uint32_t npy)
{
    for (entry *e = u64map_get(&by_hash, h); e; e = e->chain)
        if (e->npy == npy && (size_t)e->npy * 2 + e->nnative == n &&
            !memcmp(e->words, w, n * sizeof *w))
            return ((entry_with_id *)e)->id;
    return 0;
}

static uint32_t insert_locked(uint64_t h, uint64_t *words, uint32_t npy, uint32_t nnative,
                              bs_py_frame *py)
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
    entry_with_id *ew = calloc(1, sizeof *ew);
    if (!ew)
        return 0;
    ew->e.hash = h;
    ew->e.npy = npy;
    ew->e.nnative = nnative;
    ew->e.words = words;
    ew->e.py = py;
    ew->e.chain = u64map_get(&by_hash, h);
    entries[nentries++] = &ew->e;
    ew->id = nentries;
    u64map_put(&by_hash, h, &ew->e);
    return ew->id;
}

static uint64_t *copy_words(const uint64_t *pykeys, uint32_t npy, const uint64_t *pcs,
                            uint32_t nnative)
{
    size_t n = (size_t)npy * 2 + nnative;
    uint64_t *w = malloc((n ? n : 1) * sizeof *w);
    if (!w)
        return NULL;
    if (npy)
        memcpy(w, pykeys, (size_t)npy * 2 * sizeof *w);
    if (nnative)
        memcpy(w + (size_t)npy * 2, pcs, nnative * sizeof *w);
    return w;
}

static uint32_t lookup_parts_locked(uint64_t h, const uint64_t *pykeys, uint32_t npy,
                                    const uint64_t *pcs, uint32_t nnative)
{
    for (entry *e = by_hash.cap ? u64map_get(&by_hash, h) : NULL; e; e = e->chain)
        if (e->npy == npy && e->nnative == nnative &&
            (!npy || !memcmp(e->words, pykeys, (size_t)npy * 2 * sizeof *pykeys)) &&
            (!nnative || !memcmp(e->words + (size_t)npy * 2, pcs, nnative * sizeof *pcs)))
            return ((entry_with_id *)e)->id;
    return 0;
}

uint32_t depot_put(const uint64_t *pykeys, uint32_t npy, const uint64_t *pcs, uint32_t nnative,
                   bs_py_resolver resolve)
{
    uint64_t h = hash_two(pykeys, (size_t)npy * 2, pcs, nnative, npy);
    pthread_mutex_lock(&lock);
    uint32_t id = lookup_parts_locked(h, pykeys, npy, pcs, nnative);
    pthread_mutex_unlock(&lock);
    if (id)
        return id;
    uint64_t *w = copy_words(pykeys, npy, pcs, nnative);
    if (!w)
        return 0;
    size_t n = (size_t)npy * 2 + nnative;
    /* new stack: resolve the Python frames outside the lock */
    bs_py_frame *py = calloc(npy ? npy : 1, sizeof *py);
    if (!py) {
        free(w);
        return 0;
    }
    for (uint32_t i = 0; i < npy; i++)
        resolve(&w[2 * i], &py[i]);
    pthread_mutex_lock(&lock);
    id = lookup_locked(h, w, n, npy);
    if (!id)
        id = insert_locked(h, w, npy, nnative, py);
    pthread_mutex_unlock(&lock);
    if (id && entries[id - 1]->words != w) {
        /* another thread inserted it first; the resolver's strings may be
         * shared (pyframes_resolve keeps them), so only the arrays go */
        free(py);
        free(w);
    }
    return id;
}

uint32_t depot_put_resolved(const bs_py_frame *pyin, uint32_t npy, const uint64_t *pcs,
                            uint32_t nnative)
{
    /* offline stacks are keyed by their strings' addresses after interning by
     * the caller; identity is the content, so hash the text */
    uint64_t *keys = calloc(npy ? npy * 2 : 1, sizeof *keys);
    if (!keys)
        return 0;
    for (uint32_t i = 0; i < npy; i++) {
        uint64_t h = 1469598103934665603ULL;
        for (const char *s = pyin[i].file; s && *s; s++)
            h = (h ^ (unsigned char)*s) * 1099511628211ULL;
        for (const char *s = pyin[i].function; s && *s; s++)
            h = (h ^ (unsigned char)*s) * 1099511628211ULL;
        keys[2 * i] = h;
        keys[2 * i + 1] = (uint64_t)pyin[i].line;
    }
    uint64_t *w = copy_words(keys, npy, pcs, nnative);
    free(keys);
    if (!w)
        return 0;
    size_t n = (size_t)npy * 2 + nnative;
    uint64_t h = hash_words(w, n, npy);
    pthread_mutex_lock(&lock);
    uint32_t id = lookup_locked(h, w, n, npy);
    if (!id) {
        bs_py_frame *py = calloc(npy ? npy : 1, sizeof *py);
        if (py) {
            for (uint32_t i = 0; i < npy; i++) {
                py[i].file = strdup(pyin[i].file ? pyin[i].file : "?");
                py[i].function = strdup(pyin[i].function ? pyin[i].function : "?");
                py[i].line = pyin[i].line;
            }
            id = insert_locked(h, w, npy, nnative, py);
            w = NULL;
        }
    }
    pthread_mutex_unlock(&lock);
    free(w);
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
    out->pcs = e->words + (size_t)e->npy * 2;
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
