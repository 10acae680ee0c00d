/* Open-addressing hash map from non-zero 64-bit keys to pointers (linear
 * probing, backward-shift deletion). Allocates with malloc only; not
 * thread-safe (callers hold their own lock). */
#ifndef BUFSAN_COMMON_U64MAP_H
#define BUFSAN_COMMON_U64MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t *keys; /* 0 = empty */
    void **vals;
    size_t cap;     /* power of two */
    size_t len;
} u64map;

int u64map_init(u64map *m, size_t cap_hint);
void u64map_destroy(u64map *m);
void *u64map_get(const u64map *m, uint64_t key);
/* Key 0 is never stored: get and del find nothing, put and exchange fail. */
/* Inserts or replaces; returns 0, or -1 when out of memory or KEY is 0. */
int u64map_put(u64map *m, uint64_t key, void *val);
/* u64map_put that also gives the value it replaced (NULL if none) in *OLD:
 * one probe where a get and a put take two. */
int u64map_exchange(u64map *m, uint64_t key, void *val, void **old);
/* Removes KEY; returns its value or NULL. */
void *u64map_del(u64map *m, uint64_t key);

/* FNV-1a over the bytes of S, continuing from H (start with FNV1A_BASIS). */
#define FNV1A_BASIS 1469598103934665603ULL
static inline uint64_t fnv1a_str(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static inline uint64_t u64_mix(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
}

#endif
