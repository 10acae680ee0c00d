/* Suppressions: one rule per line, "check:pattern", '#' comments. The
 * pattern is a glob matched against every frame's function name, Python
 * file path and native module path, or, with a "type:" prefix, against the
 * exporter's type name. Each rule counts what it suppressed. */
#ifndef BUFSAN_REPORT_SUPPRESS_H
#define BUFSAN_REPORT_SUPPRESS_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "../common/checks.h"

typedef struct {
    bs_check_id check;
    int is_type;          /* pattern applies to the exporter type */
    char *pattern;
    char *text;           /* the line as written, for the summary */
    int line;
    uint64_t hits;
} bs_suppression;

typedef struct {
    bs_suppression *rules;
    size_t n;
    char *path;
} bs_suppressions;

/* Loads PATH; returns 0, or -1 with a one-line message naming the file,
 * the line and what is wrong. */
int suppressions_load(bs_suppressions *s, const char *path, char *err, size_t errlen);
/* The same over an open stream; PATH names it in messages. */
int suppressions_read(bs_suppressions *s, FILE *f, const char *path, char *err, size_t errlen);
void suppressions_free(bs_suppressions *s);

/* What a finding offers to match: strings per frame and the type. */
typedef struct {
    const char *const *strings; /* function names, files, modules */
    size_t nstrings;
    const char *type_name;
} bs_match_subject;

/* Returns the rule that suppresses CHECK for SUBJECT (and counts it), or NULL. */
bs_suppression *suppressions_match(bs_suppressions *s, bs_check_id check,
                                   const bs_match_subject *subject);

#endif
