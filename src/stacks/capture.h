/* Capturing the current stack into the depot: Python frames through the
 * interpreter's own frame chain (code object + instruction offset, resolved
 * only when the depot first sees the stack) and native frames with
 * libunwind. Runs inside buffer hooks: no Python calls on the hot path, no
 * exception left behind. */
#ifndef BUFSAN_STACKS_CAPTURE_H
#define BUFSAN_STACKS_CAPTURE_H

#include <stdint.h>

/* How much of the native stack to capture. */
typedef enum {
    BS_NATIVE_NONE = 0,  /* Python frames only */
    BS_NATIVE_PROBE = 1, /* unwind fully only if code outside the interpreter is near the top */
    BS_NATIVE_FULL = 2,  /* the consumer is known to be outside the interpreter */
} bs_native_mode;

/* Captures the current thread's stack. WITH_PYTHON=0 skips Python frames
 * (no GIL, or the interpreter is finalizing). Returns a depot id. */
uint32_t capture_stack_mode(int with_python, bs_native_mode native);
static inline uint32_t capture_stack(int with_python)
{
    return capture_stack_mode(with_python, BS_NATIVE_PROBE);
}

/* The same, remembered per thread: a stack taken again at the same call
 * site (SITE: the return address into the code that made the buffer call),
 * at the same stack pointer (SP), with the same request FLAGS and the same
 * Python frames is the one captured the first time, without unwinding the
 * native stack again. For BS_NATIVE_FULL the site is in the extension, so
 * the innermost frame is always exact; deeper native frames of two chains
 * could only be confused if both reach that site with the same stack
 * pointer under the same Python frames. For BS_NATIVE_PROBE (SITE in the
 * interpreter) a stack with native frames is remembered under the probe's
 * window of innermost frames as well, which holds the extension's return
 * address. BS_NATIVE_NONE needs no SITE: the Python frames are the stack.
 * SITE 0 (other modes): no caching. */
uint32_t capture_stack_at(bs_native_mode native, const void *site, const void *sp, int32_t flags);

/* The same on a thread that does not hold the GIL: Python frames are read
 * from this thread's own (detached) frame chain and named without the C-API
 * (ASCII names only), so nothing calls into the interpreter. */
uint32_t capture_stack_nogil(void);

/* The Python frames of another thread's state TSTATE (see
 * pyframes_capture_of), no native frames: a depot id, 0 when it has none. */
uint32_t capture_python_stack_of(void *tstate);

/* The entry address of the function a stack's return address PC lies in
 * (libunwind's unwind info), or 0. */
uint64_t capture_function_start(uint64_t pc);

/* Python frame keys of the current thread, innermost first; returns count.
 * *HASH: a hash of them (not mixed: mix it before using its low bits). */
int pyframes_capture(uint64_t *keys, int max, uint64_t *hash);
/* The same for the thread state TSTATE, which must not run meanwhile (the
 * caller holds the GIL and TSTATE's thread waits for it or runs C code). */
int pyframes_capture_of(void *tstate, uint64_t *keys, int max, uint64_t *hash);
/* Python frames of the current thread when it does not hold the GIL,
 * resolved into F (malloc'd strings: free with pyframes_free_detached). */
int pyframes_capture_detached(void *frames, int max);
void pyframes_free_detached(void *frames, int n);
/* depot resolver for those keys; needs the GIL. */
void pyframes_resolve(const uint64_t key[2], void *frame);

#endif
