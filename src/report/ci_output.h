/* Lines for CI and for users: a suppressions-file line that silences a
 * finding (gen_suppressions=1), a GitHub Actions workflow command that
 * annotates the file and line, and the SARIF 2.1.0 log. Pure functions of
 * resolved findings: no Python, no depot, unit-testable. */
#ifndef BUFSAN_REPORT_CI_OUTPUT_H
#define BUFSAN_REPORT_CI_OUTPUT_H

#include <stddef.h>

#include "../common/strbuf.h"
#include "resolved.h"

/* "check:pattern" (no newline) matching the finding's location: the Python
 * file, else the native function or module, else the exporter type. Glob
 * metacharacters are escaped, so the rule names exactly that place. */
void suppression_line(strbuf *b, const bs_rfinding *r);

/* "::error file=F,line=L,title=bufsan CHECK::message\n" (::warning for
 * warnings), escaped as workflow commands require. */
void github_annotation(strbuf *b, const bs_rfinding *r);

/* A complete SARIF 2.1.0 log with one run: the check table as rules, one
 * result per distinct finding. PID goes into the invocation. */
void sarif_write(strbuf *b, const bs_rfinding *results, size_t n, int pid);
/* The same in pieces, one result at a time (FIRST: no comma before it). */
void sarif_begin(strbuf *b, int pid);
void sarif_result(strbuf *b, const bs_rfinding *r, int first);
void sarif_end(strbuf *b);

#endif
