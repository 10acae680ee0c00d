/* See reader.h and docs/trace-format.md. */
#include "reader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fields.h"

#define MAX_STRINGS (1u << 24)
#define MAX_FRAMES 4096

typedef struct {
    const uint8_t *p;
    size_t n, at;
    int bad;
} cur;

static uint64_t c_varint(cur *c)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (c->at >= c->n) {
            c->bad = 1;
            return 0;
        }
        uint8_t b = c->p[c->at++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    c->bad = 1;
    return 0;
}

/* Missing trailing fields read as 0 (an older writer). */
static uint64_t c_opt_varint(cur *c)
{
    return c->at < c->n ? c_varint(c) : 0;
}

static void *keep(tr_reader *r, void *p)
{
    if (!p)
        return NULL;
    if (r->ntmp == r->captmp) {
        size_t cap = r->captmp ? r->captmp * 2 : 16;
        void **n = realloc(r->tmp, cap * sizeof *n);
        if (!n) {
            free(p);
            return NULL;
        }
        r->tmp = n;
        r->captmp = cap;
    }
    r->tmp[r->ntmp++] = p;
    return p;
}

static void drop_tmp(tr_reader *r)
{
    for (size_t i = 0; i < r->ntmp; i++)
        free(r->tmp[i]);
    r->ntmp = 0;
}

/* A length-prefixed byte string copied with a NUL (NULL if bad). */
static char *c_str(tr_reader *r, cur *c, size_t *len_out)
{
    uint64_t n = c_varint(c);
    if (c->bad || n > c->n - c->at) {
        c->bad = 1;
        return NULL;
    }
    char *s = keep(r, malloc((size_t)n + 1));
    if (!s) {
        c->bad = 1;
        return NULL;
    }
    memcpy(s, c->p + c->at, (size_t)n);
    s[n] = '\0';
    c->at += (size_t)n;
    if (len_out)
        *len_out = (size_t)n;
    return s;
}

const char *tr_record_name(int type)
{
    static const char *const names[] = {"end-of-data", "process", "schema", "module", "string",
                                        "typename", "stack", "thread", "event", "finding",
                                        "hide", "inherited", "end", "type-patched", "snapshot",
                                        "test"};
    return type >= 0 && type < (int)(sizeof names / sizeof names[0]) ? names[type] : "unknown";
}

int tr_reader_init(tr_reader *r, const uint8_t *data, size_t len)
{
    memset(r, 0, sizeof *r);
    r->data = data;
    r->len = len;
    r->wsize = sizeof(bs_event);
    r->copy_from = 0;
    r->copy_to = sizeof(bs_event);
    if (len < 16 || memcmp(data, TR_MAGIC, 8) != 0) {
        snprintf(r->error, sizeof r->error, "not a bufsan trace (%s)",
                 len < 8 ? "file too short" : "bad magic");
        r->stopped = 1;
        return -1;
    }
    uint16_t maj, min;
    uint32_t hs;
    memcpy(&maj, data + 8, 2);
    memcpy(&min, data + 10, 2);
    memcpy(&hs, data + 12, 4);
    r->major = maj;
    r->minor = min;
    if (len >= 20)
        memcpy(&r->pid, data + 16, 4);
    if (maj > TR_VERSION_MAJOR || (maj == TR_VERSION_MAJOR && min > TR_VERSION_MINOR)) {
        r->newer = 1;
        snprintf(r->warning, sizeof r->warning,
                 "trace format %u.%u is newer than this reader's %d.%d: records it does not know "
                 "are skipped",
                 maj, min, TR_VERSION_MAJOR, TR_VERSION_MINOR);
    }
    if (hs < 16 || hs > len) {
        snprintf(r->error, sizeof r->error, "bad header size %u (file is %zu bytes)", hs, len);
        r->stopped = 1;
        return -1;
    }
    r->pos = hs;
    return 0;
}

