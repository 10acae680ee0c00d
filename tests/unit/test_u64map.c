/* The hash map under the registry: key 0 (the empty-slot marker) is never
 * stored, and deleting it changes nothing (issue 14 #7: a corrupt trace's
 * releases of view 0 drove the length below zero, and every later
 * insertion doubled the table). */
#include "../../src/common/u64map.h"
#include "check.h"

static void test_key_zero(void)
{
    u64map m;
    CHECK(u64map_init(&m, 16) == 0);
    size_t cap = m.cap;
    CHECK(u64map_put(&m, 7, (void *)1) == 0);
    CHECK(u64map_del(&m, 0) == NULL);
    CHECK(u64map_del(&m, 0) == NULL);
    CHECK(m.len == 1);
    CHECK(u64map_put(&m, 0, (void *)2) == -1);
    CHECK(u64map_get(&m, 0) == NULL);
    CHECK(m.len == 1);
    /* the pattern of the corrupt trace: deletes of 0 between insertions */
    for (uint64_t k = 100; k < 140; k++) {
        CHECK(u64map_put(&m, k, (void *)(uintptr_t)k) == 0);
        u64map_del(&m, 0);
        u64map_del(&m, 0);
    }
    CHECK(m.len == 41);
    CHECK(m.cap <= 8 * cap);
    CHECK(u64map_get(&m, 7) == (void *)1);
    CHECK((uintptr_t)u64map_get(&m, 139) == 139);
    u64map_destroy(&m);
}

static void test_put_get_del(void)
{
    u64map m;
    uint64_t seed = 42;
    CHECK(u64map_init(&m, 4) == 0);
    uint64_t keys[1000];
    for (int i = 0; i < 1000; i++) {
        keys[i] = xorshift64(&seed) | 1;
        CHECK(u64map_put(&m, keys[i], (void *)(uintptr_t)(i + 1)) == 0);
    }
    CHECK(m.len == 1000);
    for (int i = 0; i < 1000; i += 2)
        CHECK((uintptr_t)u64map_del(&m, keys[i]) == (uintptr_t)(i + 1));
    CHECK(m.len == 500);
    for (int i = 0; i < 1000; i++)
        CHECK((uintptr_t)u64map_get(&m, keys[i]) == (i % 2 ? (uintptr_t)(i + 1) : 0));
    u64map_destroy(&m);
}

int main(void)
{
    test_key_zero();
    test_put_get_del();
    return checks_report();
}
