/* See writer.h and docs/trace-format.md. The engine's lock is the writer's:
 * the engine calls the recorder and the sink under it, so events are written
 * in the order the engine consumed them. A record is copied into the mapping
 * with its type byte last: a reader sees either the whole record or a 0
 * type byte, the end of the data. */
#define _GNU_SOURCE
#include "writer.h"

#include "../engine/view_check.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../common/checks.h"
#include "../common/u64map.h"
#include "../report/report.h"
#include "../stacks/depot.h"
#include "fields.h"
#include "format.h"

/* write_event reads an event as whole words */
_Static_assert(sizeof(bs_event) % 8 == 0 && sizeof(bs_event) <= TR_MAX_EVENT_WORDS * 8,
               "bs_event must be whole words and fit a trace event");

#define INITIAL_SIZE (1u << 20)
#define MAX_STEP (64u << 20)
#define PREV_SLOTS 8

typedef struct {
    uint64_t *bits;
    size_t nwords;
} bitset;

typedef struct {
    uint64_t lo, hi;
} range;

/* Guarded by the engine's lock (the recorder and the sink run under it; the
 * other entry points take it). */
static struct {
    int enabled;
    char *tmpl, *options;
    bs_engine *engine;
    pid_t pid;
    int pending_open; /* a forked child: open at the first record */
    int fd;
    uint8_t *base;
    size_t cap, pos;
    uint64_t start_ns, last_ns, nevents;
    uint64_t prev[PREV_SLOTS][TR_MAX_EVENT_WORDS];
    bitset stacks, typenames, threads;
    /* frame strings: content hash -> id (1-based), ids -> text */
    u64map string_ids;
    const char **strings;
    uint32_t nstrings, capstrings;
    range *modules;
    size_t nmodules, capmodules;
    unsigned long long dl_adds;
    uint64_t hidden[16];
    int nhidden;
    uint8_t *scratch;
    size_t scratch_cap;
    char *test; /* the test running now (trace_test), NULL: none */
    int failed;
} W = {.fd = -1};

/* ---- small helpers ---------------------------------------------------- */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Event timestamps: CLOCK_MONOTONIC read every SYNC_EVENTS events, the time
 * stamp counter interpolated in between (clock_gettime through the vDSO was
 * a third of the trace's cost per event in this VM). The scale comes from
 * the last two clock readings at least SYNC_MIN_NS apart; until there is
 * one, and on a CPU without an invariant TSC, every event reads the clock.
 * Times never go back: the writer clamps deltas at 0. */
#define SYNC_EVENTS 256
#define SYNC_MIN_NS 1000000ull

static struct {
    int usable;          /* invariant TSC seen in /proc/cpuinfo */
    uint64_t sync_tsc, sync_ns;   /* the last clock reading */
    uint64_t base_tsc, base_ns;   /* the reading the scale was measured from */
    uint64_t mult;       /* ns per tick, 32.32 fixed point; 0 = unknown */
    unsigned until_sync;
} clk;

static int invariant_tsc(void)
{
#if defined(__x86_64__)
    FILE *f = fopen("/proc/cpuinfo", "re");
    if (!f)
        return 0;
    char line[4096];
    int ok = 0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "flags", 5)) {
            ok = strstr(line, " constant_tsc") && strstr(line, " nonstop_tsc");
            break;
        }
    fclose(f);
    return ok;
#else
    return 0;
#endif
}

static uint64_t read_tsc(void)
{
#if defined(__x86_64__)
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
#else
    return 0;
#endif
}

static void clock_start(void)
{
    memset(&clk, 0, sizeof clk);
    clk.usable = invariant_tsc();
    clk.base_tsc = clk.sync_tsc = read_tsc();
    clk.base_ns = clk.sync_ns = now_ns();
}

static uint64_t event_ns(void)
{
    if (!clk.usable)
        return now_ns();
    uint64_t tsc = read_tsc();
    if (clk.mult && clk.until_sync && tsc >= clk.sync_tsc) {
        clk.until_sync--;
        unsigned __int128 d = (unsigned __int128)(tsc - clk.sync_tsc) * clk.mult;
        return clk.sync_ns + (uint64_t)(d >> 32);
    }
    uint64_t ns = now_ns();
    if (ns - clk.base_ns >= SYNC_MIN_NS && tsc > clk.base_tsc) {
        clk.mult = (uint64_t)((((unsigned __int128)(ns - clk.base_ns)) << 32) / (tsc - clk.base_tsc));
        clk.base_tsc = tsc;
        clk.base_ns = ns;
    }
    clk.sync_tsc = tsc;
    clk.sync_ns = ns;
    clk.until_sync = SYNC_EVENTS;
    return ns;
}

