/* Extension traffic for the benchmarks: a C consumer acquiring and
 * releasing buffers in a loop, as parsers and codecs do. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* consume(obj, n): n PyObject_GetBuffer/PyBuffer_Release pairs on obj. */
static PyObject *
consume(PyObject *module, PyObject *args)
{
    PyObject *obj;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "On", &obj, &n))
        return NULL;
    unsigned long sum = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_buffer view;
        if (PyObject_GetBuffer(obj, &view, PyBUF_SIMPLE) < 0)
            return NULL;
        sum += view.len ? ((unsigned char *)view.buf)[0] : 0;
        PyBuffer_Release(&view);
    }
    return PyLong_FromUnsignedLong(sum);
}

static PyMethodDef methods[] = {
    {"consume", consume, METH_VARARGS, "n acquire/release pairs on obj"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_bufsan_bench", NULL, -1, methods};

PyMODINIT_FUNC
PyInit__bufsan_bench(void)
{
    return PyModule_Create(&module);
}
