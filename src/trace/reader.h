/* The trace reader: decodes a trace held in memory, record by record.
 * Never trusts the input: every length, count and id is checked, and a
 * truncated, corrupted or newer-version file yields the records before the
 * damage plus a one-line description of where and why reading stopped. */
#ifndef BUFSAN_TRACE_READER_H
#define BUFSAN_TRACE_READER_H

#include <stddef.h>
#include <stdint.h>

#include "../engine/engine.h"
#include "../stacks/depot.h"
#include "format.h"

typedef struct {
    const char *role;
    uint32_t thread, stack;
} tr_finding_stack;

typedef struct {
    tr_record_type type;
    size_t offset; /* of the record in the file */
    union {
        struct {
            uint32_t pid, ppid;
            uint64_t start_ns, realtime_ns;
            const char *exe, *options;
        } process;
        struct {
            uint64_t bias, lo, hi;
            const char *path;
            const uint8_t *build_id;
            size_t build_id_len;
        } module;
        struct {
            uint32_t id;
            const char *text;
        } string; /* TR_STRING, TR_TYPENAME */
        struct {
            uint32_t id, npy, nnative;
            const bs_py_frame *py;
            const uint64_t *pcs;
        } stack;
        struct {
            uint32_t thread;
            uint64_t os_tid;
        } thread;
        struct {
            bs_event ev;
            uint64_t time_ns; /* monotonic clock of the writer */
        } event;
        struct {
            const char *check, *message;
            int severity;
            uint64_t count;
            int64_t bytes;
            int nstacks;
            tr_finding_stack stacks[BS_MAX_FINDING_STACKS];
        } finding;
        struct {
            uint64_t addr;
        } hide;
        struct {
            uint32_t ppid;
            uint64_t count;
        } inherited;
        struct {
            int status;
            uint64_t nevents;
        } end;
        struct {
            const char *name;
        } type_patched;
        struct {
            const void *data;
            size_t len;
        } snapshot;
        struct {
            const char *name; /* "": no test runs from here on */
        } test;
        struct {
            size_t nfields, event_size;
        } schema;
    } u;
} tr_record;

typedef struct {
    size_t woff, roff, size; /* writer offset -> reader offset */
} tr_map;

typedef struct {
    const uint8_t *data;
    size_t len, pos;
    unsigned major, minor;
    uint32_t pid;
    int newer;          /* written by a newer format version */
    int ended;          /* an END record was read */
    int stopped;        /* no more records */
    uint64_t nevents, time_ns;
    /* the writer's event layout */
    size_t wsize;
    tr_map *map;
    size_t nmap;
    size_t copy_from, copy_to; /* unnamed trailing bytes copied by offset */
    uint64_t prev[8][TR_MAX_EVENT_WORDS];
    char **strings;
    uint32_t nstrings, capstrings;
    /* storage of the current record */
    void **tmp;
    size_t ntmp, captmp;
    size_t stop_at;    /* offset of the damage */
    char error[256];   /* why reading stopped early ("" if it did not) */
    char warning[256]; /* e.g. a newer version */
} tr_reader;

/* Checks the header. Returns 0, or -1 (not a trace: r->error says why). */
int tr_reader_init(tr_reader *r, const uint8_t *data, size_t len);

/* Next record: 1, or 0 at the end (r->error is set if the end is damage). */
int tr_next(tr_reader *r, tr_record *rec);

/* One line on how the trace ends: a clean end record, a writer that died
 * (no end record), or damage at some offset. */
void tr_reader_describe_end(const tr_reader *r, char *buf, size_t len);

void tr_reader_free(tr_reader *r);

const char *tr_record_name(int type);

#endif
