/* The one place that knows how the interpreter's internals differ between
 * CPython versions (docs/how-it-works.md, "Interpreters"). Each core is
 * compiled against one interpreter's own headers; what the rest of a core
 * reads of CPython beyond the stable C-API goes through these accessors,
 * and only this file and pyver.c test PY_VERSION_HEX. Adding a version
 * means adding its branch here.
 *
 *            top frame                code of a frame      offset
 *   3.11     tstate->cframe->...      f_code               prev_instr
 *   3.12     tstate->cframe->...      f_code (+ shim       prev_instr
 *                                     frames, CSTACK)
 *   3.13     tstate->current_frame    f_executable         instr_ptr
 *   3.14/15  tstate->current_frame    f_executable         instr_ptr
 *                                     (tagged _PyStackRef) (3.14t: its
 *                                                          thread's bytecode)
 * The offsets are what the interpreter's own _PyInterpreterFrame_LASTI
 * gives; each version's _PyFrame_IsIncomplete skips frames that are not
 * running code yet and the shim frames of 3.12+. */
#ifndef BUFSAN_PYVER_PYVER_H
#define BUFSAN_PYVER_PYVER_H

#include <Python.h>

#define Py_BUILD_CORE 1
#if PY_VERSION_HEX >= 0x030E0000
#include "internal/pycore_interpframe.h"
#else
#include "internal/pycore_frame.h"
#endif
#undef Py_BUILD_CORE

#if PY_VERSION_HEX < 0x030B0000
#error "bufsan reads CPython 3.11 and later"
#endif

/* The interpreter frame a thread is running (NULL: none). */
static inline _PyInterpreterFrame *pyver_top_frame(PyThreadState *ts)
{
#if PY_VERSION_HEX >= 0x030D0000
    return ts->current_frame;
#else
    return ts->cframe ? ts->cframe->current_frame : NULL;
#endif
}

/* The code object a frame runs and the byte offset of its instruction (for
 * PyCode_Addr2Line), or NULL for a frame that runs no code yet or is a
 * shim between C and the evaluation loop. */
static inline PyCodeObject *pyver_frame_code(_PyInterpreterFrame *f, int *byte_offset)
{
#if PY_VERSION_HEX >= 0x030C0000 && PY_VERSION_HEX < 0x030D0000
    if (f->owner == FRAME_OWNED_BY_CSTACK) /* 3.12's _PyFrame_IsIncomplete misses it */
        return NULL;
#endif
    if (_PyFrame_IsIncomplete(f))
        return NULL;
#if PY_VERSION_HEX >= 0x030D0000
    PyCodeObject *co = _PyFrame_GetCode(f);
#else
    PyCodeObject *co = f->f_code;
#endif
    *byte_offset = _PyInterpreterFrame_LASTI(f) * (int)sizeof(_Py_CODEUNIT);
    return co;
}

/* The thread state attached to this thread (3.12+), or the one holding the
 * GIL (3.11: a process-wide value); no check, no error. */
static inline PyThreadState *pyver_tstate_unchecked(void)
{
#if PY_VERSION_HEX >= 0x030D0000
    return PyThreadState_GetUnchecked();
#else
    return _PyThreadState_UncheckedGet();
#endif
}

/* Is O immortal (3.12+): its reference count does not move, so a
 * bf_getbuffer that stores it in view->obj owns a reference without the
 * count growing. */
static inline int pyver_is_immortal(PyObject *o)
{
#if PY_VERSION_HEX >= 0x030C0000
    return _Py_IsImmortal(o);
#else
    (void)o;
    return 0;
#endif
}

/* A free-threaded build (3.13t+) runs Python code on several threads at
 * once: what the GIL serialises elsewhere (bufsan's caches of interpreter
 * objects, the patching of types) takes this lock there. A PyMutex: a
 * thread waiting for it detaches, so a stop-the-world pause never waits
 * for it. Not recursive. */
