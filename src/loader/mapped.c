/* Anonymous memory the program maps through the PLT: the interpreter's
 * object arenas (pymalloc's 1 MiB arenas come from mmap), and mappings of
 * extension modules. The core reads shape, strides and format arrays of
 * views without faulting; when such an array lives in one of these regions
 * it can read it directly instead of asking the kernel (process_vm_readv,
 * a system call per read). glibc's own mmap calls (malloc's large chunks)
 * are not seen and go the slow, safe way.
 *
 * The wrappers make the system calls themselves (no dlsym, no malloc: a
 * malloc that maps memory may call them), record only once the loader knows
 * it is in a Python process, and keep a fixed-size sorted table. Writers
 * take a spin lock (which a forked child resets) and make the sequence
 * number odd while they change the table; a reader writes nothing shared:
 * it searches, and searches again if the sequence number moved (a lock
 * taken by every reader was 10% of a 2-thread loop of exports on 3.14t,
 * its cache line going from core to core). A region munmap'd or mremap'd,
 * even in part, is dropped whole: it is then read the slow way. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../common/spin.h"
#include "mapped.h"

#define EXPORT __attribute__((visibility("default")))
#define MAX_REGIONS 8192

typedef struct {
    uint64_t start, end;
} region;

static region regions[MAX_REGIONS];
static int nregions;
static int lock_word;
static unsigned seq; /* odd while a writer changes the table */
static int recording;

static void lock(void) { spin_lock(&lock_word); }

static void unlock(void) { spin_unlock(&lock_word); }

/* Around a change of the table, with the lock held. */
static void write_begin(void)
{
    __atomic_store_n(&seq, seq + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
}

static void write_end(void) { __atomic_store_n(&seq, seq + 1, __ATOMIC_RELEASE); }

static void reset_in_child(void)
{
    lock_word = 0;
    if (seq & 1) {
        /* a writer of another thread stopped midway: the table may be half
         * moved; nothing in it is trusted (reads go the slow way) */
        nregions = 0;
        seq++;
    }
}

void mapped_start_recording(void)
{
    pthread_atfork(NULL, NULL, reset_in_child);
    __atomic_store_n(&recording, 1, __ATOMIC_RELEASE);
}

/* First region whose start is > ADDR. (Read while a writer may change
 * the table: every index stays below MAX_REGIONS.) */
static int upper_bound(uint64_t addr)
{
    int lo = 0, hi = __atomic_load_n(&nregions, __ATOMIC_RELAXED);
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (__atomic_load_n(&regions[mid].start, __ATOMIC_RELAXED) <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void drop(uint64_t start, uint64_t end)
{
    int i = upper_bound(start);
    if (i > 0 && regions[i - 1].end > start)
        i--;
    int j = i;
    while (j < nregions && regions[j].start < end)
        j++;
    if (j > i) {
        memmove(&regions[i], &regions[j], (size_t)(nregions - j) * sizeof regions[0]);
        nregions -= j - i;
    }
}

static void add(uint64_t start, uint64_t end)
{
    drop(start, end); /* MAP_FIXED over an old region */
    if (nregions == MAX_REGIONS)
        return;
    int i = upper_bound(start);
    memmove(&regions[i + 1], &regions[i], (size_t)(nregions - i) * sizeof regions[0]);
    regions[i] = (region){start, end};
    nregions++;
}

int mapped_contains(unsigned long long addr, unsigned long long len)
{
    uint64_t end = addr + len;
    if (end < addr)
        return 0;
    for (;;) {
        unsigned s = __atomic_load_n(&seq, __ATOMIC_ACQUIRE);
        if (s & 1) {
            cpu_relax();
            continue;
        }
        int i = upper_bound(addr);
        int ok = i > 0 && end <= __atomic_load_n(&regions[i - 1].end, __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&seq, __ATOMIC_RELAXED) == s)
            return ok;
    }
}

/* Forgets [ADDR, ADDR+LEN) before it is unmapped, remapped or made
 * unreadable: a reader must never trust memory on its way out. */
static void forget(void *addr, size_t len)
{
    if (!len || !__atomic_load_n(&recording, __ATOMIC_ACQUIRE))
        return;
    uint64_t s = (uint64_t)(uintptr_t)addr;
    lock();
    write_begin();
    drop(s, s + len);
    write_end();
    unlock();
}

/* syscall() returns -1 and sets errno on failure, like the libc wrappers. */
static void *sys_result(long r) { return r == -1 ? MAP_FAILED : (void *)r; }

EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    void *p = sys_result(syscall(SYS_mmap, addr, len, prot, flags, fd, off));
    if (p != MAP_FAILED && __atomic_load_n(&recording, __ATOMIC_ACQUIRE)) {
        uint64_t s = (uint64_t)(uintptr_t)p;
        lock();
        write_begin();
        if ((flags & MAP_ANONYMOUS) && (prot & PROT_READ) && len)
            add(s, s + len);
        else
            drop(s, s + len);
        write_end();
        unlock();
    }
    return p;
}

EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
    __attribute__((alias("mmap")));

EXPORT int munmap(void *addr, size_t len)
{
    forget(addr, len);
    return syscall(SYS_munmap, addr, len) == -1 ? -1 : 0;
}

EXPORT int mprotect(void *addr, size_t len, int prot)
{
    if (!(prot & PROT_READ))
        forget(addr, len);
    return syscall(SYS_mprotect, addr, len, prot) == -1 ? -1 : 0;
}

EXPORT void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
    void *new_addr = NULL;
    if (flags & MREMAP_FIXED) {
        va_list ap;
        va_start(ap, flags);
        new_addr = va_arg(ap, void *);
        va_end(ap);
    }
    forget(old, old_len);
    return sys_result(syscall(SYS_mremap, old, old_len, new_len, flags, new_addr));
}
