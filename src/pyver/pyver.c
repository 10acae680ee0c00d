/* Addresses the interpreter does not export in every version, learned
 * from objects it makes (see pyver.h). */
#include "pyver.h"

#include <sched.h>
#include <string.h>

#include "../common/spin.h"

pyver_types pyver;
#ifdef Py_GIL_DISABLED
PyMutex pyver_mutex;

void pyver_after_fork_child(void)
{
    memset(&pyver_mutex, 0, sizeof pyver_mutex);
}
#else
__thread unsigned pyver_lock_depth;

/* The sections' lock (pyver.h): the interpreter that holds it and how many
 * of its threads are inside, changed under a spin lock held for a few
 * instructions. */
static int lock_guard;
static const void *lock_owner;
static unsigned lock_inside;
static __thread char own_key; /* a thread with no thread state: its own key */

static const void *lock_key(void)
{
    PyThreadState *ts = pyver_tstate_unchecked();
    return ts ? (const void *)ts->interp : (const void *)&own_key;
}

void pyver_lock_enter(void)
{
    const void *me = lock_key();
    for (;;) {
        spin_lock(&lock_guard);
        if (!lock_owner || lock_owner == me) {
            lock_owner = me;
            lock_inside++;
            spin_unlock(&lock_guard);
            return;
        }
        spin_unlock(&lock_guard);
        sched_yield(); /* another interpreter's section: short */
    }
}

void pyver_lock_leave(void)
{
    spin_lock(&lock_guard);
    if (--lock_inside == 0)
        lock_owner = NULL;
    spin_unlock(&lock_guard);
}

void pyver_after_fork_child(void)
{
    lock_guard = 0;
    lock_inside = pyver_lock_depth ? 1 : 0;
    lock_owner = pyver_lock_depth ? lock_key() : NULL;
}
#endif

/* PEP 688 (3.12+): a class with __buffer__ and __release_buffer__ shows
 * the slot function the interpreter gives such classes, and one export of
 * an instance the wrapper type it puts in view->obj. */
static int learn_pep688(void)
{
#if PY_VERSION_HEX >= 0x030C0000
    static const char src[] = "class P:\n"
                               "    def __buffer__(self, flags):\n"
                               "        return memoryview(b'')\n"
                               "    def __release_buffer__(self, view):\n"
                               "        pass\n"
                               "p = P()\n";
    PyObject *ns = PyDict_New();
    int ok = 0;
    if (ns && PyDict_SetItemString(ns, "__builtins__", PyEval_GetBuiltins()) == 0) {
        PyObject *r = PyRun_String(src, Py_file_input, ns, ns);
        PyObject *p = r ? PyDict_GetItemString(ns, "p") : NULL;
        Py_XDECREF(r);
        PyBufferProcs *pb = p ? Py_TYPE(p)->tp_as_buffer : NULL;
        Py_buffer view;
        if (pb && pb->bf_getbuffer && PyObject_GetBuffer(p, &view, PyBUF_SIMPLE) == 0) {
            if (view.obj && view.obj != p && Py_TYPE(view.obj)->tp_name &&
                !strcmp(Py_TYPE(view.obj)->tp_name, "_buffer_wrapper") &&
                ((pyver_buffer_wrapper *)view.obj)->obj == p) {
                pyver.class_getbuffer = pb->bf_getbuffer;
                pyver.class_releasebuffer = pb->bf_releasebuffer;
                pyver.buffer_wrapper_type = Py_TYPE(view.obj);
                ok = 1;
            }
            PyBuffer_Release(&view);
        }
    }
    PyErr_Clear();
    Py_XDECREF(ns);
    return ok ? 0 : -1;
#else
    return 0;
#endif
}

int pyver_init(void)
{
    /* _PyManagedBuffer_Type is exported up to 3.12 only: every version's
     * memoryview points at its managed buffer, whose type it is. */
    PyObject *bytes = PyBytes_FromStringAndSize("", 0);
    PyObject *mv = bytes ? PyMemoryView_FromObject(bytes) : NULL;
    Py_XDECREF(bytes);
    if (!mv) {
        PyErr_Clear();
        return -1;
    }
    PyObject *mbuf = (PyObject *)((PyMemoryViewObject *)mv)->mbuf;
    PyTypeObject *t = mbuf ? Py_TYPE(mbuf) : NULL;
    if (t && t->tp_name && !strcmp(t->tp_name, "managedbuffer"))
        pyver.managed_buffer_type = t;
    Py_DECREF(mv);
    if (!pyver.managed_buffer_type)
        return -1;
    return learn_pep688();
}
