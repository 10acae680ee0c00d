/* See capture.h. Native frames come from libunwind's unw_backtrace (cached
 * unwind info, no allocation after warm-up); frames inside this core are
 * dropped so a stack starts at the interpreter or extension code that made
 * the buffer call. */
#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include <stdint.h>

#include "../bootstrap/core.h"
#include "capture.h"
#include "depot.h"

#define MAX_FRAMES 256
/* Frames looked at to decide whether the consumer is outside the
 * interpreter (an extension calling PyObject_GetBuffer, or the C-API on its
 * behalf, e.g. PyArg_ParseTuple with "y*", is within this depth). */
#define PROBE_FRAMES 12

static int inside(uintptr_t pc)
{
    const bs_core *c = &bs_core_state;
    for (int i = 0; i < c->ninside; i++)
        if (pc >= c->inside[i].start && pc < c->inside[i].end)
            return 1;
    return 0;
}

static void resolve(const uint64_t key[2], bs_py_frame *f)
{
    pyframes_resolve(key, f);
}

/* Native frames outside this core into PCS (at most DEPTH); NPY: Python
 * frames already taken (none: always unwind). */
static int native_frames(uint64_t *pcs, int depth, int npy)
{
    const bs_options *o = &bs_core_state.opts;
    void *raw[MAX_FRAMES + 16];
    int nn = 0;
    if (!o->native_stacks)
        return 0;
    /* Pure-Python traffic has nothing native to show: look at the
     * innermost frames first and unwind fully only when code outside the
     * interpreter is among them (or when there is no Python stack). */
    int n = unw_backtrace(raw, PROBE_FRAMES);
    int outside = npy == 0;
    for (int k = 0; k < n && !outside; k++) {
        uintptr_t pc = (uintptr_t)raw[k];
        if (!(pc >= bs_core_state.text_start && pc < bs_core_state.text_end) && !inside(pc)) {
            outside = 1;
            if (o->verbosity >= 2)
                bs_log("consumer outside the interpreter: frame %d pc %p", k, (void *)pc);
        }
    }
    if (!outside)
        n = 0;
    else if (n == PROBE_FRAMES)
        n = unw_backtrace(raw, depth + 8 < MAX_FRAMES + 16 ? depth + 8 : MAX_FRAMES + 16);
    int i = 0;
    while (i < n && (uintptr_t)raw[i] >= bs_core_state.text_start &&
           (uintptr_t)raw[i] < bs_core_state.text_end)
        i++;
    for (; i < n && nn < depth && nn < MAX_FRAMES; i++)
        pcs[nn++] = (uint64_t)(uintptr_t)raw[i];
    return nn;
}

uint32_t capture_stack(int with_python)
{
    const bs_options *o = &bs_core_state.opts;
    int depth = (int)o->stack_depth;
    uint64_t py[2 * MAX_FRAMES];
    int npy = 0;
    if (with_python && o->python_stacks)
        npy = pyframes_capture(py, depth < MAX_FRAMES ? depth : MAX_FRAMES);
    uint64_t pcs[MAX_FRAMES];
    int nn = native_frames(pcs, depth, npy);
    if (!npy && !nn)
        return 0;
    return depot_put(py, (uint32_t)npy, pcs, (uint32_t)nn, resolve);
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
    int nn = native_frames(pcs, depth, npy);
    uint32_t id = npy || nn ? depot_put_resolved(py, (uint32_t)npy, pcs, (uint32_t)nn) : 0;
    pyframes_free_detached(py, npy);
    return id;
}