static int fail(tr_reader *r, size_t off, int type, const char *why)
{
    r->stop_at = off;
    snprintf(r->error, sizeof r->error, "corrupt %s record at offset %zu: %s", tr_record_name(type),
             off, why);
    r->stopped = 1;
    return 0;
}

static int decode_schema(tr_reader *r, cur *c, tr_record *rec)
{
    uint64_t size = c_varint(c), n = c_varint(c);
    if (c->bad || size == 0 || size > TR_MAX_EVENT_WORDS * 8 || n > 4096)
        return -1;
    tr_map *map = calloc(n ? n : 1, sizeof *map);
    if (!map)
        return -1;
    size_t nmap = 0, wext = 0;
    for (uint64_t i = 0; i < n; i++) {
        char *name = c_str(r, c, NULL);
        uint64_t off = c_varint(c), sz = c_varint(c);
        c_varint(c); /* role */
        if (c->bad || off + sz > size || sz > 64) {
            free(map);
            return -1;
        }
        if (off + sz > wext)
            wext = (size_t)(off + sz);
        for (size_t k = 0; k < tr_nfields; k++)
            if (!strcmp(tr_fields[k].name, name) && tr_fields[k].size == sz) {
                map[nmap++] = (tr_map){(size_t)off, tr_fields[k].offset, (size_t)sz};
                break;
            }
    }
    free(r->map);
    r->map = map;
    r->nmap = nmap;
    r->wsize = (size_t)size;
    size_t rext = tr_named_extent();
    r->copy_from = wext > rext ? wext : rext;
    r->copy_to = r->wsize < sizeof(bs_event) ? r->wsize : sizeof(bs_event);
    memset(r->prev, 0, sizeof r->prev);
    rec->u.schema.nfields = (size_t)n;
    rec->u.schema.event_size = (size_t)size;
    return 0;
}

static int decode_event(tr_reader *r, cur *c, tr_record *rec)
{
    uint64_t kind = c_varint(c), dt = c_varint(c), mask = c_varint(c);
    if (c->bad)
        return -1;
    size_t nw = (r->wsize + 7) / 8;
    if (nw < 64 && (mask >> nw))
        return -1;
    uint64_t *prev = r->prev[kind < 8 ? kind : 0];
    for (size_t i = 0; i < nw; i++)
        if (mask & (1ull << i)) {
            uint64_t d = c_varint(c);
            if (c->bad)
                return -1;
            prev[i] += (uint64_t)tr_unzigzag(d);
        }
    uint8_t raw[TR_MAX_EVENT_WORDS * 8];
    memcpy(raw, prev, sizeof raw);
    bs_event *ev = &rec->u.event.ev;
    memset(ev, 0, sizeof *ev);
    if (r->map) {
        for (size_t i = 0; i < r->nmap; i++)
            memcpy((char *)ev + r->map[i].roff, raw + r->map[i].woff, r->map[i].size);
        if (r->copy_to > r->copy_from)
            memcpy((char *)ev + r->copy_from, raw + r->copy_from, r->copy_to - r->copy_from);
    } else {
        memcpy(ev, raw, r->wsize < sizeof *ev ? r->wsize : sizeof *ev);
    }
    ev->kind = (bs_event_kind)kind;
    /* a pointer into this process, never a trace field: whatever bytes a
     * trace without a field map (or a bogus one) put there */
    ev->snapshot = NULL;
    r->time_ns += dt;
    rec->u.event.time_ns = r->time_ns;
    r->nevents++;
    return 0;
}

