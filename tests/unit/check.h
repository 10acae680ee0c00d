/* A minimal test harness: CHECK records a failure and continues; each test
 * binary ends with "N passed, N failed" and a non-zero status on failure. */
#ifndef BUFSAN_TESTS_CHECK_H
#define BUFSAN_TESTS_CHECK_H

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

static inline int checks_report(void)
{
    printf("%d passed, %d failed\n", checks_passed, checks_failed);
    return checks_failed ? 1 : 0;
}

#endif
