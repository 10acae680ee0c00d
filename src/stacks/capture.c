/* See capture.h. Native frames come from libunwind's unw_backtrace (cached
 * unwind info, no allocation after warm-up); frames inside this core are
 * dropped so a stack starts at the interpreter or extension code that made
 * the buffer call. */
#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
/* inlined: the probe windows hashed here are short (a few return
 * addresses); the Python frames are hashed as pyframes_capture walks them */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "../core/state.h"
#include "../common/u64map.h"
#include "capture.h"
#include "depot.h"

#define MAX_FRAMES 256
/* Frames looked at to decide whether the consumer is outside the
 * interpreter (an extension calling PyObject_GetBuffer, or the C-API on its
 * behalf, e.g. PyArg_ParseTuple with "y*", is within this depth). */
#define PROBE_FRAMES 8
/* Room for this core's frames above them (wrappers, capture). */
#define CORE_FRAMES 6
/* The cached probe's first, cheaper look: room for three frames below this
 * core's. */
#define SHORT_PROBE (CORE_FRAMES + 3)

static void resolve(const uint64_t key[2], bs_py_frame *f)
{
    pyframes_resolve(key, f);
}

/* Copies RAW[0..n) into PCS without the frames of this core (wrappers may
 * sit between interpreter frames: a call site's PyObject_GetBuffer). Under
 * Python frames (NPY > 0) only the innermost run of frames outside the
 * interpreter is kept (the extension that made the call), not the
 * interpreter's own frames, which the Python frames stand for and reports
 * do not show, nor what lies below them: how many C frames the evaluation
 * loop uses differs between the first pass over a line and the next once
 * 3.12+ specialized the call, which would make the same line's second pass
 * a different stack. Returns the count. */
static int copy_native(void *const *raw, int n, uint64_t *pcs, int depth, int npy)
{
    int nn = 0;
    for (int i = 0; i < n && nn < depth && nn < MAX_FRAMES; i++) {
        uintptr_t pc = (uintptr_t)raw[i];
        if (pc >= bs_core_state.text_start && pc < bs_core_state.text_end)
            continue;
        if (npy && bs_core_inside(pc)) {
            if (nn)
                break;
            continue;
        }
        pcs[nn++] = (uint64_t)pc;
    }
    return nn;
}

/* The index in RAW[0..n) of the first frame outside the interpreter among
 * the innermost PROBE_FRAMES that are not this core's, or -1. With no
 * Python frame (NPY 0) everything is outside: the first frame not this
 * core's (or the last one). */
static int first_outside(void *const *raw, int n, int npy)
{
    for (int k = 0, seen = 0; k < n && seen < PROBE_FRAMES; k++) {
        uintptr_t pc = (uintptr_t)raw[k];
        if (pc >= bs_core_state.text_start && pc < bs_core_state.text_end)
            continue; /* this core's own frames do not count */
        seen++;
        if (!npy || !bs_core_inside(pc)) {
            if (bs_core_state.opts.verbosity >= 2)
                bs_log("consumer outside the interpreter: frame %d pc %p", k, (void *)pc);
            return k;
        }
    }
    return npy ? -1 : n - 1;
}

/* Native frames outside this core into PCS (at most DEPTH) per NATIVE; NPY:
 * Python frames already taken. */
static int native_part(uint64_t *pcs, int depth, int npy, bs_native_mode native)
{
    const bs_options *o = &bs_core_state.opts;
    void *raw[MAX_FRAMES + 16];
    int nn = 0;
    int full_depth = depth + 8 < MAX_FRAMES + 16 ? depth + 8 : MAX_FRAMES + 16;
    if (o->native_stacks && (native == BS_NATIVE_FULL || (native == BS_NATIVE_NONE && !npy))) {
        BS_COUNT(unwinds);
        nn = copy_native(raw, unw_backtrace(raw, full_depth), pcs, depth, npy);
    } else if (o->native_stacks && native == BS_NATIVE_PROBE) {
        /* Pure-Python traffic has nothing native to show: look at the
         * innermost frames first and unwind fully only when code outside the
         * interpreter is among them (or when there is no Python stack). */
        int n = unw_backtrace(raw, PROBE_FRAMES + CORE_FRAMES);
        if (first_outside(raw, n, npy) < 0) {
            n = 0;
        } else if (n == PROBE_FRAMES + CORE_FRAMES) {
            BS_COUNT(unwinds);
            n = unw_backtrace(raw, full_depth);
        }
        nn = copy_native(raw, n, pcs, depth, npy);
    }
    return nn;
}

/* The Python frame keys of this thread into PY (2 words each), their hash
 * into *HASH; the count. */
static inline int python_part(uint64_t *py, uint64_t *hash)
{
    const bs_options *o = &bs_core_state.opts;
    int depth = (int)o->stack_depth;
    *hash = 0;
    return o->python_stacks ? pyframes_capture(py, depth < MAX_FRAMES ? depth : MAX_FRAMES, hash) : 0;
}

uint32_t capture_stack_mode(int with_python, bs_native_mode native)
{
    uint64_t py[2 * MAX_FRAMES], pcs[MAX_FRAMES];
    uint64_t h;
    int npy = with_python ? python_part(py, &h) : 0;
    int nn = native_part(pcs, (int)bs_core_state.opts.stack_depth, npy, native);
    return npy || nn ? depot_put(py, (uint32_t)npy, pcs, (uint32_t)nn, resolve) : 0;
}

uint32_t capture_python_stack_of(void *tstate)
{
    uint64_t py[2 * MAX_FRAMES], h;
    int depth = (int)bs_core_state.opts.stack_depth;
    int npy = pyframes_capture_of(tstate, py, depth < MAX_FRAMES ? depth : MAX_FRAMES, &h);
    return npy ? depot_put(py, (uint32_t)npy, NULL, 0, resolve) : 0;
}

