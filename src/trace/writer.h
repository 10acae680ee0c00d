/* The trace writer (trace= option): every event the engine consumes, the
 * stacks and type names they refer to, the module map, the findings
 * reported online, into a memory-mapped file written in place, so that
 * whatever was recorded is in the file when the process dies in any way.
 * No Python. All entry points are cheap no-ops when no trace is open. */
#ifndef BUFSAN_TRACE_WRITER_H
#define BUFSAN_TRACE_WRITER_H

#include <stdint.h>

#include "../engine/engine.h"

/* Opens <tmpl>.<pid> (or TMPL with %p replaced by the pid) and records
 * ENGINE's events from now on. OPTIONS is written for the record.
 * Returns 0, or -1 with a one-line message in ERR. */
int trace_open(const char *tmpl, bs_engine *engine, const char *options, char *err, size_t errlen);

/* The engine's sink while tracing: records the finding, then hands it to
 * report_finding (CTX is passed on). */
void trace_finding_sink(const bs_finding *f, void *ctx);

/* Frames of the module containing ADDR are hidden in reports (the
 * interpreter): recorded so that offline reports hide them too. */
void trace_hide_address(uint64_t addr);

/* An exporter type was instrumented. */
void trace_type_patched(const char *name);

/* The test the program runs from now on (a pytest nodeid; NULL or "":
 * none): findings and exports after this record belong to it. Kept, so
 * that a forked child's file starts with it. */
void trace_test(const char *name);

/* After fork, in the child: drop the parent's file; the child's own file is
 * opened at its first event, starting with the exports it inherited. */
void trace_after_fork_child(void);

/* The process is exiting with STATUS: an END record, file trimmed. */
void trace_close(int status);

/* Bytes and events written so far (for measurements). */
void trace_stats(uint64_t *bytes, uint64_t *events);

#endif
