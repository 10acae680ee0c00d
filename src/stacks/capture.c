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

static void resolve(const uint64_t key[2], bs_py_frame *f)
{
    pyframes_resolve(key, f);
}

uint32_t capture_stack(int with_python)
{
    const bs_options *o = &bs_core_state.opts;
    int depth = (int)o->stack_depth;
    uint64_t py[2 * MAX_FRAMES];
    int npy = 0;
    if (with_python && o->python_stacks)
        npy = pyframes_capture(py, depth < MAX_FRAMES ? depth : MAX_FRAMES);
    void *raw[MAX_FRAMES + 16];
    uint64_t pcs[MAX_FRAMES];
    int nn = 0;
    if (o->native_stacks) {
        int want = depth + 8 < MAX_FRAMES + 16 ? depth + 8 : MAX_FRAMES + 16;
        int n = unw_backtrace(raw, want);
        int i = 0;
        while (i < n && (uintptr_t)raw[i] >= bs_core_state.text_start &&
               (uintptr_t)raw[i] < bs_core_state.text_end)
            i++;
        for (; i < n && nn < depth && nn < MAX_FRAMES; i++)
            pcs[nn++] = (uint64_t)(uintptr_t)raw[i];
    }
    if (!npy && !nn)
        return 0;
    return depot_put(py, (uint32_t)npy, pcs, (uint32_t)nn, resolve);
}