static int decode_stack(tr_reader *r, cur *c, tr_record *rec)
{
    uint64_t id = c_varint(c), npy = c_varint(c);
    if (c->bad || !id || id > UINT32_MAX || npy > MAX_FRAMES || npy * 3 > c->n - c->at)
        return -1;
    bs_py_frame *py = keep(r, calloc(npy ? (size_t)npy : 1, sizeof *py));
    if (!py)
        return -1;
    for (uint64_t i = 0; i < npy; i++) {
        uint64_t file = c_varint(c), fn = c_varint(c);
        int64_t line = tr_unzigzag(c_varint(c));
        if (c->bad || !file || !fn || file > r->nstrings || fn > r->nstrings)
            return -1;
        py[i].file = r->strings[file - 1];
        py[i].function = r->strings[fn - 1];
        py[i].line = (int)line;
    }
    uint64_t nn = c_varint(c);
    if (c->bad || nn > MAX_FRAMES || nn > c->n - c->at)
        return -1;
    uint64_t *pcs = keep(r, calloc(nn ? (size_t)nn : 1, sizeof *pcs));
    if (!pcs)
        return -1;
    uint64_t pc = 0;
    for (uint64_t i = 0; i < nn; i++) {
        pc += (uint64_t)tr_unzigzag(c_varint(c));
        pcs[i] = pc;
    }
    if (c->bad)
        return -1;
    rec->u.stack.id = (uint32_t)id;
    rec->u.stack.npy = (uint32_t)npy;
    rec->u.stack.nnative = (uint32_t)nn;
    rec->u.stack.py = py;
    rec->u.stack.pcs = pcs;
    return 0;
}

static int decode(tr_reader *r, int type, cur *c, tr_record *rec)
{
    switch (type) {
    case TR_PROCESS:
        rec->u.process.pid = (uint32_t)c_varint(c);
        rec->u.process.ppid = (uint32_t)c_varint(c);
        rec->u.process.start_ns = c_varint(c);
        rec->u.process.realtime_ns = c_varint(c);
        rec->u.process.exe = c_str(r, c, NULL);
        rec->u.process.options = c_str(r, c, NULL);
        if (!c->bad)
            r->time_ns = rec->u.process.start_ns;
        return c->bad ? -1 : 0;
    case TR_SCHEMA:
        return decode_schema(r, c, rec);
    case TR_MODULE:
        rec->u.module.bias = c_varint(c);
        rec->u.module.lo = c_varint(c);
        rec->u.module.hi = c_varint(c);
        rec->u.module.path = c_str(r, c, NULL);
        rec->u.module.build_id = (const uint8_t *)c_str(r, c, &rec->u.module.build_id_len);
        return c->bad || rec->u.module.lo > rec->u.module.hi ? -1 : 0;
    case TR_STRING: {
        uint64_t id = c_varint(c);
        char *s = c_str(r, c, NULL);
        if (c->bad || id != (uint64_t)r->nstrings + 1 || r->nstrings >= MAX_STRINGS)
            return -1;
        if (r->nstrings == r->capstrings) {
            uint32_t cap = r->capstrings ? r->capstrings * 2 : 256;
            char **n = realloc(r->strings, cap * sizeof *n);
            if (!n)
                return -1;
            r->strings = n;
            r->capstrings = cap;
        }
        char *copy = strdup(s);
        if (!copy)
            return -1;
        r->strings[r->nstrings++] = copy;
        rec->u.string.id = (uint32_t)id;
        rec->u.string.text = copy;
        return 0;
    }
    case TR_TYPENAME: {
        uint64_t id = c_varint(c);
        rec->u.string.text = c_str(r, c, NULL);
        rec->u.string.id = (uint32_t)id;
        return c->bad || id > UINT32_MAX ? -1 : 0;
    }
    case TR_STACK:
        return decode_stack(r, c, rec);
    case TR_THREAD:
        rec->u.thread.thread = (uint32_t)c_varint(c);
        rec->u.thread.os_tid = c_varint(c);
        return c->bad ? -1 : 0;
    case TR_EVENT:
        return decode_event(r, c, rec);
    case TR_FINDING: {
        rec->u.finding.check = c_str(r, c, NULL);
        rec->u.finding.severity = (int)c_varint(c);
        rec->u.finding.message = c_str(r, c, NULL);
        rec->u.finding.count = c_varint(c);
        rec->u.finding.bytes = tr_unzigzag(c_varint(c));
        uint64_t n = c_varint(c);
        if (c->bad || n > BS_MAX_FINDING_STACKS)
            return -1;
        rec->u.finding.nstacks = (int)n;
        for (uint64_t i = 0; i < n; i++) {
            rec->u.finding.stacks[i].role = c_str(r, c, NULL);
            rec->u.finding.stacks[i].thread = (uint32_t)c_varint(c);
            rec->u.finding.stacks[i].stack = (uint32_t)c_varint(c);
        }
        return c->bad ? -1 : 0;
    }
    case TR_HIDE:
        rec->u.hide.addr = c_varint(c);
        return c->bad ? -1 : 0;
    case TR_INHERITED:
        rec->u.inherited.ppid = (uint32_t)c_varint(c);
        rec->u.inherited.count = c_opt_varint(c);
        return c->bad ? -1 : 0;
    case TR_END:
        rec->u.end.status = (int)c_varint(c);
        rec->u.end.nevents = c_opt_varint(c);
        if (!c->bad)
            r->ended = 1;
        return c->bad ? -1 : 0;
    case TR_TYPE_PATCHED:
        rec->u.type_patched.name = c_str(r, c, NULL);
        return c->bad ? -1 : 0;
    case TR_SNAPSHOT:
        rec->u.snapshot.data = c_str(r, c, &rec->u.snapshot.len);
        return c->bad ? -1 : 0;
    case TR_TEST:
        rec->u.test.name = c_str(r, c, NULL);
        return c->bad ? -1 : 0;
    }
    return 1; /* unknown: skipped */
}

