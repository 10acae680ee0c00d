/* Call-site interception: wrappers for PyObject_GetBuffer and
 * PyBuffer_Release reached through extension modules' GOT entries (patched
 * here) or through the loader's interposed symbols. They make two things
 * visible that slots cannot: which consumer is outside the interpreter, and
 * releases of exporters without bf_releasebuffer (bytes, numpy arrays). */
#include "intercept.h"

#include <dlfcn.h>
#include <string.h>

#include "../core/state.h"
#include "../stacks/capture.h"
#include "got.h"

int callsite_get_buffer(void *o, void *v, int flags)
{
    bs_tls *tls = bs_thread();
    BS_COUNT(callsite_gets);
    int forwarding = 0;
    for (int i = 0; i < tls->nslot && i < BS_MAX_SLOT_NESTING; i++)
        if (tls->slot_views[i] == v)
            forwarding = 1;
    void *saved = tls->consumer_view, *saved_pc = tls->consumer_pc;
    if (!forwarding) {
        tls->consumer_view = v;
        /* reached by a call from the consumer, or by the loader's jump */
        tls->consumer_pc = __builtin_return_address(0);
    }
    int rc = bs_core_state.real_get_buffer(o, v, flags);
    tls->consumer_view = saved;
    tls->consumer_pc = saved_pc;
    if (forwarding)
        return rc; /* the slot that forwards records the export */
    Py_buffer *view = v;
    if (rc == 0 && view && view->obj && bs_core_state.active && !bs_core_state.late &&
        !tls->guard && slots_object_readable(view->obj)) {
        /* a PEP 688 class's export: view->obj is its wrapper */
        PyObject *exporter = pyver_wrapped_exporter(view->obj);
        const Py_buffer *holds = exporter ? pyver_wrapper_master_view(view->obj) : NULL;
        if (!exporter)
            exporter = view->obj;
        /* a wrapped type's stub recorded it (asking the engine took its
         * lock a third time per export/release pair) */
        if (!slots_getbuffer_is_wrapped(Py_TYPE(exporter)) &&
            !engine_has_live_view(bs_core_state.engine, (uint64_t)(uintptr_t)view,
                                  (uint64_t)(uintptr_t)exporter)) {
            /* a type no stub covers yet (readied after the last walk): record
             * this export here and patch the type for the next ones */
            slots_record_export(exporter, view, flags, NULL, 0, 0, holds, 0);
            tls->guard++;
            slots_patch_type(Py_TYPE(exporter), 0);
            tls->guard--;
        }
    }
    return rc;
}

void release_event_fill(bs_event *ev, Py_buffer *view, PyObject *o, bs_source source,
                        bs_native_mode native, const void *site, const void *sp)
{
    ev->kind = BS_EV_RELEASE;
    ev->source = source;
    ev->thread = (uint32_t)bs_thread()->tid;
    ev->view = (uint64_t)(uintptr_t)view;
    ev->obj = (uint64_t)(uintptr_t)o;
    slots_view_fields(&ev->v, view);
    int gil = slots_check_release(o, view, &ev->contents_hash);
    bs_hash_for_release(ev, view, o);
    if (bs_core_state.late)
        return;
    ev->stack = gil ? capture_stack_at(native, site, sp, 0) : capture_stack_nogil();
    /* the end of a writable export's write (the memory is still there) */
    if (gil)
        bs_observe_writer_release(view, o, ev->thread, ev->stack);
}

void callsite_release(void *v)
{
    Py_buffer *view = v;
    PyObject *o = view ? view->obj : NULL;
    bs_tls *tls = bs_thread();
    BS_COUNT(callsite_releases);
    if (o && bs_core_state.active && !tls->guard && !slots_release_is_wrapped(Py_TYPE(o))) {
        tls->guard++;
        BS_COUNT(callsite_release_events);
        bs_event ev = {0};
        release_event_fill(&ev, view, o, BS_SRC_CALLSITE, BS_NATIVE_FULL,
                           __builtin_return_address(0), __builtin_frame_address(0));
        engine_process(bs_core_state.engine, &ev);
        tls->guard--;
    }
    void *saved = tls->releasing_view, *saved_pc = tls->releasing_pc;
    tls->releasing_view = v;
    tls->releasing_pc = __builtin_return_address(0);
    bs_core_state.real_release(v);
    tls->releasing_view = saved;
    tls->releasing_pc = saved_pc;
}

static int skip_own(const char *path, uintptr_t base, void *ctx)
{
    (void)base;
    (void)ctx;
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    return !strncmp(name, "libbufsan.so", 12) || !strncmp(name, "bufsan_core-", 12) ||
           !strncmp(name, "linux-vdso", 10);
}

int callsites_patch_loaded_objects(void)
{
    static const got_hook hooks_template[] = {
        {"PyObject_GetBuffer", NULL},
        {"PyBuffer_Release", NULL},
    };
    got_hook hooks[2];
    memcpy(hooks, hooks_template, sizeof hooks);
    hooks[0].replacement = (void *)callsite_get_buffer;
    hooks[1].replacement = (void *)callsite_release;
    return got_patch_all(hooks, 2, skip_own, NULL);
}
