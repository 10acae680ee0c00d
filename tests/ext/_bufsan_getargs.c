/* Consumers that get their buffers through PyArg_ParseTuple's "y*" and
 * "w*": the export happens inside the interpreter (getargs.c) on behalf of
 * the extension, which must release the view itself. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* leak_ystar(obj): parses obj with "y*" into a heap Py_buffer and never
 * releases it. */
static PyObject *
getargs_leak_ystar(PyObject *module, PyObject *args)
{
    Py_buffer *view = PyMem_Malloc(sizeof *view);
    if (!view)
        return PyErr_NoMemory();
    if (!PyArg_ParseTuple(args, "y*", view)) {
        PyMem_Free(view);
        return NULL;
    }
    return PyLong_FromSsize_t(view->len); /* BUG: view never released */
}

/* leak_ystar_twin(obj): leak_ystar again, with a frame of the same size but
 * different code (so the linker cannot fold the two): called from the same
 * Python line as leak_ystar, its export is made at the same interpreter site
 * with the same stack pointer, and must still be reported with its own name. */
static PyObject *
getargs_leak_ystar_twin(PyObject *module, PyObject *args)
{
    Py_buffer *view = PyMem_Malloc(sizeof *view);
    if (!view)
        return PyErr_NoMemory();
    if (!PyArg_ParseTuple(args, "y*", view)) {
        PyMem_Free(view);
        return NULL;
    }
    return PyLong_FromSsize_t(view->len + 1); /* BUG: view never released */
}

/* leak_wstar(b=obj): the same with "w*" and keywords. */
static PyObject *
getargs_leak_wstar(PyObject *module, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"b", NULL};
    Py_buffer *view = PyMem_Malloc(sizeof *view);
    if (!view)
        return PyErr_NoMemory();
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "w*", kwlist, view)) {
        PyMem_Free(view);
        return NULL;
    }
    return PyLong_FromSsize_t(view->len); /* BUG: view never released */
}

/* sum_ystar(obj): the correct pattern. */
static PyObject *
getargs_sum_ystar(PyObject *module, PyObject *args)
{
    Py_buffer view;
    if (!PyArg_ParseTuple(args, "y*", &view))
        return NULL;
    unsigned long sum = 0;
    for (Py_ssize_t i = 0; i < view.len; i++)
        sum += ((unsigned char *)view.buf)[i];
    PyBuffer_Release(&view);
    return PyLong_FromUnsignedLong(sum);
}

/* One Py_buffer that two functions parse into (blosc's cbuffer_validate and
 * compress both use a stack slot at the same address). */
static Py_buffer slot;

/* leak_into_slot(obj): parses obj with "y*" into the slot and never
 * releases it. */
static PyObject *
getargs_leak_into_slot(PyObject *module, PyObject *args)
{
    if (!PyArg_ParseTuple(args, "y*", &slot))
        return NULL;
    return PyLong_FromSsize_t(slot.len); /* BUG: view never released */
}

/* sum_slot(obj): parses obj with "y*" into the same slot, sums its bytes
 * and releases it: correct, though the slot still held leak_into_slot's
 * view (overwritten, as the stack slot is). */
static PyObject *
getargs_sum_slot(PyObject *module, PyObject *args)
{
    if (!PyArg_ParseTuple(args, "y*", &slot))
        return NULL;
    long sum = 0;
    for (Py_ssize_t i = 0; i < slot.len; i++)
        sum += ((const unsigned char *)slot.buf)[i];
    PyBuffer_Release(&slot);
    return PyLong_FromLong(sum);
}

/* leak_ystar_stack(obj): parses obj with "y*" into a Py_buffer on its own
 * stack and returns without releasing it. */
static PyObject *
getargs_leak_ystar_stack(PyObject *module, PyObject *args)
{
    Py_buffer view;
    if (!PyArg_ParseTuple(args, "y*", &view))
        return NULL;
    return PyLong_FromSsize_t(view.len); /* BUG: view never released */
}

/* release_ystar_twice(obj): parses obj with "y*", releases the view, then a
 * copy of it. An extra reference keeps obj alive through the second
 * release, which drops a reference it does not own. */
static PyObject *
getargs_release_ystar_twice(PyObject *module, PyObject *args)
{
    Py_buffer view, copy;
    if (!PyArg_ParseTuple(args, "y*", &view))
        return NULL;
    copy = view;
    Py_INCREF(view.obj);
    PyBuffer_Release(&view);
    PyBuffer_Release(&copy); /* BUG: released twice */
    return PyLong_FromSsize_t(copy.len);
}

/* release_ystar_copy(obj): correct: parses obj with "y*" and releases a copy
 * of the view, once. */
static PyObject *
getargs_release_ystar_copy(PyObject *module, PyObject *args)
{
    Py_buffer view, copy;
    if (!PyArg_ParseTuple(args, "y*", &view))
        return NULL;
    copy = view;
    PyBuffer_Release(&copy);
    return PyLong_FromSsize_t(view.len);
}

/* release_never_got(obj): fills a Py_buffer for obj by hand
 * (PyBuffer_FillInfo, which takes a reference) and releases it: a view no
 * bf_getbuffer gave. */
static PyObject *
getargs_release_never_got(PyObject *module, PyObject *obj)
{
    static char byte = 'x';
    Py_buffer view;
    if (PyBuffer_FillInfo(&view, obj, &byte, 1, 1, PyBUF_SIMPLE) < 0)
        return NULL;
    PyBuffer_Release(&view); /* BUG: never got from obj */
    Py_RETURN_NONE;
}

/* ystar_then_int(obj, n): correct: parses "y*i"; when n is no int,
 * PyArg_ParseTuple fails and releases the view it had filled itself. */
static PyObject *
getargs_ystar_then_int(PyObject *module, PyObject *args)
{
    Py_buffer view;
    int n;
    if (!PyArg_ParseTuple(args, "y*i", &view, &n))
        return NULL;
    Py_ssize_t len = view.len;
    PyBuffer_Release(&view);
    return PyLong_FromSsize_t(len + n);
}

static PyMethodDef methods[] = {
    {"leak_into_slot", getargs_leak_into_slot, METH_VARARGS, NULL},
    {"sum_slot", getargs_sum_slot, METH_VARARGS, NULL},
    {"leak_ystar", getargs_leak_ystar, METH_VARARGS, NULL},
    {"leak_ystar_twin", getargs_leak_ystar_twin, METH_VARARGS, NULL},
    {"leak_wstar", (PyCFunction)(void (*)(void))getargs_leak_wstar, METH_VARARGS | METH_KEYWORDS, NULL},
    {"sum_ystar", getargs_sum_ystar, METH_VARARGS, NULL},
    {"leak_ystar_stack", getargs_leak_ystar_stack, METH_VARARGS, NULL},
    {"release_ystar_twice", getargs_release_ystar_twice, METH_VARARGS, NULL},
    {"release_ystar_copy", getargs_release_ystar_copy, METH_VARARGS, NULL},
    {"release_never_got", getargs_release_never_got, METH_O, NULL},
    {"ystar_then_int", getargs_ystar_then_int, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_bufsan_getargs", NULL, -1, methods};

PyMODINIT_FUNC
PyInit__bufsan_getargs(void)
{
    PyObject *m = PyModule_Create(&module);
    if (!m)
        return NULL;
#ifdef Py_GIL_DISABLED
    /* free-threaded builds: no GIL re-enabled (and no warning) for a test module */
    PyUnstable_Module_SetGIL(m, Py_MOD_GIL_NOT_USED);
#endif
    return m;
}
