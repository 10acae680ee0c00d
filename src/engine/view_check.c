/* See view_check.h. The rules follow the C-API documentation of the buffer
 * protocol (c-api/buffer.html: the request types and which fields each one
 * requires or forbids) and CPython's own readers of a view
 * (PyBuffer_IsContiguous, memoryview's format handling). Everything here
 * reads the snapshot only: no pointer of the original view is followed. */
#include "view_check.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- struct formats, parsed a chunk at a time ------------------------- */

typedef struct {
    int started, native, in_count;
    int64_t size, count, err; /* err: -1 not checked, -2 malformed */
} fmt_parser;

static int code_size(char c, int native, int *align);

static void fmt_feed(fmt_parser *st, const char *p, size_t n)
{
    for (size_t i = 0; i < n && !st->err; i++) {
        char c = p[i];
        if (!st->started) {
            st->started = 1;
            st->native = 1;
            if (c == '@' || c == '=' || c == '<' || c == '>' || c == '!') {
                st->native = c == '@';
                continue;
            }
        }
        if (c >= '0' && c <= '9') {
            st->count = st->in_count ? st->count * 10 + (c - '0') : c - '0';
            st->in_count = 1;
            if (st->count > (1LL << 40))
                st->err = -1;
            continue;
        }
        if (!st->in_count && (c == ' ' || c == '\t' || c == '\n' || c == '\r'))
            continue;
        int64_t count = st->in_count ? st->count : 1;
        st->in_count = 0;
        int align = 1;
        int sz = code_size(c, st->native, &align);
        if (sz <= 0) {
            st->err = -1; /* PEP 3118 extension or a mode change: not checked */
            break;
        }
        if (align > 1 && st->size % align)
            st->size += align - st->size % align;
        st->size += count * sz;
        if (st->size > (1LL << 50))
            st->err = -1;
    }
}

static int64_t fmt_finish(const fmt_parser *st)
{
    if (st->err)
        return st->err;
    return st->in_count ? -2 : st->size; /* a count with no code */
}

/* ---- snapshot --------------------------------------------------------- */

static int read_array(int64_t *dst, uint64_t addr, int32_t n, bs_safe_reader read, void *ctx)
{
    size_t want = (size_t)n * sizeof *dst;
    return read(dst, addr, want, 0, ctx) == want;
}

/* A format longer than format[]: read on, a chunk at a time, to its NUL
 * (or the first unreadable byte, or BS_SNAP_FORMAT_SCAN bytes), parsing
 * it on the way, so that its item size is checked whatever its length. */
static void scan_long_format(bs_view_snapshot *s, uint64_t addr, bs_safe_reader read, void *ctx)
{
    fmt_parser st = {0};
    fmt_feed(&st, s->format, sizeof s->format);
    uint64_t off = sizeof s->format;
    char chunk[256];
    for (;;) {
        if (off >= BS_SNAP_FORMAT_SCAN) {
            s->read |= BS_SNAP_FORMAT_UNTERMINATED;
            break;
        }
        size_t want = sizeof chunk < BS_SNAP_FORMAT_SCAN - off ? sizeof chunk
                                                               : (size_t)(BS_SNAP_FORMAT_SCAN - off);
        size_t m = addr + off < addr ? 0 : read(chunk, addr + off, want, 1, ctx);
        size_t end = 0;
        while (end < m && chunk[end])
            end++;
        fmt_feed(&st, chunk, end);
        off += end;
        if (end < m) {
            s->read |= BS_SNAP_FORMAT_LONG | BS_SNAP_FORMAT_SIZED;
            s->format_itemsize = fmt_finish(&st);
            break;
        }
        if (m < want) {
            s->read |= BS_SNAP_FORMAT_BAD;
            break;
        }
    }
    s->format_len = (int64_t)off;
}

