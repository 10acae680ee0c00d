/* A finding with its stacks resolved to plain strings: what the SARIF
 * writer, the GitHub annotations, the suppression generator and the run
 * record read. Built by the report layer from the depot and the symbolizer;
 * built by hand in unit tests. Nothing here points into Python. */
#ifndef BUFSAN_REPORT_RESOLVED_H
#define BUFSAN_REPORT_RESOLVED_H

#include <stdint.h>

#include "../common/strbuf.h"
#include "../engine/engine.h"

typedef struct {
    int python;             /* 1: file/line/function; 0: native */
    const char *file;       /* Python file, or native source file (may be NULL) */
    int line;
    const char *function;   /* may be NULL for native frames */
    const char *module;     /* native module path (NULL for Python frames) */
    uint64_t pc, offset;    /* native only */
} bs_rframe;

typedef struct {
    const char *role;
    const char *title;
    uint32_t thread;
    int nframes;
    const bs_rframe *frames; /* innermost first */
    int location;            /* index of the innermost frame outside the interpreter, or -1 */
} bs_rstack;

typedef struct {
    const bs_finding *f;
    uint64_t occurrences;    /* reports with the same check and stacks (de-duplicated) */
    uint64_t count;          /* f->count summed over the occurrences */
    int64_t bytes;
    int nstacks;
    const bs_rstack *stacks;
    const char *test;        /* the test running when it was first reported, or NULL */
} bs_rfinding;

/* The frame that names where the finding is (SUMMARY line, SARIF location,
 * annotation), or NULL. */
const bs_rframe *rfinding_location(const bs_rfinding *r);

/* A stable 16-hex-digit fingerprint: the check, and per stack its role and
 * the file/module base names and functions of its frames. No addresses, no
 * line numbers: the same bug gets the same fingerprint across runs, builds
 * and unrelated edits. OUT holds at least 17 bytes. */
void rfinding_fingerprint(const bs_rfinding *r, char *out);

/* `, "fields": ["format", "strides"]` (JSON) for a finding about view
 * fields (F->fields), nothing for the others. */
void finding_json_fields(strbuf *b, const bs_finding *f);

#endif
