/* The findings of this process, each distinct one kept once: two findings
 * are the same when they name the same check, the same exporter type and
 * request flags, and stacks with the same roles and frames (Python frames by
 * file, line and function, native ones by address: code exec()'d again or
 * run in another subinterpreter has new code objects, not new frames;
 * native frames a report hides, those of the interpreter under a Python
 * frame, are left out: 3.12+'s evaluation loop calls from a different
 * place once a call is specialized).
 * The first is printed; the others only add to its counts.
 * The SARIF log, the suppression lines and the run record are written from
 * here at exit. Not thread-safe: the report lock covers it. */
#ifndef BUFSAN_REPORT_FINDLOG_H
#define BUFSAN_REPORT_FINDLOG_H

#include <stddef.h>
#include <stdint.h>

#include "../engine/engine.h"

typedef struct {
    bs_finding first;       /* the report as first printed */
    uint64_t occurrences;   /* how many identical reports arrived */
    uint64_t count;         /* their counts summed */
    int64_t bytes;          /* their bytes summed */
    char fingerprint[17];   /* set by the report layer when first printed */
    char location[640];     /* "file:line in function", likewise */
    char test[512];         /* the test running then (report_set_context), likewise */
} bs_logged_finding;

typedef struct {
    bs_logged_finding *items;
    size_t n, cap;
    /* does a report show native frame PC of a stack with Python frames?
     * (NULL: every frame counts) */
    int (*shown)(uint64_t pc);
} bs_finding_log;

/* Adds F: returns its entry and sets *IS_NEW to 1 when no identical finding
 * was logged before (then the caller prints it). NULL when out of memory. */
bs_logged_finding *findlog_add(bs_finding_log *log, const bs_finding *f, int *is_new);

/* The entry identical to F, or NULL (nothing is added). */
bs_logged_finding *findlog_find(bs_finding_log *log, const bs_finding *f);

/* Number of reports that repeated an earlier one. */
uint64_t findlog_repeats(const bs_finding_log *log);

void findlog_clear(bs_finding_log *log);

#endif
