/* Rewriting GOT entries of loaded ELF objects (the way memray hooks malloc):
 * the JUMP_SLOT / GLOB_DAT relocations of named symbols are pointed at
 * replacements. Knows nothing of Python. Not thread-safe: callers serialise. */
#ifndef BUFSAN_INTERCEPT_GOT_H
#define BUFSAN_INTERCEPT_GOT_H

#include <stdint.h>

typedef struct {
    const char *name;
    void *replacement;
} got_hook;

/* Called for each loaded object; return nonzero to leave it alone. */
typedef int (*got_skip_fn)(const char *path, uintptr_t base, void *ctx);

/* Returns the number of GOT entries written. An object a previous call
 * scanned is not scanned again while no object has been unloaded since
 * (the callers pass the same hooks every time). */
int got_patch_all(const got_hook *hooks, int nhooks, got_skip_fn skip, void *ctx);

#endif
