/* A minimal test harness: CHECK records a failure and continues; each test
 * binary ends with "N passed, N failed" and a non-zero status on failure. */
#ifndef BUFSAN_TESTS_CHECK_H
#define BUFSAN_TESTS_CHECK_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int checks_passed, checks_failed;

#define CHECK(cond)                                                                \
    do {                                                                           \
        if (cond) {                                                                \
            checks_passed++;                                                       \
        } else {                                                                   \
            checks_failed++;                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                          \
    } while (0)

#define CHECK_STR(a, b) CHECK(strcmp((a), (b)) == 0)

/* xorshift64: reproducible pseudo-random numbers for randomized tests */
static inline uint64_t xorshift64(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

static inline int checks_report(void)
{
    printf("%d passed, %d failed\n", checks_passed, checks_failed);
    return checks_failed ? 1 : 0;
}

#endif