static int bit_test_set(bitset *b, uint64_t i)
{
    size_t w = (size_t)(i / 64);
    if (w >= b->nwords) {
        size_t n = b->nwords ? b->nwords : 16;
        while (n <= w)
            n *= 2;
        uint64_t *nb = realloc(b->bits, n * sizeof *nb);
        if (!nb)
            return 1; /* pretend written: the reader reports the dangling id */
        memset(nb + b->nwords, 0, (n - b->nwords) * sizeof *nb);
        b->bits = nb;
        b->nwords = n;
    }
    uint64_t m = 1ull << (i % 64);
    int was = (b->bits[w] & m) != 0;
    b->bits[w] |= m;
    return was;
}

static void bit_clear_all(bitset *b)
{
    free(b->bits);
    b->bits = NULL;
    b->nwords = 0;
}

/* Payload under construction (in W.scratch). */
typedef struct {
    size_t len;
} pay;

static int scratch_reserve(size_t need)
{
    if (need <= W.scratch_cap)
        return 0;
    size_t cap = W.scratch_cap ? W.scratch_cap : 4096;
    while (cap < need)
        cap *= 2;
    uint8_t *n = realloc(W.scratch, cap);
    if (!n)
        return -1;
    W.scratch = n;
    W.scratch_cap = cap;
    return 0;
}

static void p_varint(pay *p, uint64_t v)
{
    if (scratch_reserve(p->len + 10) < 0)
        return;
    p->len += tr_put_varint(W.scratch + p->len, v);
}

static void p_bytes(pay *p, const void *data, size_t n)
{
    p_varint(p, n);
    if (scratch_reserve(p->len + n) < 0)
        return;
    memcpy(W.scratch + p->len, data, n);
    p->len += n;
}

static void p_str(pay *p, const char *s)
{
    p_bytes(p, s ? s : "", s ? strlen(s) : 0);
}

/* ---- the file --------------------------------------------------------- */

static void disable(const char *what)
{
    if (!W.failed) {
        char msg[512];
        int n = snprintf(msg, sizeof msg, "==%d==WARNING: bufsan: trace: %s (%s); recording stops\n",
                         (int)getpid(), what, strerror(errno));
        if (write(2, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1) < 0) {
        }
    }
    W.failed = 1;
}

/* Faults the pages of [from, to) of the mapping in with one call: a page
 * fault per fresh page on the hot path costs more than the record. */
static void prefault(size_t from, size_t to)
{
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
    if (to > from)
        (void)madvise(W.base + from, to - from, MADV_POPULATE_WRITE);
}

static int ensure_room(size_t n)
{
    if (W.pos + n <= W.cap)
        return 0;
    size_t cap = W.cap;
    while (W.pos + n > cap)
        cap += cap < MAX_STEP ? cap : MAX_STEP;
    if (ftruncate(W.fd, (off_t)cap) < 0) {
        disable("cannot grow the file");
        return -1;
    }
    void *nb = mremap(W.base, W.cap, cap, MREMAP_MAYMOVE);
    if (nb == MAP_FAILED) {
        disable("cannot map the grown file");
        return -1;
    }
    W.base = nb;
    prefault(W.cap, cap);
    W.cap = cap;
    return 0;
}

/* Copies the record [type][len][payload]; the type byte goes in last. */
static void put_record(uint8_t type, const uint8_t *payload, size_t len)
{
    if (W.failed || !W.base)
        return;
    uint8_t lenbuf[10];
    size_t lv = tr_put_varint(lenbuf, len);
    if (ensure_room(1 + lv + len) < 0)
        return;
    uint8_t *at = W.base + W.pos;
    memcpy(at + 1, lenbuf, lv);
    memcpy(at + 1 + lv, payload, len);
    __atomic_store_n(at, type, __ATOMIC_RELEASE);
    W.pos += 1 + lv + len;
}

static void put_pay(uint8_t type, const pay *p)
{
    put_record(type, W.scratch, p->len);
}

