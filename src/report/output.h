/* Where reports go: stderr, or <log_path>.<pid> (or log_path with %p
 * expanded), opened on first write so that each process of a tree writes its
 * own file. Writes with write(2), no stdio buffering, so a fork or a crash
 * never duplicates or loses a finished report. */
#ifndef BUFSAN_REPORT_OUTPUT_H
#define BUFSAN_REPORT_OUTPUT_H

#include <stddef.h>

void output_configure(const char *log_path);
void output_write(const char *data, size_t len);
/* The path written to in this process, or NULL for stderr. */
const char *output_path(void);
/* After fork in the child: the next write opens the child's own file. */
void output_after_fork_child(void);

#endif
