/* Reading memory of this process through a pointer that may be wild,
 * without faulting. Ranges the caller vouches for (the Py_buffer itself, the
 * exporter object), the loaded ELF segments (string literals such as the
 * "B" of PyBuffer_FillInfo), malloc's break heap and the regions the
 * loader saw mapped (safe_read_set_region_query) are read directly;
 * anything else goes through
 * process_vm_readv on our own pid, which the kernel checks page by page.
 * Async-signal-unsafe (the segment cache takes a lock when it refreshes), no
 * Python. */
#ifndef BUFSAN_COMMON_SAFE_READ_H
#define BUFSAN_COMMON_SAFE_READ_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t start, end; /* [start, end) */
} bs_range;

typedef struct {
    const bs_range *ranges;
    int n;
} bs_trusted;

/* Copies up to LEN bytes at ADDR into DST; returns how many could be read
 * (a prefix). STRING: a NUL-terminated string is wanted, bytes after its NUL
 * may be left unread. CTX is a bs_trusted (or NULL). Has the bs_safe_reader
 * shape. */
size_t safe_read(void *dst, uint64_t addr, size_t len, int string, void *ctx);

/* Can every byte of [ADDR, ADDR+LEN) be read? Known-mapped memory answers
 * at once; anything else is probed one byte per page through the kernel
 * (no copy of the range). For memory read directly afterwards (hashing). */
int safe_readable(uint64_t addr, size_t len);

/* Another source of memory known to be mapped: the loader's record of the
 * anonymous regions the program mapped (the interpreter's arenas). */
void safe_read_set_region_query(int (*query)(unsigned long long addr, unsigned long long len));

/* Counters for measurements and tests. */
typedef struct {
    uint64_t direct, module, heap, mapped, syscall, refresh;
} bs_safe_read_stats;
void safe_read_stats(bs_safe_read_stats *out);
/* Keep those counts (the default) or not (a core with verbosity=0). */
void safe_read_count(int on);

#endif