/* ---- modules ---------------------------------------------------------- */

static const uint8_t *find_build_id(const struct dl_phdr_info *info, size_t *len)
{
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
        const uint8_t *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
            const uint8_t *name = p + sizeof *nh;
            const uint8_t *desc = name + ((nh->n_namesz + 3) & ~3u);
            if (desc + nh->n_descsz > end)
                break;
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && !memcmp(name, "GNU", 4)) {
                *len = nh->n_descsz;
                return desc;
            }
            p = desc + ((nh->n_descsz + 3) & ~3u);
        }
    }
    *len = 0;
    return NULL;
}

static int module_known(uint64_t lo)
{
    for (size_t i = 0; i < W.nmodules; i++)
        if (W.modules[i].lo == lo)
            return 1;
    return 0;
}

static int on_module(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    (void)data;
    W.dl_adds = info->dlpi_adds;
    uint64_t lo = UINT64_MAX, hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        uint64_t a = info->dlpi_addr + ph->p_vaddr;
        if (a < lo)
            lo = a;
        if (a + ph->p_memsz > hi)
            hi = a + ph->p_memsz;
    }
    if (lo >= hi || module_known(lo))
        return 0;
    if (W.nmodules == W.capmodules) {
        size_t cap = W.capmodules ? W.capmodules * 2 : 64;
        range *n = realloc(W.modules, cap * sizeof *n);
        if (!n)
            return 1;
        W.modules = n;
        W.capmodules = cap;
    }
    W.modules[W.nmodules++] = (range){lo, hi};
    char exe[4096];
    const char *path = info->dlpi_name;
    if (!path || !*path) {
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        exe[n > 0 ? n : 0] = '\0';
        path = exe;
    }
    size_t idlen;
    const uint8_t *id = find_build_id(info, &idlen);
    pay p = {0};
    p_varint(&p, info->dlpi_addr);
    p_varint(&p, lo);
    p_varint(&p, hi);
    p_str(&p, path);
    p_bytes(&p, id, idlen);
    put_pay(TR_MODULE, &p);
    return 0;
}

static void scan_modules(void)
{
    dl_iterate_phdr(on_module, NULL);
}

static int pc_known(uint64_t pc)
{
    for (size_t i = 0; i < W.nmodules; i++)
        if (pc >= W.modules[i].lo && pc < W.modules[i].hi)
            return 1;
    return 0;
}

/* ---- referenced records ----------------------------------------------- */

static uint32_t string_id(const char *s)
{
    if (!s)
        s = "";
    uint64_t h = fnv1a_str(FNV1A_BASIS, s) | 1;
    uint64_t k = h;
    for (;; k = u64_mix(k) | 1) {
        uintptr_t id = (uintptr_t)u64map_get(&W.string_ids, k);
        if (!id)
            break;
        if (!strcmp(W.strings[id - 1], s))
            return (uint32_t)id;
    }
    if (W.nstrings == W.capstrings) {
        uint32_t cap = W.capstrings ? W.capstrings * 2 : 256;
        const char **n = realloc(W.strings, cap * sizeof *n);
        if (!n)
            return 0;
        W.strings = n;
        W.capstrings = cap;
    }
    W.strings[W.nstrings++] = s; /* depot strings live as long as the process */
    uint32_t id = W.nstrings;
    u64map_put(&W.string_ids, k, (void *)(uintptr_t)id);
    pay p = {0};
    p_varint(&p, id);
    p_str(&p, s);
    put_pay(TR_STRING, &p);
    return id;
}

static void ensure_stack(uint32_t id)
{
    if (!id || bit_test_set(&W.stacks, id))
        return;
    bs_stack st;
    if (depot_get(id, &st) < 0)
        return;
    uint32_t *ids = calloc(st.npy ? 2 * (size_t)st.npy : 1, sizeof *ids);
    if (!ids)
        return;
    /* strings and modules first: the STACK record only refers to them */
    for (uint32_t i = 0; i < st.npy; i++) {
        ids[2 * i] = string_id(st.py[i]->file);
        ids[2 * i + 1] = string_id(st.py[i]->function);
    }
    for (uint32_t i = 0; i < st.nnative; i++)
        if (!pc_known(st.pcs[i])) {
            scan_modules();
            break;
        }
    pay p = {0};
    p_varint(&p, id);
    p_varint(&p, st.npy);
    for (uint32_t i = 0; i < st.npy; i++) {
        p_varint(&p, ids[2 * i]);
        p_varint(&p, ids[2 * i + 1]);
        p_varint(&p, tr_zigzag(st.py[i]->line));
    }
    p_varint(&p, st.nnative);
    uint64_t prev = 0;
    for (uint32_t i = 0; i < st.nnative; i++) {
        p_varint(&p, tr_zigzag((int64_t)(st.pcs[i] - prev)));
        prev = st.pcs[i];
    }
    put_pay(TR_STACK, &p);
    free(ids);
}