void view_snapshot_probe_buf(bs_view_snapshot *s, bs_safe_reader read, void *ctx)
{
    const bs_view_fields *v = &s->v;
    s->read &= ~(uint32_t)(BS_SNAP_BUF_READ | BS_SNAP_BUF_BAD);
    if (!v->buf || v->len <= 0)
        return;
    char byte;
    int ok = read(&byte, v->buf, 1, 0, ctx) == 1;
    if (ok && !v->strides && !v->suboffsets && v->len > 1)
        ok = v->buf + (uint64_t)v->len - 1 > v->buf &&
             read(&byte, v->buf + (uint64_t)v->len - 1, 1, 0, ctx) == 1;
    s->read |= ok ? BS_SNAP_BUF_READ : BS_SNAP_BUF_BAD;
}

void view_snapshot_fill(bs_view_snapshot *s, const bs_view_fields *fields, int32_t flags,
                        bs_safe_reader read, void *ctx)
{
    s->flags = flags;
    if (&s->v != fields)
        s->v = *fields;
    s->read = 0;
    s->nitems = 0;
    s->format_len = 0;
    s->format_itemsize = 0;
    s->format[0] = '\0';
    if (fields->format) {
        size_t n = read(s->format, fields->format, sizeof s->format, 1, ctx);
        /* its first NUL; not memchr: its vector loads would wait for the
         * byte stores of the read just made */
        const char *nul = NULL;
        for (size_t i = 0; i < n && !nul; i++)
            if (!s->format[i])
                nul = &s->format[i];
        s->read |= BS_SNAP_FORMAT_SCANNED;
        if (nul) {
            s->read |= BS_SNAP_FORMAT_READ;
            s->format_len = nul - s->format;
        } else if (n == sizeof s->format) {
            scan_long_format(s, fields->format, read, ctx);
        } else {
            s->read |= BS_SNAP_FORMAT_BAD;
            s->format_len = (int64_t)n;
        }
        if (!nul)
            s->format[n < sizeof s->format ? n : sizeof s->format - 1] = '\0';
    }
    if (fields->ndim <= 0 || fields->ndim > BS_SNAP_MAX_NDIM)
        return;
    s->nitems = fields->ndim;
    if (fields->shape)
        s->read |= read_array(s->shape, fields->shape, s->nitems, read, ctx) ? BS_SNAP_SHAPE_READ
                                                                              : BS_SNAP_SHAPE_BAD;
    if (fields->strides)
        s->read |= read_array(s->strides, fields->strides, s->nitems, read, ctx)
                       ? BS_SNAP_STRIDES_READ : BS_SNAP_STRIDES_BAD;
    if (fields->suboffsets)
        s->read |= read_array(s->suboffsets, fields->suboffsets, s->nitems, read, ctx)
                       ? BS_SNAP_SUBOFFSETS_READ : BS_SNAP_SUBOFFSETS_BAD;
}

/* FNV-style: one multiply per word, a finalizer at the end (runs at every
 * export and release). */
#define STEP(h, x) ((h) = ((h) ^ (uint64_t)(x)) * 0x100000001b3ULL)

uint64_t view_snapshot_hash(const bs_view_snapshot *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    STEP(h, s->read & ~(uint32_t)(BS_SNAP_BUF_READ | BS_SNAP_BUF_BAD));
    STEP(h, (uint64_t)s->nitems);
    if (s->read & (BS_SNAP_FORMAT_READ | BS_SNAP_FORMAT_LONG))
        for (size_t i = 0; i < sizeof s->format && s->format[i]; i++)
            STEP(h, (unsigned char)s->format[i]);
    if (s->read & BS_SNAP_FORMAT_SIZED) {
        STEP(h, (uint64_t)s->format_len);
        STEP(h, (uint64_t)s->format_itemsize);
    }
    if (s->read & BS_SNAP_SHAPE_READ)
        for (int32_t i = 0; i < s->nitems; i++)
            STEP(h, s->shape[i]);
    if (s->read & BS_SNAP_STRIDES_READ)
        for (int32_t i = 0; i < s->nitems; i++)
            STEP(h, s->strides[i]);
    if (s->read & BS_SNAP_SUBOFFSETS_READ)
        for (int32_t i = 0; i < s->nitems; i++)
            STEP(h, s->suboffsets[i]);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h |= 1;
    return h == BS_VIEW_CONTENTS_UNCHECKED ? 3 : h;
}

