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
 * it is in a Python process, and keep a fixed-size sorted table under a
 * spin lock that a forked child resets. A region munmap'd or mremap'd, even
 * in part, is dropped whole: it is then read the slow way. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mapped.h"

#define EXPORT __attribute__((visibility("default")))
#define MAX_REGIONS 8192

typedef struct {
    uint64_t start, end;
} region;

static region regions[MAX_REGIONS];
static int nregions;
static volatile int lock_word;
static int recording;

static void lock(void)
{
    while (__atomic_exchange_n(&lock_word, 1, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(&lock_word, __ATOMIC_RELAXED))
            __builtin_ia32_pause();
}

static void unlock(void) { __atomic_store_n(&lock_word, 0, __ATOMIC_RELEASE); }

static void reset_in_child(void) { lock_word = 0; }

void mapped_start_recording(void)
{
    pthread_atfork(NULL, NULL, reset_in_child);
    __atomic_store_n(&recording, 1, __ATOMIC_RELEASE);
}

/* First region whose start is > ADDR. */
static int upper_bound(uint64_t addr)
{
    int lo = 0, hi = nregions;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (regions[mid].start <= addr)
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
    lock();
    int i = upper_bound(addr);
    int ok = i > 0 && end <= regions[i - 1].end;
    unlock();
    return ok;
}

/* Forgets [ADDR, ADDR+LEN) before it is unmapped, remapped or made
 * unreadable: a reader must never trust memory on its way out. */
static void forget(void *addr, size_t len)
{
    if (!len || !__atomic_load_n(&recording, __ATOMIC_ACQUIRE))
        return;
    uint64_t s = (uint64_t)(uintptr_t)addr;
    lock();
    drop(s, s + len);
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
        if ((flags & MAP_ANONYMOUS) && (prot & PROT_READ) && len)
            add(s, s + len);
        else
            drop(s, s + len);
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
