/* Per-type stubs: a few bytes of machine code that load a context pointer
 * into the next free argument register and jump to a common C wrapper, so
 * that each patched type forwards to its own original slot with no lookup
 * and with no fixed limit on the number of types. x86-64 only. */
#ifndef BUFSAN_INTERCEPT_TRAMPOLINE_H
#define BUFSAN_INTERCEPT_TRAMPOLINE_H

#include <stddef.h>

/* A batch of stubs is written into fresh pages, then made read+execute and
 * never written again (no page is ever writable while another thread may
 * run a stub in it). */
typedef struct tramp_batch tramp_batch;

tramp_batch *tramp_batch_begin(size_t max_stubs);
/* Adds a stub that calls TARGET with CTX as argument number ARGPOS (1-based:
 * 2 for tp_dealloc(obj), 3 for bf_releasebuffer(obj, view), 4 for
 * bf_getbuffer(obj, view, flags)). Returns the stub's address or NULL. */
void *tramp_add(tramp_batch *b, int argpos, void *ctx, void *target);
/* Seals the batch (read+execute). */
int tramp_batch_end(tramp_batch *b);

/* Is FN one of our stubs? */
int tramp_is_ours(const void *fn);

#endif