/* ---- struct formats --------------------------------------------------- */

/* Sizes and alignments of the struct module's codes on LP64 x86-64, native
 * ('@') and standard ('<', '>', '=', '!') modes; 0 = not in that mode. */
static int code_size(char c, int native, int *align)
{
    int size;
    switch (c) {
    case 'x': case 'c': case 'b': case 'B': case '?': case 's': case 'p': size = 1; break;
    case 'h': case 'H': case 'e': size = 2; break;
    case 'i': case 'I': case 'f': size = 4; break;
    case 'l': case 'L': size = native ? 8 : 4; break;
    case 'q': case 'Q': case 'd': size = 8; break;
    case 'n': case 'N': case 'P': size = native ? 8 : 0; break;
    default: return -1;
    }
    /* struct aligns only native items, and never x, s, p */
    *align = native && c != 'x' && c != 's' && c != 'p' ? size : 1;
    return size;
}

int64_t view_format_itemsize(const char *fmt)
{
    fmt_parser st = {0};
    size_t n = 0;
    while (fmt[n])
        n++;
    fmt_feed(&st, fmt, n);
    return fmt_finish(&st);
}

/* ---- rules ------------------------------------------------------------ */

static const char *const field_names[BS_FIELD_COUNT] = {
    "buf", "len", "itemsize", "ndim", "format", "shape", "strides", "suboffsets",
};

const char *view_field_name(int i)
{
    return i >= 0 && i < BS_FIELD_COUNT ? field_names[i] : "?";
}

typedef struct {
    bs_view_violation *out;
    int max, n;
} viol_list;

static bs_view_violation *find(viol_list *l, bs_check_id check)
{
    for (int i = 0; i < l->n; i++)
        if (l->out[i].check == check)
            return &l->out[i];
    return NULL;
}

/* One violation per check per view: a second problem of the same check adds
 * its FIELDS and its detail ("; ") to the first one's, so that one finding
 * says everything wrong with one answer. */
__attribute__((format(printf, 4, 5)))
static void add(viol_list *l, bs_check_id check, uint32_t fields, const char *fmt, ...)
{
    bs_view_violation *v = find(l, check);
    size_t at = 0;
    if (!v) {
        if (l->n >= l->max)
            return;
        v = &l->out[l->n++];
        v->check = check;
        v->fields = 0;
        v->detail[0] = '\0';
    } else {
        at = strlen(v->detail);
        if (at + 3 <= sizeof v->detail) {
            memcpy(v->detail + at, "; ", 3);
            at += 2;
        }
    }
    v->fields |= fields;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->detail + at, sizeof v->detail - at, fmt, ap);
    va_end(ap);
}

/* "a", "a and b", "a, b and c" into BUF. */
static void join_words(char *buf, size_t len, const char *const *words, int n)
{
    size_t at = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && at < len; i++) {
        const char *sep = i == 0 ? "" : i == n - 1 ? " and " : ", ";
        int w = snprintf(buf + at, len - at, "%s%s", sep, words[i]);
        at += w > 0 ? (size_t)w : 0;
    }
}

/* The geometry is readable and sane enough to reason about layout. */
static int geometry_ok(const bs_view_snapshot *s)
{
    const bs_view_fields *v = &s->v;
    if (v->ndim < 0 || v->ndim > BS_SNAP_MAX_NDIM || v->itemsize <= 0 || v->len < 0)
        return 0;
    if (s->read & (BS_SNAP_SHAPE_BAD | BS_SNAP_STRIDES_BAD | BS_SNAP_SUBOFFSETS_BAD))
        return 0;
    if (v->ndim > 0 && v->shape && !(s->read & BS_SNAP_SHAPE_READ))
        return 0;
    if (v->ndim > 1 && !v->shape)
        return 0;
    for (int32_t i = 0; i < s->nitems && (s->read & BS_SNAP_SHAPE_READ); i++)
        if (s->shape[i] < 0)
            return 0;
    return 1;
}

