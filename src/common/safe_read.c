/* See safe_read.h. The loaded-segment cache is an immutable array published
 * through an atomic pointer and rebuilt (under a lock) after many misses
 * when the set of loaded objects changed; old arrays are kept, so a reader
 * never sees freed memory. Python never unloads extension modules; a
 * pointer into an object dlclose'd after the last rebuild would be read
 * directly (the one case this does not guard). */
#define _GNU_SOURCE
#include "safe_read.h"

#include <link.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

typedef struct {
    size_t n;
    unsigned long long adds, subs;
    bs_range r[];
} seg_table;

static seg_table *_Atomic segs;
static pthread_mutex_t seg_lock = PTHREAD_MUTEX_INITIALIZER;
/* misses since the last refresh, per thread; the counters are statistics,
 * racy by design, and kept only while `counting` (shared lines written at
 * every read went from core to core in a free-threaded program) */
#define COUNT(c) ((void)(counting && (c)++))
static __thread uint64_t misses __attribute__((tls_model("initial-exec")));
static int counting = 1;
static uint64_t n_direct, n_module, n_heap, n_mapped, n_syscall, n_refresh;
static int (*region_query)(unsigned long long, unsigned long long);

void safe_read_set_region_query(int (*query)(unsigned long long, unsigned long long))
{
    region_query = query;
}

static uint64_t heap_start; /* see in_brk_heap */
static void find_heap_start(void);

typedef struct {
    seg_table *t;
    size_t cap;
    unsigned long long adds, subs;
} seg_build;

static int collect(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    seg_build *b = data;
    b->adds = info->dlpi_adds;
    b->subs = info->dlpi_subs;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_R) || !ph->p_memsz)
            continue;
        if (b->t->n == b->cap) {
            size_t cap = b->cap * 2;
            seg_table *n = realloc(b->t, sizeof *n + cap * sizeof n->r[0]);
            if (!n)
                return 1;
            b->t = n;
            b->cap = cap;
        }
        uint64_t start = info->dlpi_addr + ph->p_vaddr;
        b->t->r[b->t->n++] = (bs_range){start, start + ph->p_memsz};
    }
    return 0;
}

static int cmp_range(const void *a, const void *b)
{
    const bs_range *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

static void refresh(void)
{
    pthread_mutex_lock(&seg_lock);
    seg_build b = {malloc(sizeof(seg_table) + 64 * sizeof(bs_range)), 64, 0, 0};
    if (b.t) {
        b.t->n = 0;
        dl_iterate_phdr(collect, &b);
        seg_table *old = segs;
        if (old && old->adds == b.adds && old->subs == b.subs) {
            free(b.t);
        } else {
            b.t->adds = b.adds;
            b.t->subs = b.subs;
            qsort(b.t->r, b.t->n, sizeof b.t->r[0], cmp_range);
            segs = b.t; /* the old table stays allocated: readers may hold it */
            if (!heap_start)
                find_heap_start();
            n_refresh++;
        }
    }
    misses = 0;
    pthread_mutex_unlock(&seg_lock);
}

/* The segment of the last hit, per thread: format strings are mostly the
 * same few literals. Points into a table, and tables are never freed.
 * (One shared pointer was written by every thread's misses: its cache line
 * bounced between the cores of a free-threaded program, 10% of a 2-thread
 * loop of exports on 3.14t.) */
static __thread const bs_range *last_hit __attribute__((tls_model("initial-exec")));

static int in_last_segment(uint64_t addr, size_t len)
{
    const bs_range *h = last_hit;
    return h && addr >= h->start && addr + len <= h->end && addr + len >= addr;
}

static int in_segments(uint64_t addr, size_t len)
{
    seg_table *t = segs;
    if (!t)
        return 0;
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (t->r[mid].start <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo > 0 && addr + len <= t->r[lo - 1].end && addr + len >= addr) {
        last_hit = &t->r[lo - 1];
        return 1;
    }
    return 0;
}

/* getpid() is a system call in this glibc: cache it, per process. */
static pid_t _Atomic cached_pid;

static void forget_pid(void) { cached_pid = 0; }

static void watch_fork(void) { pthread_atfork(NULL, NULL, forget_pid); }

static pid_t self_pid(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pid_t p = cached_pid;
    if (!p) {
        pthread_once(&once, watch_fork);
        p = getpid();
        cached_pid = p;
    }
    return p;
}

/* Largest readable prefix through the kernel. */
static size_t read_syscall(void *dst, uint64_t addr, size_t len)
{
    COUNT(n_syscall);
    struct iovec local = {dst, len};
    struct iovec remote = {(void *)(uintptr_t)addr, len};
    ssize_t n = process_vm_readv(self_pid(), &local, 1, &remote, 1, 0);
    return n > 0 ? (size_t)n : 0;
}

/* The main arena of malloc: the program break's heap, [heap_start, sbrk(0)).
 * It is one contiguous mapping that only ever moves its top, and sbrk(0)
 * reads glibc's cached break without a system call, so an address below the
 * current break and above the start is mapped (memory above a live
 * allocation is never trimmed). Shape and strides arrays that exporters
 * malloc (numpy's dimensions, _testbuffer's) mostly live here. */
static void find_heap_start(void)
{
    FILE *f = fopen("/proc/self/maps", "re");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        unsigned long long lo, hi;
        if (strstr(line, "[heap]") && sscanf(line, "%llx-%llx", &lo, &hi) == 2) {
            heap_start = lo;
            break;
        }
    }
    fclose(f);
}

