/* Call-site interception: wrappers for PyObject_GetBuffer and
 * PyBuffer_Release reached through extension modules' GOT entries (patched
 * here) or through the loader's interposed symbols. They make two things
 * visible that slots cannot: which consumer is outside the interpreter, and
 * releases of exporters without bf_releasebuffer (bytes, numpy arrays). */
#include "intercept.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
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
    ev->type_name = slots_type_name(Py_TYPE(o), gil);
    bs_hash_for_release(ev, view, o);
    if (bs_core_state.late)
        return;
    ev->stack = gil ? capture_stack_at(native, site, sp, 0) : capture_stack_nogil();
    /* the end of a writable export's write (the memory is still there) */
    if (gil)
        bs_observe_writer_release(view, o, ev->thread, ev->stack);
}

static int untracked_fill(const Py_buffer *view, const PyObject *exporter);

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
        /* An extension's release (not the interpreter's, reached through
         * an interposed symbol: it fills some views by hand, the bytes join)
         * of a Py_buffer on its own stack (above this frame):
         * every fill of it is seen for a patched exporter type (its own
         * PyObject_GetBuffer, a wrapped parse, or an untracked fill that
         * is remembered). One that matches no live export and no such
         * fill was never got, or was released already (a copy), whatever
         * the exporter type. */
        ev.slot_complete = !bs_core_inside((uintptr_t)__builtin_return_address(0)) &&
                           (uintptr_t)view > (uintptr_t)__builtin_frame_address(0) &&
                           bs_on_own_stack(view) && slots_getbuffer_is_wrapped(Py_TYPE(o)) &&
                           !untracked_fill(view, o);
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

/* ---- PyArg_Parse*: the views they fill and release ---------------------- */

/* getargs fills its caller's Py_buffer for "y*", "s*", "w*". The parse
 * functions an extension calls through its GOT are wrapped (below): while
 * one runs, a Py_buffer on the stack above the wrapper's frame is the
 * extension's, which releases it through its GOT, so slots.c tracks such an
 * export whatever the exporter (bytes has no release slot). When a later
 * argument fails to convert, getargs releases those views itself, inside the
 * interpreter (unseen on a static one): a failed parse reports the views it
 * filled and cleared as released. PyArg_Parse and the Argument Clinic entry
 * points have no va_list twin to forward to and are not wrapped: the stack
 * views filled outside a wrapped parse and not tracked are remembered
 * instead (a small set-associative table per thread), so that their release
 * by an extension is not taken for the release of a view never got. */
#define GETARGS_MAX 16
#define FILL_SETS 64
#define FILL_WAYS 4
struct bs_getargs_state {
    unsigned n;
    Py_buffer *views[GETARGS_MAX];
    PyObject *objs[GETARGS_MAX];
    struct bs_fill {
        uintptr_t view, obj;
    } fills[FILL_SETS][FILL_WAYS];
    unsigned char next[FILL_SETS];
};

static pthread_key_t state_key;
static pthread_once_t state_once = PTHREAD_ONCE_INIT;

static void free_state(void *p)
{
    bs_tls *tls = bs_thread();
    if (tls->getargs == p)
        tls->getargs = NULL;
    free(p);
}

static void make_state_key(void)
{
    if (pthread_key_create(&state_key, free_state) != 0)
        state_key = (pthread_key_t)-1;
}

/* This thread's state, made at first use; NULL when it cannot be. */
static struct bs_getargs_state *state(bs_tls *tls)
{
    if (__builtin_expect(tls->getargs != NULL, 1))
        return tls->getargs;
    pthread_once(&state_once, make_state_key);
    if (state_key == (pthread_key_t)-1)
        return NULL;
    struct bs_getargs_state *s = calloc(1, sizeof *s);
    if (s && pthread_setspecific(state_key, s) != 0) {
        free(s);
        return NULL;
    }
    return tls->getargs = s;
}

static unsigned fill_set(const void *view)
{
    uintptr_t a = (uintptr_t)view >> 4;
    return (unsigned)((a ^ (a >> 6)) % FILL_SETS);
}

