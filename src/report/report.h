/* Writes findings as text (AddressSanitizer-like) or JSON Lines, keeps the
 * counts for the final summary and the exit status. Symbolizes native frames
 * and reads resolved Python frames from the depot: it never calls Python, so
 * a report can be written from any hook, after finalization, or offline. */
#ifndef BUFSAN_REPORT_REPORT_H
#define BUFSAN_REPORT_REPORT_H

#include <stdint.h>

#include "../common/options.h"
#include "../common/strbuf.h"
#include "../engine/engine.h"

void report_init(const bs_options *opts);

/* Loads the suppressions file (the suppressions option); 0 or -1 + ERR. */
int report_load_suppressions(const char *path, char *err, size_t errlen);

/* Native frames in this module (path) are hidden from stacks that have
 * Python frames: the interpreter's own C frames are noise next to the Python
 * stack. Call for the interpreter executable/libpython, libc, the loader. */
void report_hide_module(const char *path);

/* Same, for the module containing ADDR (resolved when first needed). */
void report_hide_address(uint64_t addr);

/* The test the program is running now (NULL or "": none): findings name it
 * ("test" in JSON, "during test" in text) until the next call. */
void report_set_context(const char *name);

/* Findings of these checks (a bit per bs_check_id) are expected by the
 * program until the next call (a test marked to expect them): counted as
 * suppressed, not printed, not errors; the program still gets them. */
void report_set_expected(uint64_t checks);

/* Calls FN for each finding reported since occurrence FROM, oldest first:
 * its JSON object (one line, as log_format=json writes it when first
 * reported), the context it occurred in, and REPEAT: 0 the first report,
 * 1 an identical finding reported before (JSON is the first report's),
 * 2 an expected finding (report_set_expected). A finding that
 * recurs within one context is listed once. FN returning -1 stops. Returns
 * the number of occurrences so far (the FROM of the next call). Called
 * with the report lock held: FN must not report. */
size_t report_for_each_occurrence(size_t from,
                                  int (*fn)(const char *json, const char *context, int repeat,
                                            void *ctx),
                                  void *ctx);

/* The engine's finding sink. */
void report_finding(const bs_finding *f, void *unused);

/* Writes the end-of-run summary (text: only if anything was found; JSON:
 * always). Idempotent. */
void report_summary(void);

uint64_t report_error_count(void);

/* Has the end-of-run summary been written (exit, halt_on_error)? */
int report_summary_written(void);

/* Child after fork: counts restart (the child's own report). */
void report_after_fork_child(void);

/* Offline reports: findings carry PID instead of this process's. */
void report_set_pid(int pid);

/* Offline reports: an export still held where a trace ends (its process
 * died). Written like a finding, headed "held at end of trace", not counted. */
void report_held(const bs_finding *f);

/* For reports other than findings (the census): where STACK is (its
 * innermost Python frame of the program: the consumer site; a SUMMARY line
 * names an extension's frame first), and the stack itself as text (titled
 * TITLE) or as a JSON object with ROLE. */
void report_stack_location(uint32_t stack, strbuf *b);
void report_stack_text(strbuf *b, const char *title, uint32_t thread, uint32_t stack);
void report_stack_json(strbuf *b, const char *role, uint32_t thread, uint32_t stack);
/* The pid reports name (the recorded one offline). */
int report_current_pid(void);

#endif