#ifdef Py_GIL_DISABLED
#define PYVER_FREE_THREADED 1
extern PyMutex pyver_mutex;
static inline void pyver_lock(void)
{
    PyMutex_Lock(&pyver_mutex);
}
static inline void pyver_unlock(void)
{
    PyMutex_Unlock(&pyver_mutex);
}
#else
#define PYVER_FREE_THREADED 0
/* With the GIL, the same sections need a lock where subinterpreters made
 * with their own GIL (3.12+, PEP 684; every InterpreterPoolExecutor
 * worker) run Python code in parallel with the main interpreter. Nothing
 * announces them reliably (3.13-3.15 raise the
 * cpython.PyInterpreterState_New audit event in no interpreter whose hooks
 * see it), so the lock is always taken. It belongs to an interpreter, not
 * a thread: the threads of the interpreter that holds it enter too (its
 * GIL serialises them, as it does with no lock), those of another one
 * wait, spinning, with their GIL held. A waiter never lets its GIL go:
 * sections run inside tp_dealloc wrappers and other places where another
 * thread of the same interpreter must not run (a PyMutex that detached
 * there let a thread's garbage collection see a memoryview half
 * deallocated), and the holder, of another interpreter, never needs this
 * one's GIL. Recursive per thread (a section may meet another one through
 * a nested event). */
extern __thread unsigned pyver_lock_depth;
void pyver_lock_enter(void);
void pyver_lock_leave(void);
static inline void pyver_lock(void)
{
    if (pyver_lock_depth++ == 0)
        pyver_lock_enter();
}
static inline void pyver_unlock(void)
{
    if (--pyver_lock_depth == 0)
        pyver_lock_leave();
}
#endif

/* A forked child: the lock is free, unless the thread that forked held it
 * (a thread of the parent that held it is not in the child). */
void pyver_after_fork_child(void);

/* Addresses learned from the running interpreter (pyver.c), where the
 * version does not export the symbol (3.13+: _PyManagedBuffer_Type; the
 * PEP 688 machinery is static in typeobject.c). */
typedef struct {
    PyTypeObject *managed_buffer_type; /* memoryview's managed buffer */
    /* 3.12+ (PEP 688): the slot functions of Python classes that define
     * __buffer__ (slot_bf_getbuffer: calls it, gets the memoryview's buffer
     * into the view, then puts a wrapper in view->obj) and the wrapper's
     * type, whose release slot releases the memoryview and calls the
     * class's __release_buffer__ */
    getbufferproc class_getbuffer;
    releasebufferproc class_releasebuffer;
    PyTypeObject *buffer_wrapper_type;
} pyver_types;

/* The exporter a PEP 688 wrapper stands for (NULL: not a wrapper, or
 * already released). Objects/typeobject.c's PyBufferWrapper, the same in
 * 3.12 to 3.15: {PyObject_HEAD; PyObject *mv; PyObject *obj;}. */
typedef struct {
    PyObject_HEAD
    PyObject *mv;
    PyObject *obj;
} pyver_buffer_wrapper;

extern pyver_types pyver;

/* The master Py_buffer of MV's managed buffer: the export of the memory
 * that MV, and whatever holds MV, keeps alive (NULL: MV is no memoryview,
 * or has none). */
static inline Py_buffer *pyver_memoryview_master_view(PyObject *mv)
{
    if (!mv || !PyMemoryView_Check(mv) || !((PyMemoryViewObject *)mv)->mbuf)
        return NULL;
    return &((PyMemoryViewObject *)mv)->mbuf->master;
}

/* The same under a PEP 688 wrapper's memoryview: what the class's export
 * keeps alive. */
static inline Py_buffer *pyver_wrapper_master_view(PyObject *wrapper)
{
    return pyver_memoryview_master_view(((pyver_buffer_wrapper *)wrapper)->mv);
}

static inline PyObject *pyver_wrapped_exporter(PyObject *o)
{
    if (!pyver.buffer_wrapper_type || Py_TYPE(o) != pyver.buffer_wrapper_type)
        return NULL;
    return ((pyver_buffer_wrapper *)o)->obj;
}

/* Learns pyver's addresses (needs the GIL; the caller keeps bufsan's own
 * wrappers out of the probe's exports); 0, or -1 when one is missing. */
int pyver_init(void);

#endif