int getargs_caller_view(const Py_buffer *view)
{
    bs_tls *tls = bs_thread();
    return tls->getargs_frame && (uintptr_t)view > tls->getargs_frame && bs_on_own_stack(view);
}

void getargs_note_fill(Py_buffer *view, PyObject *exporter)
{
    struct bs_getargs_state *s = state(bs_thread());
    if (s && s->n < GETARGS_MAX) {
        s->views[s->n] = view;
        s->objs[s->n] = exporter;
        s->n++;
    }
}

/* The table entry of VIEW in S, or NULL. */
static struct bs_fill *find_fill(struct bs_getargs_state *s, const Py_buffer *view)
{
    struct bs_fill *set = s->fills[fill_set(view)];
    for (int w = 0; w < FILL_WAYS; w++)
        if (set[w].view == (uintptr_t)view)
            return &set[w];
    return NULL;
}

void getargs_note_untracked_fill(const Py_buffer *view, const PyObject *exporter)
{
    struct bs_getargs_state *s = state(bs_thread());
    if (!s)
        return;
    struct bs_fill *f = find_fill(s, view);
    if (!f) {
        unsigned k = fill_set(view);
        f = &s->fills[k][s->next[k]++ % FILL_WAYS];
        f->view = (uintptr_t)view;
    }
    f->obj = (uintptr_t)exporter;
}

/* Was VIEW last filled for EXPORTER by an untracked fill? */
static int untracked_fill(const Py_buffer *view, const PyObject *exporter)
{
    struct bs_getargs_state *s = bs_thread()->getargs;
    const struct bs_fill *f = s ? find_fill(s, view) : NULL;
    return f && f->obj == (uintptr_t)exporter;
}

typedef struct {
    uintptr_t frame;
    unsigned mark;
} getargs_scope;

static getargs_scope getargs_enter(uintptr_t frame)
{
    bs_tls *tls = bs_thread();
    struct bs_getargs_state *s = state(tls);
    getargs_scope sc = {tls->getargs_frame, s ? s->n : 0};
    tls->getargs_frame = frame;
    return sc;
}

/* The parse that SC began returned OK. */
static void getargs_leave(getargs_scope sc, int ok)
{
    bs_tls *tls = bs_thread();
    tls->getargs_frame = sc.frame;
    struct bs_getargs_state *s = tls->getargs;
    if (!s)
        return;
    for (unsigned i = sc.mark; !ok && i < s->n; i++) {
        Py_buffer *view = s->views[i];
        PyObject *o = s->objs[i]; /* alive: the parsed arguments hold it */
        if (view->obj || !bs_core_state.active || tls->guard ||
            !engine_has_live_view(bs_core_state.engine, (uint64_t)(uintptr_t)view,
                                  (uint64_t)(uintptr_t)o))
            continue;
        /* cleared by getargs' cleanup (PyBuffer_Release): its release, made
         * by the interpreter (the Python line names it) */
        tls->guard++;
        bs_event ev = {0};
        release_event_fill(&ev, view, o, BS_SRC_HOLDER, BS_NATIVE_NONE, NULL, NULL);
        engine_process(bs_core_state.engine, &ev);
        tls->guard--;
    }
    s->n = sc.mark;
}

typedef int (*va_parse_fn)(PyObject *, const char *, va_list);
typedef int (*va_parse_kw_fn)(PyObject *, PyObject *, const char *, char **, va_list);
/* the executable's (or libpython's) own, found at the first patch */
static va_parse_fn real_va_parse, real_va_parse_sizet;
static va_parse_kw_fn real_va_parse_kw, real_va_parse_kw_sizet;

#define GETARGS_WRAP(name, real, params, args)                                                \
    static int name params                                                                    \
    {                                                                                         \
        getargs_scope sc = getargs_enter((uintptr_t)__builtin_frame_address(0));              \
        int r = real args;                                                                    \
        getargs_leave(sc, r);                                                                 \
        return r;                                                                             \
    }