static void ensure_typename(uint32_t id)
{
    if (!id || bit_test_set(&W.typenames, id))
        return;
    pay p = {0};
    p_varint(&p, id);
    p_str(&p, engine_string(W.engine, id));
    put_pay(TR_TYPENAME, &p);
}

static void ensure_thread(uint32_t t)
{
    if (bit_test_set(&W.threads, t))
        return;
    pay p = {0};
    p_varint(&p, t);
    p_varint(&p, (uint64_t)syscall(SYS_gettid));
    put_pay(TR_THREAD, &p);
}

/* The fields that refer to other records (found once). */
static const tr_field *ref_fields[16];
static size_t nref_fields = SIZE_MAX;

static void find_ref_fields(void)
{
    nref_fields = 0;
    for (size_t i = 0; i < tr_nfields; i++)
        if (tr_fields[i].role != TR_ROLE_PLAIN && tr_fields[i].size == 4 &&
            nref_fields < sizeof ref_fields / sizeof ref_fields[0])
            ref_fields[nref_fields++] = &tr_fields[i];
}

static inline int bit_is_set(const bitset *b, uint64_t i)
{
    size_t w = (size_t)(i / 64);
    return w < b->nwords && (b->bits[w] >> (i % 64) & 1);
}

static void write_event(const bs_event *ev)
{
    if (__builtin_expect(nref_fields == SIZE_MAX, 0))
        find_ref_fields();
    for (size_t i = 0; i < nref_fields; i++) {
        const tr_field *f = ref_fields[i];
        uint32_t v;
        memcpy(&v, (const char *)ev + f->offset, 4);
        if (bit_is_set(f->role == TR_ROLE_STACK       ? &W.stacks
                       : f->role == TR_ROLE_TYPENAME ? &W.typenames
                                                     : &W.threads,
                       v))
            continue;
        if (f->role == TR_ROLE_STACK)
            ensure_stack(v);
        else if (f->role == TR_ROLE_TYPENAME)
            ensure_typename(v);
        else
            ensure_thread(v);
    }
    /* the event's words, read in place */
    typedef uint64_t __attribute__((may_alias)) word;
    const word *w = (const word *)(const void *)ev;
    const size_t nw = sizeof *ev / 8;
    uint64_t *prev = W.prev[(unsigned)ev->kind < PREV_SLOTS ? (unsigned)ev->kind : 0];
    uint64_t t = event_ns();
    uint64_t mask = 0;
    for (size_t i = 0; i < nw; i++)
        if (w[i] != prev[i])
            mask |= 1ull << i;
    uint8_t buf[3 * 10 + TR_MAX_EVENT_WORDS * 10];
    size_t n = 0;
    n += tr_put_varint(buf + n, (uint64_t)ev->kind);
    n += tr_put_varint(buf + n, t > W.last_ns ? t - W.last_ns : 0);
    n += tr_put_varint(buf + n, mask);
    for (size_t i = 0; i < nw; i++)
        if (mask & (1ull << i)) {
            n += tr_put_varint(buf + n, tr_zigzag((int64_t)(w[i] - prev[i])));
            prev[i] = w[i];
        }
    if (t > W.last_ns)
        W.last_ns = t;
    put_record(TR_EVENT, buf, n);
    W.nevents++;
}

/* ---- opening ---------------------------------------------------------- */

static void expand(char *out, size_t len, const char *tmpl, pid_t pid)
{
    if (!strstr(tmpl, "%p")) {
        snprintf(out, len, "%s.%d", tmpl, (int)pid);
        return;
    }
    size_t o = 0;
    for (const char *s = tmpl; *s && o + 1 < len; s++) {
        if (s[0] == '%' && s[1] == 'p') {
            o += (size_t)snprintf(out + o, len - o, "%d", (int)pid);
            if (o >= len)
                o = len - 1;
            s++;
        } else {
            out[o++] = *s;
        }
    }
    out[o] = '\0';
}

