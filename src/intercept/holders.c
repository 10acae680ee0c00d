/* Views held inside objects: memoryview's managed buffer and PickleBuffer.
 *
 * On an interpreter that binds PyBuffer_Release inside its executable
 * (Debian's static pythons) a release slot is the only place a release is
 * seen, so the exports of types without one (bytes, numpy arrays, ctypes
 * objects, C types that count nothing) were not tracked at all when the
 * interpreter was the consumer. Two consumers keep such an export for as
 * long as a Python object lives: a managed buffer (every memoryview) and a
 * PickleBuffer. Their releases are inlined or direct calls inside the
 * executable (memory_dealloc inlines _memory_release, mbuf_release and
 * PyBuffer_Release), but the ways in are few and are pointers: the two
 * types' tp_dealloc and tp_clear, memoryview's tp_dealloc and tp_clear, and
 * the `release` (and memoryview's `__exit__`) methods. Wrapped there, each
 * predicts from the objects' flags and counts whether the call releases the
 * held view, builds the release event while the view is intact (as a
 * release slot's wrapper does), and sends it once the view is seen cleared
 * (PyBuffer_Release sets view->obj to NULL) or, for a deallocation, once
 * the call returns. slots.c records an export into such a view only when
 * these wrappers are installed (holders_active).
 *
 * Not covered: PyPickleBuffer_Release called by an extension (a direct call
 * inside the executable), and the interpreter's short-lived consumers
 * (bytes(x), b"".join, int.from_bytes...), whose Py_buffer lives on the C
 * stack and whose release is inlined: docs/how-it-works.md. */
#include "intercept.h"

#include <stdlib.h>
#include <string.h>

#include "../core/state.h"
#include "../stacks/capture.h"

int holders_active;
/* Exports recorded because a view object holds them, not yet seen
 * released: while 0 (memoryviews of bytearrays, arrays...: types with a
 * release slot, seen there) the wrappers only forward. Counts up only where
 * an export is recorded for a view object (slots.c), down where this file
 * sends its release: it may stay above the truth (an export dropped with
 * its interpreter's lifetime), never below. Atomic: subinterpreters with
 * their own GIL record and release in parallel. */
unsigned long holders_live;

static destructor mv_dealloc, mb_dealloc, pb_dealloc;
static inquiry mv_clear, mb_clear, pb_clear;

/* A release about to happen: built before the call, sent after it. */
typedef struct {
    bs_event ev;
    PyObject *obj; /* the exporter, kept alive across the call */
} pending;

/* Builds the release of VIEW (held by a view object, which the call about
 * to be made will release) when it is an export the engine tracks and no
 * release slot of ours will see. Returns whether P is armed. */
static int begin(pending *p, Py_buffer *view)
{
    p->obj = NULL;
    PyObject *o = view->obj;
    if (!__atomic_load_n(&holders_live, __ATOMIC_RELAXED) || !o)
        return 0;
    bs_tls *tls = bs_thread();
    if (!bs_core_state.active || tls->guard || slots_release_is_wrapped(Py_TYPE(o)) ||
        !engine_has_live_view(bs_core_state.engine, (uint64_t)(uintptr_t)view,
                              (uint64_t)(uintptr_t)o))
        return 0;
    tls->guard++;
    BS_COUNT(holder_releases);
    memset(&p->ev, 0, sizeof p->ev);
    /* the interpreter releases: the Python line is the release site */
    release_event_fill(&p->ev, view, o, BS_SRC_HOLDER, BS_NATIVE_NONE, NULL, NULL);
    tls->guard--;
    Py_INCREF(o);
    p->obj = o;
    return 1;
}

/* The call returned; RELEASED: it did release the view. */
static void end(pending *p, int released)
{
    if (!p->obj)
        return;
    if (released) {
        bs_tls *tls = bs_thread();
        tls->guard++;
        engine_process(bs_core_state.engine, &p->ev);
        tls->guard--;
        unsigned long n = __atomic_load_n(&holders_live, __ATOMIC_RELAXED);
        while (n && !__atomic_compare_exchange_n(&holders_live, &n, n - 1, 1, __ATOMIC_RELAXED,
                                                 __ATOMIC_RELAXED))
            ;
    }
    Py_DECREF(p->obj);
}

/* ---- memoryview and its managed buffer ---------------------------------- */

static int mbuf_unreleased(_PyManagedBufferObject *mb)
{
    return mb && !(mb->flags & _Py_MANAGED_BUFFER_RELEASED) && mb->master.obj;
}

/* _memory_release(MV) will release the managed buffer's view: MV is its
 * last memoryview not yet released (and has no exports of its own when
 * CHECK_EXPORTS: release() and tp_clear refuse then) */