#define GETARGS_WRAP_VARARGS(name, real, params, last, args)                                  \
    static int name params                                                                    \
    {                                                                                         \
        va_list va;                                                                           \
        va_start(va, last);                                                                   \
        getargs_scope sc = getargs_enter((uintptr_t)__builtin_frame_address(0));              \
        int r = real args;                                                                    \
        va_end(va);                                                                           \
        getargs_leave(sc, r);                                                                 \
        return r;                                                                             \
    }

GETARGS_WRAP_VARARGS(wrap_parse_tuple, real_va_parse, (PyObject * a, const char *f, ...), f,
                     (a, f, va))
GETARGS_WRAP_VARARGS(wrap_parse_tuple_sizet, real_va_parse_sizet,
                     (PyObject * a, const char *f, ...), f, (a, f, va))
GETARGS_WRAP_VARARGS(wrap_parse_tuple_kw, real_va_parse_kw,
                     (PyObject * a, PyObject *k, const char *f, char **l, ...), l, (a, k, f, l, va))
GETARGS_WRAP_VARARGS(wrap_parse_tuple_kw_sizet, real_va_parse_kw_sizet,
                     (PyObject * a, PyObject *k, const char *f, char **l, ...), l, (a, k, f, l, va))
GETARGS_WRAP(wrap_va_parse, real_va_parse, (PyObject * a, const char *f, va_list va), (a, f, va))
GETARGS_WRAP(wrap_va_parse_sizet, real_va_parse_sizet, (PyObject * a, const char *f, va_list va),
             (a, f, va))
GETARGS_WRAP(wrap_va_parse_kw, real_va_parse_kw,
             (PyObject * a, PyObject *k, const char *f, char **l, va_list va), (a, k, f, l, va))
GETARGS_WRAP(wrap_va_parse_kw_sizet, real_va_parse_kw_sizet,
             (PyObject * a, PyObject *k, const char *f, char **l, va_list va), (a, k, f, l, va))

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
    got_hook hooks[10] = {{"PyObject_GetBuffer", (void *)callsite_get_buffer},
                          {"PyBuffer_Release", (void *)callsite_release}};
    int n = 2;
    static int looked_up;
    if (!looked_up) {
        looked_up = 1;
        real_va_parse = (va_parse_fn)dlsym(RTLD_DEFAULT, "PyArg_VaParse");
        real_va_parse_sizet = (va_parse_fn)dlsym(RTLD_DEFAULT, "_PyArg_VaParse_SizeT");
        real_va_parse_kw = (va_parse_kw_fn)dlsym(RTLD_DEFAULT, "PyArg_VaParseTupleAndKeywords");
        real_va_parse_kw_sizet =
            (va_parse_kw_fn)dlsym(RTLD_DEFAULT, "_PyArg_VaParseTupleAndKeywords_SizeT");
    }
    /* a name is wrapped only where its va_list twin is there to forward to */
    if (real_va_parse) {
        hooks[n++] = (got_hook){"PyArg_ParseTuple", (void *)wrap_parse_tuple};
        hooks[n++] = (got_hook){"PyArg_VaParse", (void *)wrap_va_parse};
    }
    if (real_va_parse_sizet) {
        hooks[n++] = (got_hook){"_PyArg_ParseTuple_SizeT", (void *)wrap_parse_tuple_sizet};
        hooks[n++] = (got_hook){"_PyArg_VaParse_SizeT", (void *)wrap_va_parse_sizet};
    }
    if (real_va_parse_kw) {
        hooks[n++] = (got_hook){"PyArg_ParseTupleAndKeywords", (void *)wrap_parse_tuple_kw};
        hooks[n++] = (got_hook){"PyArg_VaParseTupleAndKeywords", (void *)wrap_va_parse_kw};
    }
    if (real_va_parse_kw_sizet) {
        hooks[n++] = (got_hook){"_PyArg_ParseTupleAndKeywords_SizeT",
                                (void *)wrap_parse_tuple_kw_sizet};
        hooks[n++] = (got_hook){"_PyArg_VaParseTupleAndKeywords_SizeT",
                                (void *)wrap_va_parse_kw_sizet};
    }
    return got_patch_all(hooks, n, skip_own, NULL);
}