static void reset_state(void)
{
    memset(W.prev, 0, sizeof W.prev);
    bit_clear_all(&W.stacks);
    bit_clear_all(&W.typenames);
    bit_clear_all(&W.threads);
    u64map_destroy(&W.string_ids);
    u64map_init(&W.string_ids, 1024);
    W.nstrings = 0;
    W.nmodules = 0;
    W.nevents = 0;
    W.failed = 0;
}

static void snapshot_one(const bs_event *ev, void *ctx)
{
    (void)ctx;
    write_event(ev);
}

static size_t count_live(void)
{
    return engine_live_exports(W.engine);
}

/* Opens this process's file: header, process, schema, modules. */
static int open_file(char *err, size_t errlen)
{
    char path[4096];
    W.pid = getpid();
    expand(path, sizeof path, W.tmpl, W.pid);
    reset_state();
    W.fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (W.fd < 0 || ftruncate(W.fd, INITIAL_SIZE) < 0) {
        snprintf(err, errlen, "trace: cannot create %s: %s", path, strerror(errno));
        if (W.fd >= 0)
            close(W.fd);
        W.fd = -1;
        return -1;
    }
    W.base = mmap(NULL, INITIAL_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, W.fd, 0);
    if (W.base == MAP_FAILED) {
        snprintf(err, errlen, "trace: cannot map %s: %s", path, strerror(errno));
        close(W.fd);
        W.fd = -1;
        W.base = NULL;
        return -1;
    }
    W.cap = INITIAL_SIZE;
    prefault(0, INITIAL_SIZE);
    uint8_t h[TR_HEADER_SIZE] = {0};
    memcpy(h, TR_MAGIC, 8);
    uint16_t maj = TR_VERSION_MAJOR, min = TR_VERSION_MINOR;
    uint32_t hs = TR_HEADER_SIZE, pid = (uint32_t)W.pid;
    memcpy(h + 8, &maj, 2);
    memcpy(h + 10, &min, 2);
    memcpy(h + 12, &hs, 4);
    memcpy(h + 16, &pid, 4);
    memcpy(W.base, h, sizeof h);
    W.pos = TR_HEADER_SIZE;
    W.start_ns = W.last_ns = now_ns();
    clock_start();

    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    pay p = {0};
    p_varint(&p, (uint64_t)W.pid);
    p_varint(&p, (uint64_t)getppid());
    p_varint(&p, W.start_ns);
    p_varint(&p, (uint64_t)rt.tv_sec * 1000000000ull + (uint64_t)rt.tv_nsec);
    p_str(&p, exe);
    p_str(&p, W.options);
    put_pay(TR_PROCESS, &p);

    p.len = 0;
    p_varint(&p, sizeof(bs_event));
    p_varint(&p, tr_nfields);
    for (size_t i = 0; i < tr_nfields; i++) {
        p_str(&p, tr_fields[i].name);
        p_varint(&p, tr_fields[i].offset);
        p_varint(&p, tr_fields[i].size);
        p_varint(&p, tr_fields[i].role);
    }
    put_pay(TR_SCHEMA, &p);
    scan_modules();
    for (int i = 0; i < W.nhidden; i++) {
        p.len = 0;
        p_varint(&p, W.hidden[i]);
        put_pay(TR_HIDE, &p);
    }
    return 0;
}

/* Called with the engine lock held by every writer: a forked child opens its own
 * file here, starting with the exports it inherited. */
static int ready(void)
{
    if (!W.enabled)
        return 0;
    if (W.pending_open) {
        char err[512];
        W.pending_open = 0;
        if (open_file(err, sizeof err) < 0) {
            errno = 0;
            fprintf(stderr, "==%d==WARNING: bufsan: %s\n", (int)getpid(), err);
            W.enabled = 0;
            return 0;
        }
        pay p = {0};
        if (W.test) {
            /* the test the parent ran when it forked: the child's from the start */
            p_str(&p, W.test);
            put_pay(TR_TEST, &p);
            p.len = 0;
        }
        p_varint(&p, (uint64_t)getppid());
        p_varint(&p, count_live());
        put_pay(TR_INHERITED, &p);
        engine_for_each_live_export(W.engine, snapshot_one, NULL);
    }
    return !W.failed;
}

