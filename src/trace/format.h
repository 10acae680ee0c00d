/* The trace file format (docs/trace-format.md): a 32-byte header, then
 * records [u8 type][LEB128 payload length][payload]. A type byte of 0 where
 * a record should start is the end of what was written (the zeroed tail of
 * a file whose writer died). The framing never changes between versions:
 * readers skip record types they do not know and ignore payload bytes past
 * the fields they know; missing trailing fields read as 0. */
#ifndef BUFSAN_TRACE_FORMAT_H
#define BUFSAN_TRACE_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#define TR_MAGIC "BSTRACE"      /* 8 bytes with the NUL */
#define TR_VERSION_MAJOR 1
#define TR_VERSION_MINOR 1 /* 1.1: the test record */
#define TR_HEADER_SIZE 32

typedef enum {
    TR_END_OF_DATA = 0, /* not a record: nothing was written from here on */
    TR_PROCESS = 1,     /* pid, ppid, monotonic ns at start, exe, options */
    TR_SCHEMA = 2,      /* the writer's bs_event layout: size, named fields */
    TR_MODULE = 3,      /* bias, lo, hi, path, build-id */
    TR_STRING = 4,      /* id, text: file and function names of Python frames */
    TR_TYPENAME = 5,    /* engine string id, text: exporter type names */
    TR_STACK = 6,       /* id, Python frames, native pcs */
    TR_THREAD = 7,      /* thread number, OS thread id */
    TR_EVENT = 8,       /* one bs_event, delta-encoded */
    TR_FINDING = 9,     /* a finding reported online */
    TR_HIDE = 10,       /* an address whose module's frames reports hide */
    TR_INHERITED = 11,  /* the next N exports were live in the parent at fork */
    TR_END = 12,        /* the process exited: status, event count */
    TR_TYPE_PATCHED = 13, /* an exporter type was instrumented: name */
    TR_SNAPSHOT = 14,   /* the view snapshot (bs_view_snapshot bytes) of the next
                           BUFFER_CALL event: the conformance checks replay on it */
    TR_TEST = 15,       /* the test the program runs from here on: nodeid ("" none) */
} tr_record_type;

/* bs_event is encoded as 64-bit words; at most this many. */
#define TR_MAX_EVENT_WORDS 64

static inline size_t tr_put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

static inline uint64_t tr_zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t tr_unzigzag(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

#endif
