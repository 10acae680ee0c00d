/* The HTML timeline of `bufsan report --html`: one self-contained page, the
 * findings first, then one lane per exporter (grouped by type and acquiring
 * stack), a bar per hold (export to release) coloured by kind of access,
 * findings marked; clicking shows the stacks. Fed by the replay. */
#ifndef BUFSAN_TOOLS_HTML_H
#define BUFSAN_TOOLS_HTML_H

#include <stddef.h>
#include <stdint.h>

#include "../engine/engine.h"

typedef struct html_doc html_doc;

html_doc *html_new(void);
void html_begin_process(html_doc *d, uint32_t pid, const char *trace_path);
void html_process_info(html_doc *d, uint32_t pid, uint32_t ppid, const char *exe, uint64_t start_ns);
/* Events (stack ids are depot ids), NOW in ns since the process started. */
void html_event_before(html_doc *d, uint32_t pid, uint64_t now, const bs_event *ev, bs_engine *e);
void html_event_after(html_doc *d, uint32_t pid, uint64_t now, const bs_event *ev, bs_engine *e);
/* The test the current process runs from now on (a pytest nodeid; NULL or
 * "": none): the exports acquired and findings made from now on name it (a
 * leak names the test of its bs_finding.test instead). */
void html_test(html_doc *d, const char *name);
void html_finding(html_doc *d, uint32_t pid, uint64_t now, const bs_finding *f);
/* DIED: the trace has no end record (holds still open are "held at end"). */
void html_end_process(html_doc *d, uint32_t pid, uint64_t now, bs_engine *e, int died);
int html_write(html_doc *d, const char *path, char *err, size_t errlen);
void html_free(html_doc *d);

#endif
