/* The getbuffer conformance checker: a snapshot of a Py_buffer (its fields
 * and a bounded copy of what its pointers point to, taken with guarded
 * reads) in, the rules it breaks out. Python-agnostic, allocation-free and
 * total: any bit pattern in a snapshot gives violations, never a crash, so
 * it runs inside bf_getbuffer, offline, and under a fuzzer. */
#ifndef BUFSAN_ENGINE_VIEW_CHECK_H
#define BUFSAN_ENGINE_VIEW_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "../common/checks.h"
#include "event.h"

/* PyBUF_* request bits (Include/pybuffer.h; stable ABI values). */
#define BS_PYBUF_WRITABLE 0x0001
#define BS_PYBUF_FORMAT 0x0004
#define BS_PYBUF_ND 0x0008
#define BS_PYBUF_STRIDES (0x0010 | BS_PYBUF_ND)
#define BS_PYBUF_C_CONTIGUOUS (0x0020 | BS_PYBUF_STRIDES)
#define BS_PYBUF_F_CONTIGUOUS (0x0040 | BS_PYBUF_STRIDES)
#define BS_PYBUF_ANY_CONTIGUOUS (0x0080 | BS_PYBUF_STRIDES)
#define BS_PYBUF_INDIRECT (0x0100 | BS_PYBUF_STRIDES)

#define BS_SNAP_MAX_NDIM 64    /* PyBUF_MAX_NDIM */
#define BS_SNAP_FORMAT_MAX 128 /* format bytes kept (longer ones are parsed, not kept) */
#define BS_SNAP_FORMAT_SCAN 65536 /* format bytes read looking for the NUL */

/* What the snapshot could read behind each pointer. */
enum {
    BS_SNAP_FORMAT_READ = 1 << 0,     /* format[] holds the NUL-terminated string */
    BS_SNAP_FORMAT_LONG = 1 << 1,     /* readable, its NUL beyond BS_SNAP_FORMAT_MAX
                                         (format[] holds its start) */
    BS_SNAP_FORMAT_BAD = 1 << 2,      /* non-NULL and unreadable before its NUL */
    BS_SNAP_SHAPE_READ = 1 << 3,
    BS_SNAP_SHAPE_BAD = 1 << 4,
    BS_SNAP_STRIDES_READ = 1 << 5,
    BS_SNAP_STRIDES_BAD = 1 << 6,
    BS_SNAP_SUBOFFSETS_READ = 1 << 7,
    BS_SNAP_SUBOFFSETS_BAD = 1 << 8,
    /* format_len is the number of format bytes read before the NUL or the
     * first unreadable byte (snapshots of older traces lack it) */
    BS_SNAP_FORMAT_SCANNED = 1 << 9,
    BS_SNAP_FORMAT_SIZED = 1 << 10,        /* format_itemsize parsed the whole string */
    BS_SNAP_FORMAT_UNTERMINATED = 1 << 11, /* no NUL within BS_SNAP_FORMAT_SCAN bytes */
    /* view_snapshot_probe_buf: the first (and, for a view without strides
     * or suboffsets, the last) byte of buf could / could not be read.
     * Not part of view_snapshot_hash: memory may go away during a hold
     * without the consumer touching the view. */
    BS_SNAP_BUF_READ = 1 << 12,
    BS_SNAP_BUF_BAD = 1 << 13,
};

/* The bits that say some pointer of the view could not be followed. */
#define BS_SNAP_ANY_BAD                                                                      \
    (BS_SNAP_FORMAT_BAD | BS_SNAP_FORMAT_UNTERMINATED | BS_SNAP_SHAPE_BAD |                  \
     BS_SNAP_STRIDES_BAD | BS_SNAP_SUBOFFSETS_BAD | BS_SNAP_BUF_BAD)

/* A contents_hash that vouches for the view's fields only: what its
 * pointers point to was unreadable or inconsistent when the exporter
 * filled it (freed memory, garbage), so a change there is no evidence
 * against the consumer. view_snapshot_hash never returns it. */
