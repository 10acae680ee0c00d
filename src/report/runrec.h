/* The run record: with run_dir set, every process of a tree keeps
 * <run_dir>/<pid>.rec (<pid>.<n>.rec when an earlier process of the same
 * pid left one), so that the launcher can give one verdict for the tree even
 * when a parent swallows its children's exit statuses or kills them. The
 * record is appended to as things happen, one write(2) per item, so a
 * process killed by SIGTERM or SIGKILL leaves what it found: a process
 * started under bufsan creates it with a start line (a forked child, at its
 * first finding or at its end), each finding is appended when it is first
 * reported, and the end adds the process line and the final, de-duplicated
 * list of findings. One line per item, tab-separated, tabs and newlines in
 * values replaced by spaces:
 *   bufsan-run	2
 *   start	PID	PPID	COMMAND
 *   finding	SEVERITY	CHECK	OCCURRENCES	COUNT	LOCATION	TYPE
 *   process	PID	PPID	ERRORS	WARNINGS	SUPPRESSED	DUPLICATES	COMMAND
 *   finding	...   (after the process line: the totals)
 * TYPE is the exporter's type name, empty when the finding names none.
 * A record without a process line belongs to a process that did not end
 * normally; the findings it holds count. */
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

/* "bufsan-run 2" and the start line. */
void runrec_start_lines(strbuf *b, int pid, int ppid, const char *command);
void runrec_process_line(strbuf *b, const bs_runrec_process *p);
/* LOCATION is "file:line in function" or similar; the exporter type is
 * taken from R. */
void runrec_finding_line(strbuf *b, const bs_rfinding *r, const char *location);
/* Creates this process's record in DIR holding START (the start lines);
 * returns a descriptor to append to (close-on-exec), or -1 (errno). */
int runrec_create(const char *dir, int pid, const strbuf *start);
/* Appends B with one write(2); 0 or -1 (errno). */
int runrec_append(int fd, const strbuf *b);

#endif