/* Abstract.c's _IsCContiguous / _IsFortranContiguous over the snapshot. */
static int is_c(const bs_view_snapshot *s)
{
    if (s->v.len == 0 || !s->v.strides)
        return 1;
    if (!(s->read & BS_SNAP_SHAPE_READ) || !(s->read & BS_SNAP_STRIDES_READ))
        return s->nitems == 0;
    int64_t sd = s->v.itemsize;
    for (int32_t i = s->nitems - 1; i >= 0; i--) {
        int64_t dim = s->shape[i];
        if (dim > 1 && s->strides[i] != sd)
            return 0;
        if (__builtin_mul_overflow(sd, dim, &sd))
            return 0;
    }
    return 1;
}

static int is_f(const bs_view_snapshot *s)
{
    if (s->v.len == 0)
        return 1;
    if (!s->v.strides) {
        if (s->v.ndim <= 1)
            return 1;
        if (!(s->read & BS_SNAP_SHAPE_READ))
            return 0;
        int sd = 0;
        for (int32_t i = 0; i < s->nitems; i++)
            if (s->shape[i] > 1)
                sd++;
        return sd <= 1;
    }
    if (!(s->read & BS_SNAP_SHAPE_READ) || !(s->read & BS_SNAP_STRIDES_READ))
        return s->nitems == 0;
    int64_t sd = s->v.itemsize;
    for (int32_t i = 0; i < s->nitems; i++) {
        int64_t dim = s->shape[i];
        if (dim > 1 && s->strides[i] != sd)
            return 0;
        if (__builtin_mul_overflow(sd, dim, &sd))
            return 0;
    }
    return 1;
}

int view_is_contiguous(const bs_view_snapshot *s, char order)
{
    if (s->v.suboffsets)
        return 0;
    if (order == 'C')
        return is_c(s);
    if (order == 'F')
        return is_f(s);
    if (order == 'A')
        return is_c(s) || is_f(s);
    return 0;
}

#define HAS(flags, bits) (((flags) & (bits)) == (bits))

