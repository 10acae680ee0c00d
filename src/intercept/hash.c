/* Content hashes of the memory under exports, for the mutation rules. The
 * only place bufsan reads buffer memory. XXH3 through libxxhash's x86
 * dispatcher, which picks SSE2, AVX2 or AVX-512 by cpuid at the first call.
 * Exports up to hash_limit bytes are hashed whole; larger ones in
 * BS_HASH_WINDOWS windows of BS_HASH_WINDOW bytes at fixed positions (the
 * first, the last and evenly spaced between), unless hash_full=1: a change
 * that touches no window goes unseen. Called with the GIL held, inside
 * slots: no Python, no allocation. */
#include "intercept.h"

#include <xxh_x86dispatch.h>

#include "../core/state.h"
#include "../common/safe_read.h"
#include "../engine/view_check.h"

#define BS_HASH_WINDOWS 16
#define BS_HASH_WINDOW 4096

/* libxxhash 0.8.1's AVX-512 code returns with the upper halves of the
 * vector registers in use (XGETBV(1) bits 2 and 6 after any hash over 240
 * bytes; no vzeroupper): every legacy-SSE instruction after it, the
 * program's own included, then pays for merging them. On an AMD EPYC with
 * AVX-512 that made OpenSSL's SHA-256 of the hashed buffer 18% slower (bench
 * M3). Clean them after each hash (e2e.vector_state); vzeroupper is only
 * valid where AVX is. */
static void clean_vector_state(void)
{
    static int avx = -1;
    if (avx < 0)
        avx = __builtin_cpu_supports("avx") ? 1 : 0;
    if (avx)
        __asm__ volatile("vzeroupper" ::: "memory");
}

/* The pieces of [p, p+n) that are hashed: the whole range, or the windows. */
static int sampled(size_t n)
{
    long limit = bs_core_state.opts.hash_limit;
    return !(bs_core_state.opts.hash_full || n <= (size_t)limit ||
             n <= (size_t)BS_HASH_WINDOWS * BS_HASH_WINDOW);
}

static size_t window_offset(size_t n, size_t i)
{
    size_t step = (n - BS_HASH_WINDOW) / (BS_HASH_WINDOWS - 1);
    return i == BS_HASH_WINDOWS - 1 ? n - BS_HASH_WINDOW : i * step;
}

/* The memory under an export is the exporter's word (buf may be wild, or
 * freed since): every byte about to be hashed is checked readable first. */
static int region_readable(uint64_t p, size_t n)
{
    if (!sampled(n))
        return safe_readable(p, n);
    for (size_t i = 0; i < BS_HASH_WINDOWS; i++)
        if (!safe_readable(p + window_offset(n, i), BS_HASH_WINDOW))
            return 0;
    return 1;
}

static uint64_t hash_region(const unsigned char *p, size_t n)
{
    if (!sampled(n))
        return XXH3_64bits_dispatch(p, n);
    uint64_t h = XXH3_64bits_withSeed_dispatch(p, BS_HASH_WINDOW, (uint64_t)n);
    for (size_t i = 1; i < BS_HASH_WINDOWS; i++)
        h = XXH3_64bits_withSeed_dispatch(p + window_offset(n, i), BS_HASH_WINDOW, h);
    return h;
}

int bs_hash_region(uint64_t buf, int64_t len, int trusted, uint64_t *hash)
{
    const unsigned char *p = (const unsigned char *)(uintptr_t)buf;
    if (!p || len <= 0) {
        *hash = 0x9e3779b97f4a7c15ULL;
        return 1;
    }
    if (buf + (uint64_t)len < buf || (!trusted && !region_readable(buf, (size_t)len)))
        return 0;
    *hash = hash_region(p, (size_t)len);
    clean_vector_state();
    return 1;
}

void bs_observe_list(const bs_watch *w, size_t n, uint32_t point, uint64_t writer, uint32_t thread,
                     uint32_t stack)
{
    for (size_t i = 0; i < n; i++) {
        bs_event ev = {.kind = BS_EV_OBSERVE, .thread = thread, .stack = stack};
        ev.view = w[i].view;
        ev.obj = w[i].obj;
        ev.v.buf = w[i].buf;
        ev.v.len = w[i].len;
        ev.hashed = 1;
        if (!bs_hash_region(w[i].buf, w[i].len, w[i].trusted, &ev.hash))
            continue; /* the memory is gone: nothing to observe */
        ev.observe_point = point;
        ev.writer = writer;
        engine_process(bs_core_state.engine, &ev);
    }
}

void bs_observe_exports(uint64_t obj, uint32_t point, uint64_t within_buf, int64_t within_len,
                        uint32_t thread, uint32_t stack)
{
    bs_watch w[32];
    size_t n = engine_watch_list(bs_core_state.engine, obj, 0, NULL, w, 32), kept = 0;
    for (size_t i = 0; i < n && i < 32; i++)
        /* at a later export, only memory the exporter just handed out again
         * is known to be still there */
        if (within_len < 0 || (w[i].buf >= within_buf &&
                               w[i].buf + (uint64_t)w[i].len <= within_buf + (uint64_t)within_len))
            w[kept++] = w[i];
    bs_observe_list(w, kept, point, 0, thread, stack);
}

void bs_observe_writer_release(Py_buffer *view, PyObject *obj, uint32_t thread, uint32_t stack)
{
    bs_watch w[32];
    size_t n = engine_writer_watch_list(bs_core_state.engine, (uint64_t)(uintptr_t)view,
                                        (uint64_t)(uintptr_t)obj, w, 32);
    bs_observe_list(w, n < 32 ? n : 32, BS_OBS_WRITE_AFTER, (uint64_t)(uintptr_t)view, thread,
                    stack);
}

void bs_hash_for_release(bs_event *ev, Py_buffer *view, PyObject *obj)
{
    bs_watch w;
    if (engine_watch_list(bs_core_state.engine, (uint64_t)(uintptr_t)obj,
                          (uint64_t)(uintptr_t)view, &ev->v, &w, 1) != 1)
        return;
    ev->hashed = bs_hash_region(w.buf, w.len, w.trusted, &ev->hash);
}

int bs_view_hashable(const bs_view_snapshot *s)
{
    const bs_view_fields *v = &s->v;
    if (v->len <= 0 || !v->buf || v->suboffsets || v->itemsize <= 0 ||
        (s->read & BS_SNAP_BUF_BAD))
        return 0;
    if (!v->strides)
        return 1; /* C-contiguous by definition */
    if (v->ndim < 0 || v->ndim > BS_SNAP_MAX_NDIM || (v->ndim > 0 && !v->shape))
        return 0;
    /* geometry as the guarded snapshot read it, never the live pointers */
    if (v->ndim > 0 && (!(s->read & BS_SNAP_SHAPE_READ) || !(s->read & BS_SNAP_STRIDES_READ)))
        return 0;
    /* the span must be len bytes and the layout C or Fortran order */
    int64_t n = v->itemsize;
    for (int32_t i = 0; i < s->nitems; i++) {
        if (s->shape[i] < 0)
            return 0;
        if (__builtin_mul_overflow(n, s->shape[i], &n))
            return 0;
    }
    if (n != v->len)
        return 0;
    return view_is_contiguous(s, 'A');
}