static int mv_releases_mbuf(PyMemoryViewObject *mv, int check_exports)
{
    _PyManagedBufferObject *mb = mv->mbuf;
    return mbuf_unreleased(mb) && !(mv->flags & _Py_MEMORYVIEW_RELEASED) &&
           mb->exports == 1 && (!check_exports || mv->exports == 0);
}

/* Around a call on MV that may release its managed buffer's view: the
 * managed buffer is held so that its view can be looked at afterwards. */
typedef struct {
    pending p;
    _PyManagedBufferObject *mb;
} mv_call;

static void mv_begin(mv_call *c, PyObject *self, int check_exports)
{
    PyMemoryViewObject *mv = (PyMemoryViewObject *)self;
    c->p.obj = NULL;
    c->mb = NULL;
    if (!__atomic_load_n(&holders_live, __ATOMIC_RELAXED) || !mv_releases_mbuf(mv, check_exports) ||
        !begin(&c->p, &mv->mbuf->master))
        return;
    c->mb = mv->mbuf;
    Py_INCREF(c->mb);
}

static void mv_end(mv_call *c)
{
    if (!c->mb)
        return;
    end(&c->p, c->mb->master.obj == NULL);
    Py_DECREF(c->mb);
}

static void wrap_mv_dealloc(PyObject *self)
{
    mv_call c;
    mv_begin(&c, self, 0);
    mv_dealloc(self);
    mv_end(&c);
}

static int wrap_mv_clear(PyObject *self)
{
    mv_call c;
    mv_begin(&c, self, 1);
    int rc = mv_clear(self);
    mv_end(&c);
    return rc;
}

static void wrap_mb_dealloc(PyObject *self)
{
    _PyManagedBufferObject *mb = (_PyManagedBufferObject *)self;
    pending p = {.obj = NULL};
    int armed = mbuf_unreleased(mb) && begin(&p, &mb->master);
    mb_dealloc(self);
    if (armed)
        end(&p, 1); /* mbuf_dealloc always releases */
}

static int wrap_mb_clear(PyObject *self)
{
    _PyManagedBufferObject *mb = (_PyManagedBufferObject *)self;
    pending p = {.obj = NULL};
    if (mbuf_unreleased(mb))
        begin(&p, &mb->master);
    int rc = mb_clear(self);
    end(&p, mb->master.obj == NULL);
    return rc;
}

/* ---- PickleBuffer ------------------------------------------------------- */

/* PyPickleBufferObject is private: its Py_buffer follows the header */
static Py_buffer *pb_view(PyObject *self)
{
    return (Py_buffer *)(void *)((char *)self + sizeof(PyObject));
}

static void wrap_pb_dealloc(PyObject *self)
{
    pending p = {.obj = NULL};
    int armed = begin(&p, pb_view(self));
    pb_dealloc(self);
    if (armed)
        end(&p, 1);
}

static int wrap_pb_clear(PyObject *self)
{
    pending p = {.obj = NULL};
    begin(&p, pb_view(self));
    int rc = pb_clear(self);
    end(&p, pb_view(self)->obj == NULL);
    return rc;
}

/* ---- methods ------------------------------------------------------------ */

/* memoryview.release, memoryview.__exit__, PickleBuffer.release: the
 * originals, their flags' calling convention (PyCFunction for NOARGS, O and
 * VARARGS; _PyCFunctionFast for FASTCALL) */
enum { M_MV_RELEASE, M_MV_EXIT, M_PB_RELEASE, N_METHODS };
static PyCFunction orig_meth[N_METHODS];

static void meth_begin(int m, PyObject *self, mv_call *c)
{
    if (m == M_PB_RELEASE) {
        c->mb = NULL;
        c->p.obj = NULL;
        begin(&c->p, pb_view(self));
    } else {
        mv_begin(c, self, 1);
    }
}

static void meth_end(int m, PyObject *self, mv_call *c)
{
    if (m == M_PB_RELEASE)
        end(&c->p, pb_view(self)->obj == NULL);
    else
        mv_end(c);
}

#define METHOD_WRAPPERS(m, name)                                                              \
    static PyObject *name(PyObject *self, PyObject *arg)                                      \
    {                                                                                         \
        mv_call c;                                                                            \
        meth_begin(m, self, &c);                                                              \
        PyObject *r = orig_meth[m](self, arg);                                                \
        meth_end(m, self, &c);                                                                \
        return r;                                                                             \
    }                                                                                         \
    static PyObject *name##_fast(PyObject *self, PyObject *const *args, Py_ssize_t n)         \
    {                                                                                         \
        mv_call c;                                                                            \
        meth_begin(m, self, &c);                                                              \
        PyObject *r = ((_PyCFunctionFast)(void (*)(void))orig_meth[m])(self, args, n);        \
        meth_end(m, self, &c);                                                                \
        return r;                                                                             \
    }