static int in_brk_heap(uint64_t addr, size_t len)
{
    if (!heap_start)
        return 0;
    uint64_t top = (uint64_t)(uintptr_t)sbrk(0);
    return addr >= heap_start && addr + len <= top && addr + len >= addr;
}

/* Direct copy of memory known to be mapped; a string stops after its NUL
 * (the bytes beyond may belong to another object). */
static size_t copy_direct(void *dst, uint64_t addr, size_t n, int string)
{
    if (!string) {
        memcpy(dst, (const void *)(uintptr_t)addr, n);
        return n;
    }
    const char *src = (const char *)(uintptr_t)addr;
    char *d = dst;
    for (size_t i = 0; i < n; i++)
        if (!(d[i] = src[i]))
            return i + 1;
    return n;
}

/* Is [ADDR, ADDR+LEN) in memory known to be mapped? Its statistics
 * counter (which kind of memory), or NULL. The arenas before a search of
 * the segments: objects' memory is read as often as literals, and a
 * failed search of the segments was 5% of a loop of C exports (bench M2).
 * Inlined: safe_read runs several times per export. */
static inline __attribute__((always_inline)) uint64_t *known_mapped(uint64_t addr, size_t len)
{
    if (!segs)
        refresh();
    if (in_last_segment(addr, len))
        return &n_module;
    if (region_query && region_query(addr, len))
        return &n_mapped;
    if (in_segments(addr, len))
        return &n_module;
    if (in_brk_heap(addr, len))
        return &n_heap;
    return NULL;
}

size_t safe_read(void *dst, uint64_t addr, size_t len, int string, void *ctx)
{
    if (!len)
        return 0;
    if (!addr || addr + len < addr)
        return 0;
    const bs_trusted *tr = ctx;
    for (int i = 0; tr && i < tr->n; i++)
        if (addr >= tr->ranges[i].start && addr < tr->ranges[i].end) {
            size_t avail = (size_t)(tr->ranges[i].end - addr);
            size_t n = len < avail ? len : avail;
            size_t got = copy_direct(dst, addr, n, string);
            COUNT(n_direct);
            if (got < n || (string && got && !((char *)dst)[got - 1]))
                return got;
            return n < len ? n + safe_read((char *)dst + n, addr + n, len - n, string, ctx) : n;
        }
    /* strings are read with a bound larger than they are: a segment holding
     * the first byte is enough when the rest fits in it, else the kernel */
    uint64_t *counter = known_mapped(addr, len);
    if (counter) {
        COUNT(*counter);
        return copy_direct(dst, addr, len, string);
    }
    if (++misses > 4096)
        refresh();
    return read_syscall(dst, addr, len);
}

int safe_readable(uint64_t addr, size_t len)
{
    if (!len)
        return 1;
    if (!addr || addr + len < addr)
        return 0;
    if (known_mapped(addr, len))
        return 1;
    /* one byte of every page, up to IOV_BATCH pages per system call */
    enum { IOV_BATCH = 256 };
    uint64_t page = 4096, first = addr & ~(page - 1), last = (addr + len - 1) & ~(page - 1);
    struct iovec remote[IOV_BATCH];
    char sink[IOV_BATCH];
    struct iovec local = {sink, 0};
    uint64_t p = first;
    while (p <= last) {
        int n = 0;
        for (; n < IOV_BATCH && p <= last; n++, p += page) {
            uint64_t at = p < addr ? addr : p;
            remote[n] = (struct iovec){(void *)(uintptr_t)at, 1};
        }
        local.iov_len = (size_t)n;
        COUNT(n_syscall);
        ssize_t got = process_vm_readv(self_pid(), &local, 1, remote, (unsigned long)n, 0);
        if (got != n)
            return 0;
        if (p == 0)
            break; /* wrapped past the top of the address space */
    }
    return 1;
}

void safe_read_count(int on) { counting = on; }

void safe_read_stats(bs_safe_read_stats *out)
{
    out->direct = n_direct;
    out->module = n_module;
    out->heap = n_heap;
    out->mapped = n_mapped;
    out->syscall = n_syscall;
    out->refresh = n_refresh;
}