#define BS_VIEW_CONTENTS_UNCHECKED 1ULL

typedef struct bs_view_snapshot {
    int32_t flags;        /* the request */
    bs_view_fields v;     /* the raw fields */
    uint32_t read;        /* BS_SNAP_* */
    int32_t nitems;       /* entries of shape/strides/suboffsets read: ndim if 0..64 */
    char format[BS_SNAP_FORMAT_MAX];
    int64_t shape[BS_SNAP_MAX_NDIM];
    int64_t strides[BS_SNAP_MAX_NDIM];
    int64_t suboffsets[BS_SNAP_MAX_NDIM];
    /* appended (traces store snapshots as bytes): see the bits above */
    int64_t format_len;
    int64_t format_itemsize;
} bs_view_snapshot;

/* Reads LEN bytes at ADDR of this process into DST without faulting; returns
 * the number of bytes read (a prefix: stops at the first unreadable byte,
 * and, when STRING, may stop after the first NUL). */
typedef size_t (*bs_safe_reader)(void *dst, uint64_t addr, size_t len, int string, void *ctx);

/* Fills S from FIELDS and FLAGS, reading through the pointers with READ. */
void view_snapshot_fill(bs_view_snapshot *s, const bs_view_fields *fields, int32_t flags,
                        bs_safe_reader read, void *ctx);

/* Reads the first byte of S's buf (and its last, when the view has no
 * strides and no suboffsets): sets BS_SNAP_BUF_READ or BS_SNAP_BUF_BAD. */
void view_snapshot_probe_buf(bs_view_snapshot *s, bs_safe_reader read, void *ctx);

/* Could every pointer of S be followed? */
static inline int view_snapshot_readable(const bs_view_snapshot *s)
{
    return !(s->read & BS_SNAP_ANY_BAD);
}

/* A hash of the fields and of the pointed-to contents (for comparing the view
 * a consumer releases with the one the exporter filled). Never 0. */
uint64_t view_snapshot_hash(const bs_view_snapshot *s);

/* The fields of a view a violation is about (bs_view_violation.fields). */
enum {
    BS_FIELD_BUF = 1 << 0,
    BS_FIELD_LEN = 1 << 1,
    BS_FIELD_ITEMSIZE = 1 << 2,
    BS_FIELD_NDIM = 1 << 3,
    BS_FIELD_FORMAT = 1 << 4,
    BS_FIELD_SHAPE = 1 << 5,
    BS_FIELD_STRIDES = 1 << 6,
    BS_FIELD_SUBOFFSETS = 1 << 7,
};
#define BS_FIELD_COUNT 8

/* "format" for BS_FIELD_FORMAT; I is the bit's index (0..BS_FIELD_COUNT-1). */
const char *view_field_name(int i);

/* One violation per check per view, naming every field that breaks it. */
typedef struct {
    bs_check_id check;
    uint32_t fields; /* BS_FIELD_* */
    char detail[320];
} bs_view_violation;

#define BS_VIEW_MAX_VIOLATIONS 8

/* The rules a successful bf_getbuffer's view breaks (field-not-requested,
 * field-missing, bad-view-fields, not-contiguous), at most one violation per
 * check, and at most MAX. Returns the count. */
int view_check_export(const bs_view_snapshot *s, bs_view_violation *out, int max);

/* Item size of a struct-module format string ("<i", "2d", "@bQ"), or -1 when
 * FMT is not one the struct module understands (PEP 3118 extensions such as
 * T{...}, Z, &, named fields), -2 when it is malformed. */
int64_t view_format_itemsize(const char *fmt);

/* PyBuffer_IsContiguous over a snapshot (ORDER 'C', 'F' or 'A'); only
 * meaningful on geometry view_check_export accepted. */
int view_is_contiguous(const bs_view_snapshot *s, char order);

#endif