/* Per-thread direct-mapped cache: key -> depot id. */
#define STACK_CACHE_SIZE 4096
struct bs_stack_cache_entry {
    uint64_t key;
    uint32_t id;
};

/* The cache dies with its thread (a pool that starts thousands of threads
 * must not keep 64 KiB for each). */
static pthread_key_t cache_key;
static pthread_once_t cache_key_once = PTHREAD_ONCE_INIT;

static void free_stack_cache(void *p)
{
    bs_tls *tls = bs_thread();
    if (tls->stack_cache == p)
        tls->stack_cache = NULL;
    free(p);
}

static void make_cache_key(void)
{
    if (pthread_key_create(&cache_key, free_stack_cache) != 0)
        cache_key = (pthread_key_t)-1;
}

static struct bs_stack_cache_entry *new_stack_cache(void)
{
    pthread_once(&cache_key_once, make_cache_key);
    if (cache_key == (pthread_key_t)-1)
        return NULL; /* no destructor: no cache rather than a leak per thread */
    struct bs_stack_cache_entry *c = calloc(STACK_CACHE_SIZE, sizeof *c);
    if (c && pthread_setspecific(cache_key, c) != 0) {
        free(c);
        return NULL;
    }
    return c;
}

/* The entry KEY maps to in the thread's cache; *HIT: whether it holds KEY. */
static struct bs_stack_cache_entry *cache_entry(bs_tls *tls, uint64_t key, int *hit)
{
    struct bs_stack_cache_entry *e = &tls->stack_cache[key & (STACK_CACHE_SIZE - 1)];
    *hit = e->key == key;
    if (*hit)
        BS_COUNT(stack_cache_hits);
    return e;
}

uint32_t capture_stack_at(bs_native_mode native, const void *site, const void *sp, int32_t flags)
{
    const bs_options *o = &bs_core_state.opts;
    if ((!site && native != BS_NATIVE_NONE) || !o->native_stacks || !o->stack_cache)
        return capture_stack_mode(1, native);
    bs_tls *tls = bs_thread();
    if (!tls->stack_cache && !(tls->stack_cache = new_stack_cache()))
        return capture_stack_mode(1, native);
    uint64_t py[2 * MAX_FRAMES], py_hash;
    int npy = python_part(py, &py_hash);
    if (!npy && native == BS_NATIVE_NONE)
        return capture_stack_mode(1, native); /* no Python frame: the native stack is it */
    uint64_t seed = ((uint64_t)(uintptr_t)site * 0x9e3779b97f4a7c15ULL) ^
                    ((uint64_t)(uintptr_t)sp << 7) ^ ((uint64_t)(uint32_t)flags << 40) ^
                    (uint64_t)native;
    uint64_t key = u64_mix(py_hash ^ seed) | 1;
    int hit;
    struct bs_stack_cache_entry *e = cache_entry(tls, key, &hit);
    if (hit)
        return e->id;
    uint64_t pcs[MAX_FRAMES];
    int nn;
    if (native == BS_NATIVE_PROBE) {
        /* At an interpreter site (PyArg_ParseTuple's "y*", PyMemoryView_FromObject)
         * sibling extension functions with frames of the same size reach the
         * same site and SP: a probe that found code outside the interpreter
         * is remembered under its window of innermost frames, which holds the
         * extension's return address; one that found none under the key. */
        void *raw[PROBE_FRAMES + CORE_FRAMES];
        /* extensions are mostly right there: a short window first */
        int n = unw_backtrace(raw, SHORT_PROBE);
        int k = first_outside(raw, n, npy);
        if (k < 0 && n == SHORT_PROBE)
            k = first_outside(raw, n = unw_backtrace(raw, PROBE_FRAMES + CORE_FRAMES), npy);
        if (k >= 0) {
            /* the window up to that frame, whatever the probe's depth */
            key = u64_mix(XXH3_64bits(raw, (size_t)(k + 1) * sizeof raw[0]) ^ key) | 1;
            e = cache_entry(tls, key, &hit);
            if (hit)
                return e->id;
            nn = native_part(pcs, (int)o->stack_depth, npy, BS_NATIVE_FULL);
        } else {
            nn = 0;
        }
    } else {
        nn = native_part(pcs, (int)o->stack_depth, npy, native);
    }
    uint32_t id = npy || nn ? depot_put(py, (uint32_t)npy, pcs, (uint32_t)nn, resolve) : 0;
    e->key = key;
    e->id = id;
    return id;
}

uint32_t capture_stack_nogil(void)
{
    const bs_options *o = &bs_core_state.opts;
    int depth = (int)o->stack_depth;
    bs_py_frame py[MAX_FRAMES];
    int npy = 0;
    if (o->python_stacks)
        npy = pyframes_capture_detached(py, depth < MAX_FRAMES ? depth : MAX_FRAMES);
    uint64_t pcs[MAX_FRAMES];
    int nn = native_part(pcs, depth, npy, BS_NATIVE_FULL);
    uint32_t id = npy || nn ? depot_put_resolved(py, (uint32_t)npy, pcs, (uint32_t)nn) : 0;
    pyframes_free_detached(py, npy);
    return id;
}

uint64_t capture_function_start(uint64_t pc)
{
    unw_proc_info_t pi;
    /* pc - 1: a return address may be the first byte after a call at the
     * end of its function */
    if (!pc || unw_get_proc_info_by_ip(unw_local_addr_space, (unw_word_t)(pc - 1), &pi, NULL) != 0)
        return 0;
    return (uint64_t)pi.start_ip;
}
