/* The run record: with run_dir set, every process of a tree writes
 * <run_dir>/<pid>.rec when it ends (normal exit, halt_on_error, os._exit in
 * a forked worker), so that the launcher can give one verdict for the tree
 * even when a parent swallows its children's exit statuses. One line per
 * item, tab-separated, tabs and newlines in values replaced by spaces:
 *   bufsan-run	1
 *   process	PID	PPID	ERRORS	WARNINGS	SUPPRESSED	DUPLICATES	COMMAND
 *   finding	SEVERITY	CHECK	OCCURRENCES	COUNT	LOCATION	TYPE
 * TYPE is the exporter's type name, empty when the finding names none.
 * Written to a temporary name and renamed: a reader sees whole files. */
#ifndef BUFSAN_REPORT_RUNREC_H
#define BUFSAN_REPORT_RUNREC_H

#include <stdint.h>

#include "../common/strbuf.h"
#include "resolved.h"

typedef struct {
    int pid, ppid;
    uint64_t errors, warnings, suppressed, duplicates;
    const char *command;
} bs_runrec_process;

void runrec_process_line(strbuf *b, const bs_runrec_process *p);
/* LOCATION is "file:line in function" or similar; the exporter type is
 * taken from R. */
void runrec_finding_line(strbuf *b, const bs_rfinding *r, const char *location);
/* Writes B as DIR/PID.rec; 0 or -1 (errno). */
int runrec_write(const char *dir, int pid, const strbuf *b);

#endif
