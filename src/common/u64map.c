/* See u64map.h. */
#include "u64map.h"

#include <stdlib.h>

int u64map_init(u64map *m, size_t cap_hint)
{
    size_t cap = 16;
    while (cap < cap_hint * 2)
        cap <<= 1;
    m->keys = calloc(cap, sizeof *m->keys);
    m->vals = calloc(cap, sizeof *m->vals);
    m->cap = cap;
    m->len = 0;
    return (m->keys && m->vals) ? 0 : -1;
}

void u64map_destroy(u64map *m)
{
    free(m->keys);
    free(m->vals);
    m->keys = NULL;
    m->vals = NULL;
    m->cap = m->len = 0;
}

void *u64map_get(const u64map *m, uint64_t key)
{
    if (!m->cap || !key)
        return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = u64_mix(key) & mask;; i = (i + 1) & mask) {
        if (m->keys[i] == key)
            return m->vals[i];
        if (m->keys[i] == 0)
            return NULL;
    }
}

static int grow(u64map *m)
{
    u64map n;
    if (u64map_init(&n, m->cap) < 0)
        return -1;
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i])
            u64map_put(&n, m->keys[i], m->vals[i]);
    u64map_destroy(m);
    *m = n;
    return 0;
}

int u64map_exchange(u64map *m, uint64_t key, void *val, void **old)
{
    *old = NULL;
    if (!key)
        return -1; /* 0 marks an empty slot: it cannot be stored */
    if ((m->len + 1) * 4 > m->cap * 3 && grow(m) < 0)
        return -1;
    size_t mask = m->cap - 1;
    for (size_t i = u64_mix(key) & mask;; i = (i + 1) & mask) {
        if (m->keys[i] == key) {
            *old = m->vals[i];
            m->vals[i] = val;
            return 0;
        }
        if (m->keys[i] == 0) {
            m->keys[i] = key;
            m->vals[i] = val;
            m->len++;
            return 0;
        }
    }
}

int u64map_put(u64map *m, uint64_t key, void *val)
{
    void *old;
    return u64map_exchange(m, key, val, &old);
}

void *u64map_del(u64map *m, uint64_t key)
{
    /* key 0 would "find" the first empty slot and count it as removed: the
     * length went below zero and every later insertion doubled the table */
    if (!m->cap || !key)
        return NULL;
    size_t mask = m->cap - 1;
    size_t i = u64_mix(key) & mask;
    while (m->keys[i] != key) {
        if (m->keys[i] == 0)
            return NULL;
        i = (i + 1) & mask;
    }
    void *val = m->vals[i];
    /* backward-shift: move later entries of the probe chain into the hole */
    size_t hole = i;
    for (size_t j = (i + 1) & mask; m->keys[j]; j = (j + 1) & mask) {
        size_t home = u64_mix(m->keys[j]) & mask;
        int between = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!between) {
            m->keys[hole] = m->keys[j];
            m->vals[hole] = m->vals[j];
            hole = j;
        }
    }
    m->keys[hole] = 0;
    m->vals[hole] = NULL;
    m->len--;
    return val;
}
