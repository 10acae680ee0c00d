/* A small extension with buffer-protocol bugs of the kind bufsan finds:
 * an error path that forgets PyBuffer_Release, and an exporter whose
 * bf_releasebuffer drops a reference it does not own. Built by CMake as
 * examples/checksum*.so; run with scripts/demo. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* Sum of the bytes of any buffer. BUG: the empty-buffer error path returns
 * without releasing the view, so the exporter stays exported forever (a
 * bytearray can never be resized again). */
static PyObject *
checksum(PyObject *module, PyObject *arg)
{
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    if (view.len == 0) {
        PyErr_SetString(PyExc_ValueError, "checksum of an empty buffer");
        return NULL;
    }
    unsigned long sum = 0;
    for (Py_ssize_t i = 0; i < view.len; i++)
        sum += ((unsigned char *)view.buf)[i];
    PyBuffer_Release(&view);
    return PyLong_FromUnsignedLong(sum);
}

/* A fixed-size block of memory that exports itself. BUG: its release slot
 * does Py_DECREF(view->obj); PyBuffer_Release already drops that reference.
 * (bf_getbuffer takes one extra reference so that the demo does not crash.) */
typedef struct {
    PyObject_HEAD
    char data[16];
} Block;

static int
block_getbuffer(PyObject *self, Py_buffer *view, int flags)
{
    if (PyBuffer_FillInfo(view, self, ((Block *)self)->data, sizeof ((Block *)self)->data, 0,
                          flags) < 0)
        return -1;
    Py_INCREF(self);
    return 0;
}

static void
block_releasebuffer(PyObject *self, Py_buffer *view)
{
    Py_DECREF(view->obj);
}

static PyBufferProcs block_as_buffer = {block_getbuffer, block_releasebuffer};

static PyTypeObject BlockType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "checksum.Block",
    .tp_basicsize = sizeof(Block),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_as_buffer = &block_as_buffer,
};

static PyMethodDef methods[] = {
    {"checksum", checksum, METH_O, "Sum of the bytes of a buffer."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "checksum", NULL, -1, methods};

PyMODINIT_FUNC
PyInit_checksum(void)
{
    if (PyType_Ready(&BlockType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m && PyModule_AddObjectRef(m, "Block", (PyObject *)&BlockType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
