/* See trampoline.h. Stub layout (23 bytes, padded to 32):
 *   movabs <argreg>, ctx      48 B9/BA/BE imm64   (rcx / rdx / rsi)
 *   movabs r11, target        49 BB imm64
 *   jmp r11                   41 FF E3
 * The jump keeps the stub off the stack, so unwinding sees the caller. */
#include "trampoline.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if !defined(__x86_64__)
#error "bufsan's slot stubs are written for x86-64"
#endif

#define STUB_SIZE 32

struct tramp_batch {
    unsigned char *base;
    size_t size, used;
};

typedef struct {
    uintptr_t start, end;
} region;

static region *regions;
static size_t nregions, capregions;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

tramp_batch *tramp_batch_begin(size_t max_stubs)
{
    tramp_batch *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    b->size = ((max_stubs ? max_stubs : 1) * STUB_SIZE + page - 1) / page * page;
    b->base = mmap(NULL, b->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (b->base == MAP_FAILED) {
        free(b);
        return NULL;
    }
    return b;
}

void *tramp_add(tramp_batch *b, int argpos, void *ctx, void *target)
{
    static const unsigned char reg_opcode[] = {[2] = 0xBE, [3] = 0xBA, [4] = 0xB9};
    if (!b || argpos < 2 || argpos > 4 || b->used + STUB_SIZE > b->size)
        return NULL;
    unsigned char *p = b->base + b->used;
    uint64_t c = (uint64_t)(uintptr_t)ctx, t = (uint64_t)(uintptr_t)target;
    p[0] = 0x48;
    p[1] = reg_opcode[argpos];
    memcpy(p + 2, &c, 8);
    p[10] = 0x49;
    p[11] = 0xBB;
    memcpy(p + 12, &t, 8);
    p[20] = 0x41;
    p[21] = 0xFF;
    p[22] = 0xE3;
    memset(p + 23, 0xCC, STUB_SIZE - 23);
    b->used += STUB_SIZE;
    return p;
}

int tramp_batch_end(tramp_batch *b)
{
    if (!b)
        return -1;
    int rc = 0;
    if (b->used == 0) {
        munmap(b->base, b->size);
    } else {
        rc = mprotect(b->base, b->size, PROT_READ | PROT_EXEC);
        __builtin___clear_cache((char *)b->base, (char *)b->base + b->used);
        pthread_mutex_lock(&lock);
        if (nregions == capregions) {
            size_t cap = capregions ? capregions * 2 : 16;
            region *n = realloc(regions, cap * sizeof *n);
            if (n) {
                regions = n;
                capregions = cap;
            }
        }
        if (nregions < capregions)
            regions[nregions++] = (region){(uintptr_t)b->base, (uintptr_t)b->base + b->size};
        pthread_mutex_unlock(&lock);
    }
    free(b);
    return rc;
}

int tramp_is_ours(const void *fn)
{
    uintptr_t a = (uintptr_t)fn;
    for (size_t i = 0; i < nregions; i++)
        if (a >= regions[i].start && a < regions[i].end)
            return 1;
    return 0;
}