METHOD_WRAPPERS(M_MV_RELEASE, mv_release_meth)
METHOD_WRAPPERS(M_MV_EXIT, mv_exit_meth)
METHOD_WRAPPERS(M_PB_RELEASE, pb_release_meth)

/* The descriptor of TYPE.NAME and the wrapper for its calling convention,
 * or NULL. The descriptor reads d_method at every call, the specialized
 * calls too: pointing it at a copy of its PyMethodDef wraps the method. */
static PyMethodDescrObject *method_of(PyTypeObject *type, const char *name, PyCFunction plain,
                                      PyCFunction fast, PyCFunction *wrapper)
{
    PyObject *d = PyObject_GetAttrString((PyObject *)type, name);
    if (!d) {
        PyErr_Clear();
        return NULL;
    }
    /* the type's dict keeps it alive */
    Py_DECREF(d);
    if (Py_TYPE(d) != &PyMethodDescr_Type)
        return NULL;
    PyMethodDef *def = ((PyMethodDescrObject *)d)->d_method;
    int conv = def->ml_flags & (METH_NOARGS | METH_O | METH_VARARGS | METH_FASTCALL | METH_KEYWORDS);
    *wrapper = conv == METH_NOARGS || conv == METH_O || conv == METH_VARARGS ? plain
               : conv == METH_FASTCALL                                       ? fast
                                                                             : NULL;
    return *wrapper ? (PyMethodDescrObject *)d : NULL;
}

int holders_install(void)
{
    if (holders_active || bs_core_state.interposed || !pyver.managed_buffer_type)
        return 0;
    PyTypeObject *mbt = pyver.managed_buffer_type;
    /* all or nothing: a release path left out would leave exports live */
    if (!mbt->tp_dealloc || !mbt->tp_clear || !PyMemoryView_Type.tp_dealloc ||
        !PyMemoryView_Type.tp_clear || !PyPickleBuffer_Type.tp_dealloc ||
        !PyPickleBuffer_Type.tp_clear)
        return 0;
    static const struct {
        PyTypeObject *t;
        const char *name;
    } meths[N_METHODS] = {[M_MV_RELEASE] = {&PyMemoryView_Type, "release"},
                          [M_MV_EXIT] = {&PyMemoryView_Type, "__exit__"},
                          [M_PB_RELEASE] = {&PyPickleBuffer_Type, "release"}};
    const PyCFunction plain[N_METHODS] = {mv_release_meth, mv_exit_meth, pb_release_meth};
    const PyCFunction fast[N_METHODS] = {(PyCFunction)(void (*)(void))mv_release_meth_fast,
                                         (PyCFunction)(void (*)(void))mv_exit_meth_fast,
                                         (PyCFunction)(void (*)(void))pb_release_meth_fast};
    PyMethodDescrObject *descr[N_METHODS];
    PyCFunction wrapper[N_METHODS];
    PyMethodDef *copy[N_METHODS] = {NULL};
    for (int i = 0; i < N_METHODS; i++) {
        descr[i] = method_of(meths[i].t, meths[i].name, plain[i], fast[i], &wrapper[i]);
        copy[i] = descr[i] ? malloc(sizeof *copy[i]) : NULL;
        if (!copy[i]) {
            for (int j = 0; j <= i; j++)
                free(copy[j]);
            if (bs_core_state.opts.verbosity >= 1)
                bs_log("memoryview and PickleBuffer holds not tracked: %s.%s cannot be wrapped",
                       meths[i].t->tp_name, meths[i].name);
            return 0;
        }
    }
    /* copies never freed: the types are static */
    for (int i = 0; i < N_METHODS; i++) {
        *copy[i] = *descr[i]->d_method;
        orig_meth[i] = copy[i]->ml_meth;
        copy[i]->ml_meth = wrapper[i];
        descr[i]->d_method = copy[i];
    }
    mb_dealloc = mbt->tp_dealloc;
    mb_clear = mbt->tp_clear;
    mv_dealloc = PyMemoryView_Type.tp_dealloc;
    mv_clear = PyMemoryView_Type.tp_clear;
    pb_dealloc = PyPickleBuffer_Type.tp_dealloc;
    pb_clear = PyPickleBuffer_Type.tp_clear;
    mbt->tp_dealloc = wrap_mb_dealloc;
    mbt->tp_clear = wrap_mb_clear;
    PyMemoryView_Type.tp_dealloc = wrap_mv_dealloc;
    PyMemoryView_Type.tp_clear = wrap_mv_clear;
    PyPickleBuffer_Type.tp_dealloc = wrap_pb_dealloc;
    PyPickleBuffer_Type.tp_clear = wrap_pb_clear;
    holders_active = 1;
    return 1;
}
