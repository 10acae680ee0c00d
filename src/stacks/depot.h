/* The stack depot: each distinct stack stored once, named by a 32-bit id
 * (0 = no stack). A stack is Python frames (innermost first) followed by
 * native return addresses (innermost first). Python frames are keyed by
 * (code object, instruction offset) and resolved to file/line/function
 * strings once, when the frame is first stored, by a resolver the caller
 * supplies; after that the depot holds plain strings and needs no Python.
 * Each distinct Python frame is stored once and shared by the stacks that
 * hold it: 8 bytes per frame of a stack.
 * Thread-safe; allocates with malloc. */
#ifndef BUFSAN_STACKS_DEPOT_H
#define BUFSAN_STACKS_DEPOT_H

#include <stdint.h>

typedef struct {
    const char *file;
    const char *function;
    int line;
} bs_py_frame;

typedef struct {
    uint32_t npy, nnative;
    const bs_py_frame *const *py; /* each distinct frame is stored once */
    const uint64_t *pcs;
} bs_stack;

/* Resolves Python frame KEY (two words) into F; the strings must stay valid
 * for the process's life (the depot never frees them; a resolver may share
 * them between frames). Called without the depot lock held, once per
 * distinct key. */
typedef void (*bs_py_resolver)(const uint64_t key[2], bs_py_frame *f);

/* Stores a stack; PYKEYS holds 2*NPY words. Returns its id (0 on OOM). */
uint32_t depot_put(const uint64_t *pykeys, uint32_t npy, const uint64_t *pcs, uint32_t nnative,
                   bs_py_resolver resolve);

/* Stores an already-resolved stack (offline replay). */
uint32_t depot_put_resolved(const bs_py_frame *py, uint32_t npy, const uint64_t *pcs,
                            uint32_t nnative);

/* Fills OUT for ID; returns 0, or -1 for an unknown id. The pointers stay
 * valid for the life of the process. */
int depot_get(uint32_t id, bs_stack *out);

/* Number of distinct stacks stored. */
uint32_t depot_size(void);

/* After fork in the child: reinitialise the lock. */
void depot_after_fork_child(void);

#endif