int tr_next(tr_reader *r, tr_record *rec)
{
    drop_tmp(r);
    for (;;) {
        if (r->stopped || r->pos >= r->len)
            return 0;
        size_t off = r->pos;
        int type = r->data[off];
        if (type == TR_END_OF_DATA) {
            r->stopped = 1;
            return 0;
        }
        cur hdr = {r->data, r->len, off + 1, 0};
        uint64_t plen = c_varint(&hdr);
        if (hdr.bad || plen > r->len - hdr.at) {
            snprintf(r->error, sizeof r->error,
                     "truncated %s record at offset %zu: the file ends inside it",
                     tr_record_name(type), off);
            r->stop_at = off;
            r->stopped = 1;
            return 0;
        }
        cur c = {r->data + hdr.at, (size_t)plen, 0, 0};
        r->pos = hdr.at + (size_t)plen;
        memset(rec, 0, sizeof *rec);
        rec->type = (tr_record_type)type;
        rec->offset = off;
        int rc = decode(r, type, &c, rec);
        if (rc < 0) {
            drop_tmp(r);
            return fail(r, off, type, c.bad ? "fields run past its end" : "invalid values");
        }
        if (rc == 0)
            return 1;
        /* unknown type: skip */
    }
}

void tr_reader_describe_end(const tr_reader *r, char *buf, size_t len)
{
    if (r->error[0])
        snprintf(buf, len, "trace stops at offset %zu after %llu events: %s", r->stop_at,
                 (unsigned long long)r->nevents, r->error);
    else if (r->ended)
        snprintf(buf, len, "trace complete: %llu events, the process exited",
                 (unsigned long long)r->nevents);
    else
        snprintf(buf, len,
                 "trace stops at offset %zu after %llu events: no end record (the process was "
                 "killed, crashed, called _exit or is still running)",
                 r->pos, (unsigned long long)r->nevents);
}

void tr_reader_free(tr_reader *r)
{
    drop_tmp(r);
    free(r->tmp);
    for (uint32_t i = 0; i < r->nstrings; i++)
        free(r->strings[i]);
    free(r->strings);
    free(r->map);
    memset(r, 0, sizeof *r);
}