/* The engine calls this with its lock held: that lock is the writer's. */
static void record_event(const bs_event *ev, void *ctx)
{
    (void)ctx;
    if (!ready())
        return;
    if (ev->kind == BS_EV_BUFFER_CALL && ev->snapshot) {
        pay p = {0};
        p_bytes(&p, ev->snapshot, sizeof(bs_view_snapshot));
        put_pay(TR_SNAPSHOT, &p);
    }
    write_event(ev);
}

int trace_open(const char *tmpl, bs_engine *engine, const char *options, char *err, size_t errlen)
{
    /* before the recorder is installed: nothing else writes yet */
    W.tmpl = strdup(tmpl);
    W.options = strdup(options ? options : "");
    W.engine = engine;
    int rc = W.tmpl && W.options ? open_file(err, errlen) : -1;
    W.enabled = rc == 0;
    if (rc == 0)
        engine_set_recorder(engine, record_event, NULL);
    return rc;
}

void trace_finding_sink(const bs_finding *f, void *ctx)
{
    /* called by the engine, with its lock held */
    if (ready()) {
        for (int i = 0; i < f->nstacks; i++)
            ensure_stack(f->stacks[i].stack);
        pay p = {0};
        p_str(&p, bs_checks[f->check].name);
        p_varint(&p, (uint64_t)f->severity);
        p_str(&p, f->message);
        p_varint(&p, f->count);
        p_varint(&p, tr_zigzag(f->bytes));
        p_varint(&p, (uint64_t)f->nstacks);
        for (int i = 0; i < f->nstacks; i++) {
            p_str(&p, f->stacks[i].role);
            p_varint(&p, f->stacks[i].thread);
            p_varint(&p, f->stacks[i].stack);
        }
        put_pay(TR_FINDING, &p);
    }
    report_finding(f, ctx);
}

static void lock_writer(void)
{
    if (W.engine)
        engine_lock(W.engine);
}

static void unlock_writer(void)
{
    if (W.engine)
        engine_unlock(W.engine);
}

void trace_hide_address(uint64_t addr)
{
    lock_writer();
    if (W.nhidden < (int)(sizeof W.hidden / sizeof W.hidden[0]))
        W.hidden[W.nhidden++] = addr;
    if (W.enabled && !W.pending_open && !W.failed) {
        pay p = {0};
        p_varint(&p, addr);
        put_pay(TR_HIDE, &p);
    }
    unlock_writer();
}

void trace_type_patched(const char *name)
{
    lock_writer();
    if (W.enabled && !W.pending_open && !W.failed) {
        pay p = {0};
        p_str(&p, name);
        put_pay(TR_TYPE_PATCHED, &p);
    }
    unlock_writer();
}

void trace_test(const char *name)
{
    lock_writer();
    if (!W.enabled) {
        unlock_writer();
        return;
    }
    free(W.test);
    W.test = name && *name ? strdup(name) : NULL;
    if (!W.pending_open && !W.failed) {
        pay p = {0};
        p_str(&p, W.test);
        put_pay(TR_TEST, &p);
    }
    unlock_writer();
}

void trace_after_fork_child(void)
{
    if (!W.enabled)
        return;
    /* the mapping is the parent's file: never write to it from here */
    if (W.base)
        munmap(W.base, W.cap);
    if (W.fd >= 0)
        close(W.fd);
    W.base = NULL;
    W.fd = -1;
    W.cap = W.pos = 0;
    W.pending_open = 1;
}

void trace_close(int status)
{
    lock_writer();
    if (W.enabled && !W.pending_open && W.base) {
        pay p = {0};
        p_varint(&p, (uint64_t)(uint32_t)status);
        p_varint(&p, W.nevents);
        if (!W.failed)
            put_pay(TR_END, &p);
        munmap(W.base, W.cap);
        if (ftruncate(W.fd, (off_t)W.pos) < 0) {
            /* the zeroed tail stays: readers stop at it */
        }
        close(W.fd);
        W.base = NULL;
        W.fd = -1;
    }
    W.enabled = 0;
    unlock_writer();
}

void trace_stats(uint64_t *bytes, uint64_t *events)
{
    *bytes = W.pos;
    *events = W.nevents;
}