int view_check_export(const bs_view_snapshot *s, bs_view_violation *out, int max)
{
    viol_list l = {out, max, 0};
    const bs_view_fields *v = &s->v;
    int32_t fl = s->flags;

    /* Which fields each request type allows and requires (c-api/buffer.html
     * tables): every field set without its flag in one violation, every
     * required field left NULL in another. */
    const struct {
        uint32_t field;
        uint64_t ptr;
        int32_t flag;
        const char *name, *flag_name;
        int needs_ndim; /* required only when ndim > 0 */
    } request_fields[] = {
        {BS_FIELD_FORMAT, v->format, BS_PYBUF_FORMAT, "format", "PyBUF_FORMAT", 0},
        {BS_FIELD_SHAPE, v->shape, BS_PYBUF_ND, "shape", "PyBUF_ND", 1},
        {BS_FIELD_STRIDES, v->strides, BS_PYBUF_STRIDES, "strides", "PyBUF_STRIDES", 1},
        {BS_FIELD_SUBOFFSETS, v->suboffsets, BS_PYBUF_INDIRECT, "suboffsets", "PyBUF_INDIRECT", -1},
    };
    const char *set[4], *set_flags[4], *missing[4], *missing_flags[4];
    int nset = 0, nmissing = 0, missing_ndim = 0;
    uint32_t set_fields = 0, missing_fields = 0;
    char format_set[BS_SNAP_FORMAT_MAX + 16];
    for (int i = 0; i < 4; i++) {
        int requested = HAS(fl, request_fields[i].flag);
        if (request_fields[i].ptr && !requested) {
            set[nset] = request_fields[i].name;
            if (request_fields[i].field == BS_FIELD_FORMAT) {
                snprintf(format_set, sizeof format_set, "format (\"%s\")",
                         (s->read & BS_SNAP_FORMAT_READ) ? s->format : "?");
                set[nset] = format_set;
            }
            set_flags[nset++] = request_fields[i].flag_name;
            set_fields |= request_fields[i].field;
        } else if (!request_fields[i].ptr && requested && request_fields[i].needs_ndim >= 0 &&
                   (!request_fields[i].needs_ndim || v->ndim > 0)) {
            missing[nmissing] = request_fields[i].name;
            missing_flags[nmissing++] = request_fields[i].flag_name;
            missing_fields |= request_fields[i].field;
            missing_ndim |= request_fields[i].needs_ndim;
        }
    }
    if (nset) {
        char names[256], flags[128];
        join_words(names, sizeof names, set, nset);
        join_words(flags, sizeof flags, set_flags, nset);
        add(&l, BS_CHECK_FIELD_NOT_REQUESTED, set_fields,
            "%s %s set, which the request did not ask for (it lacks %s)", names,
            nset > 1 ? "are" : "is", flags);
    }
    if (nmissing) {
        char names[128], flags[128];
        join_words(names, sizeof names, missing, nmissing);
        join_words(flags, sizeof flags, missing_flags, nmissing);
        char ndim[32] = "";
        if (missing_ndim)
            snprintf(ndim, sizeof ndim, " with ndim=%d", (int)v->ndim);
        add(&l, BS_CHECK_FIELD_MISSING, missing_fields, "%s %s NULL under %s%s", names,
            nmissing > 1 ? "are" : "is", flags, ndim);
    }

    /* The geometry (bad-view-fields): every problem found, in one violation. */
    if (v->ndim < 0 || v->ndim > BS_SNAP_MAX_NDIM)
        add(&l, BS_CHECK_BAD_VIEW_FIELDS, BS_FIELD_NDIM, "ndim=%d is outside 0..%d", (int)v->ndim,
            BS_SNAP_MAX_NDIM);
    if (v->itemsize <= 0)
        add(&l, BS_CHECK_BAD_VIEW_FIELDS, BS_FIELD_ITEMSIZE, "itemsize=%lld is not positive",
            (long long)v->itemsize);
    if (v->len < 0)
        add(&l, BS_CHECK_BAD_VIEW_FIELDS, BS_FIELD_LEN, "len=%lld is negative", (long long)v->len);
    if (!v->buf && v->len > 0)
        add(&l, BS_CHECK_BAD_VIEW_FIELDS, BS_FIELD_BUF, "buf is NULL with len=%lld",
            (long long)v->len);
    else if (s->read & BS_SNAP_BUF_BAD)
        add(&l, BS_CHECK_BAD_VIEW_FIELDS, BS_FIELD_BUF,
            "buf points to unreadable memory (0x%llx) with len=%lld", (unsigned long long)v->buf,
            (long long)v->len);
    if ((s->read & BS_SNAP_FORMAT_BAD) && (s->read & BS_SNAP_FORMAT_SCANNED) && s->format_len)
        add(&l, BS_CHECK_BAD_VIEW_FIELDS, BS_FIELD_FORMAT,
            "format (0x%llx) has no NUL: it runs into unreadable memory after %lld bytes",
            (unsigned long long)v->format, (long long)s->format_len);
    else if (s->read & BS_SNAP_FORMAT_BAD)
        add(&l, BS_CHECK_BAD_VIEW_FIELDS, BS_FIELD_FORMAT,
            "format points to unreadable memory (0x%llx)", (unsigned long long)v->format);
    else if (s->read & BS_SNAP_FORMAT_UNTERMINATED)
        add(&l, BS_CHECK_BAD_VIEW_FIELDS, BS_FIELD_FORMAT, "format (0x%llx) has no NUL within %d bytes",
            (unsigned long long)v->format, BS_SNAP_FORMAT_SCAN);
    if (s->read & BS_SNAP_SHAPE_BAD)
        add(&l, BS_CHECK_BAD_VIEW_FIELDS, BS_FIELD_SHAPE,
            "shape points to unreadable memory (0x%llx) with ndim=%d",
            (unsigned long long)v->shape, (int)v->ndim);
    if (s->read & BS_SNAP_STRIDES_BAD)
        add(&l, BS_CHECK_BAD_VIEW_FIELDS, BS_FIELD_STRIDES,
            "strides points to unreadable memory (0x%llx) with ndim=%d",
            (unsigned long long)v->strides, (int)v->ndim);
    if (s->read & BS_SNAP_SUBOFFSETS_BAD)
        add(&l, BS_CHECK_BAD_VIEW_FIELDS, BS_FIELD_SUBOFFSETS,
            "suboffsets points to unreadable memory (0x%llx) with ndim=%d",
            (unsigned long long)v->suboffsets, (int)v->ndim);
    if (s->read & BS_SNAP_SHAPE_READ) {
        int negative = 0;
        for (int32_t i = 0; i < s->nitems && !negative; i++)
            if (s->shape[i] < 0) {
                add(&l, BS_CHECK_BAD_VIEW_FIELDS, BS_FIELD_SHAPE, "shape[%d]=%lld is negative",
                    (int)i, (long long)s->shape[i]);
                negative = 1;
            }
        /* len against the shape, when both are sane enough to compare */
        if (!negative && v->itemsize > 0 && v->len >= 0) {
            int64_t prod = v->itemsize;
            int overflow = 0;
            for (int32_t i = 0; i < s->nitems; i++)
                overflow |= __builtin_mul_overflow(prod, s->shape[i], &prod);
            if (overflow || prod != v->len)
                add(&l, BS_CHECK_BAD_VIEW_FIELDS, BS_FIELD_LEN,
                    "len=%lld but itemsize * prod(shape) = %s%lld", (long long)v->len,
                    overflow ? "overflow, " : "", (long long)prod);
        }
    }
    if ((s->read & (BS_SNAP_FORMAT_READ | BS_SNAP_FORMAT_SIZED)) && v->itemsize > 0) {
        /* a long format is parsed whole while it is read (its start shown) */
        int64_t fsize = (s->read & BS_SNAP_FORMAT_SIZED) ? s->format_itemsize
                                                         : view_format_itemsize(s->format);
        const char *more = !(s->read & BS_SNAP_FORMAT_READ) || strlen(s->format) > 60 ? "..." : "";
        if (fsize == -2)
            add(&l, BS_CHECK_BAD_VIEW_FIELDS, BS_FIELD_FORMAT, "format \"%.60s%s\" is malformed",
                s->format, more);
        else if (fsize >= 0 && fsize != v->itemsize)
            add(&l, BS_CHECK_BAD_VIEW_FIELDS, BS_FIELD_FORMAT,
                "format \"%.60s%s\" has item size %lld but itemsize=%lld", s->format, more,
                (long long)fsize,
                (long long)v->itemsize);
    }
    if ((s->read & BS_SNAP_SUBOFFSETS_READ) && s->nitems > 0) {
        int any = 0;
        for (int32_t i = 0; i < s->nitems; i++)
            any |= s->suboffsets[i] >= 0;
        if (!any)
            add(&l, BS_CHECK_BAD_VIEW_FIELDS, BS_FIELD_SUBOFFSETS,
                "every suboffsets entry is negative: suboffsets must then be NULL");
    }

    /* Contiguity requests, and the C layout any request without
     * PyBUF_STRIDES implies. */
    if (geometry_ok(s)) {
        const char *want = NULL;
        char order = 0;
        if (HAS(fl, BS_PYBUF_C_CONTIGUOUS))
            order = 'C', want = "PyBUF_C_CONTIGUOUS";
        else if (HAS(fl, BS_PYBUF_F_CONTIGUOUS))
            order = 'F', want = "PyBUF_F_CONTIGUOUS";
        else if (HAS(fl, BS_PYBUF_ANY_CONTIGUOUS))
            order = 'A', want = "PyBUF_ANY_CONTIGUOUS";
        else if (!HAS(fl, BS_PYBUF_STRIDES) && (v->strides || v->suboffsets))
            order = 'C', want = "a request without PyBUF_STRIDES (C-contiguous memory)";
        if (order && !view_is_contiguous(s, order))
            add(&l, BS_CHECK_NOT_CONTIGUOUS, 0, "%s was answered with %s memory", want,
                v->suboffsets ? "indirect (suboffsets)" : "non-contiguous (strides)");
    }
    return l.n;
}
