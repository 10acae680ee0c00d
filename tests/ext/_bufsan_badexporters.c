/*
 * _bufsan_badexporters: exporters whose bf_getbuffer breaks one rule of the
 * protocol each (and a correct one), and consumers that misuse a view they
 * hold, for the getbuffer-conformance, consumer-modified-view and no-gil
 * end-to-end tests. A second module so that the branches adding test code
 * do not all edit _bufsan_testext.c.
 *
 * Every bug is arranged not to crash the process, so each scenario also runs
 * without bufsan: a missing reference is given back in the release slot, a
 * wild format pointer is never read by the consumers used with it.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string.h>

enum mode {
    M_OK, M_ERROR_LEFT_OBJ, M_ERROR_WITHOUT_EXCEPTION, M_SUCCESS_WITH_EXCEPTION, M_RETURNS_ONE,
    M_NO_INCREF, M_OBJ_NULL, M_FORMAT_UNREQUESTED, M_SHAPE_MISSING, M_BAD_LEN, M_WILD_FORMAT,
    M_NOT_CONTIGUOUS, M_IGNORES_FLAGS, M_BARE, M_COUNT
};
static const char *const mode_names[M_COUNT] = {
    "ok", "error_left_obj", "error_without_exception", "success_with_exception", "returns_one",
    "no_incref", "obj_null", "format_unrequested", "shape_missing", "bad_len", "wild_format",
    "not_contiguous", "ignores_flags", "bare",
};

typedef struct {
    PyObject_HEAD
    enum mode mode;
    char data[16];
    Py_ssize_t shape[1], strides[1];
    Py_ssize_t exports, missing_refs;
} BadExporterObject;

static PyObject *
bad_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"mode", NULL};
    const char *name = "ok";
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|s", kwlist, &name))
        return NULL;
    int mode = -1;
    for (int i = 0; i < M_COUNT; i++)
        if (!strcmp(name, mode_names[i]))
            mode = i;
    if (mode < 0) {
        PyErr_Format(PyExc_ValueError, "unknown mode %s", name);
        return NULL;
    }
    BadExporterObject *self = (BadExporterObject *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->mode = (enum mode)mode;
    memcpy(self->data, "abcdefghijklmnop", 16);
    return (PyObject *)self;
}

/* A correct answer for 8 bytes, honouring every request bit. */
static void
fill_correct(BadExporterObject *self, Py_buffer *view, int flags)
{
    view->obj = Py_NewRef(self);
    view->buf = self->data;
    view->len = 8;
    view->readonly = 0;
    view->itemsize = 1;
    view->format = (flags & PyBUF_FORMAT) == PyBUF_FORMAT ? "B" : NULL;
    view->ndim = 1;
    self->shape[0] = 8;
    self->strides[0] = 1;
    view->shape = (flags & PyBUF_ND) == PyBUF_ND ? self->shape : NULL;
    view->strides = (flags & PyBUF_STRIDES) == PyBUF_STRIDES ? self->strides : NULL;
    view->suboffsets = NULL;
    view->internal = NULL;
}

static int
bad_exporter_getbuffer(BadExporterObject *self, Py_buffer *view, int flags)
{
    switch (self->mode) {
    case M_ERROR_LEFT_OBJ:
        /* the reference it takes is never dropped: the object stays alive */
        view->obj = Py_NewRef(self);
        PyErr_SetString(PyExc_BufferError, "error_left_obj: refused");
        return -1;
    case M_ERROR_WITHOUT_EXCEPTION:
        view->obj = NULL;
        return -1;
    case M_SUCCESS_WITH_EXCEPTION:
        fill_correct(self, view, flags);
        PyErr_SetString(PyExc_RuntimeError, "success_with_exception: stray exception");
        break;
    case M_RETURNS_ONE:
        view->obj = NULL;
        PyErr_SetString(PyExc_BufferError, "returns_one: refused with 1");
        return 1;
    case M_NO_INCREF:
        fill_correct(self, view, flags);
        Py_DECREF(self); /* BUG: view->obj holds no reference of its own */
        self->missing_refs++;
        break;
    case M_OBJ_NULL:
        fill_correct(self, view, flags);
        Py_CLEAR(view->obj);
        break;
    case M_FORMAT_UNREQUESTED:
        fill_correct(self, view, flags);
        view->format = "B"; /* BUG: also without PyBUF_FORMAT */
        break;
    case M_SHAPE_MISSING:
        fill_correct(self, view, flags);
        view->shape = NULL; /* BUG: PyBUF_ND asked for it */
        break;
    case M_BAD_LEN:
        fill_correct(self, view, flags);
        view->len = 7; /* BUG: shape and itemsize say 8 */
        break;
    case M_WILD_FORMAT:
        fill_correct(self, view, flags);
        view->format = (char *)(uintptr_t)0x18; /* BUG: garbage pointer */
        break;
    case M_NOT_CONTIGUOUS:
        fill_correct(self, view, flags);
        /* BUG: every second byte, even under a contiguity request */
        view->len = 4;
        self->shape[0] = 4;
        self->strides[0] = 2;
        view->shape = self->shape;
        view->strides = self->strides;
        break;
    case M_IGNORES_FLAGS:
        fill_correct(self, view, flags);
        /* BUG: format, shape and strides whatever the request asked */
        view->format = "B";
        view->shape = self->shape;
        view->strides = self->strides;
        break;
    case M_BARE:
        fill_correct(self, view, flags);
        /* BUG: no format, shape or strides even when the request asks */
        view->format = NULL;
        view->shape = NULL;
        view->strides = NULL;
        break;
    default:
        fill_correct(self, view, flags);
        break;
    }
    self->exports++;
    return 0;
}

static void
bad_exporter_releasebuffer(BadExporterObject *self, Py_buffer *view)
{
    (void)view;
    self->exports--;
    if (self->missing_refs > 0) {
        /* give back what no_incref's getbuffer failed to take, so that
         * PyBuffer_Release's decref does not free us */
        self->missing_refs--;
        Py_INCREF(self);
    }
}

static PyBufferProcs bad_exporter_as_buffer = {
    (getbufferproc)bad_exporter_getbuffer,
    (releasebufferproc)bad_exporter_releasebuffer,
};

static PyTypeObject BadExporter_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "_bufsan_badexporters.BadExporter",
    .tp_basicsize = sizeof(BadExporterObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = bad_new,
    .tp_as_buffer = &bad_exporter_as_buffer,
    .tp_doc = "BadExporter(mode='ok'): 8 bytes, exported the way MODE says",
};

/* ---- consumers ------------------------------------------------------ */

/* consume(obj, flags): acquire with FLAGS and release at once; returns
 * len, or raises what the exporter raised. */
static PyObject *
badexp_consume(PyObject *mod, PyObject *args)
{
    (void)mod;
    PyObject *obj;
    int flags;
    Py_buffer view;
    if (!PyArg_ParseTuple(args, "Oi", &obj, &flags))
        return NULL;
    memset(&view, 0, sizeof view);
    int rc = PyObject_GetBuffer(obj, &view, flags);
    if (rc != 0) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_SystemError, "consume: getbuffer failed without an exception");
        return NULL;
    }
    Py_ssize_t len = view.len;
    PyBuffer_Release(&view);
    if (PyErr_Occurred())
        return NULL;
    return PyLong_FromSsize_t(len);
}

/* skip_header(obj): a parser that advances the view past a one-byte header
 * and releases the advanced view; with fixed=True it releases what it got. */
static PyObject *
badexp_skip_header(PyObject *mod, PyObject *args, PyObject *kwds)
{
    (void)mod;
    static char *kwlist[] = {"obj", "fixed", NULL};
    PyObject *obj;
    int fixed = 0;
    Py_buffer view;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|p", kwlist, &obj, &fixed))
        return NULL;
    if (PyObject_GetBuffer(obj, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    Py_buffer body = view;
    body.buf = (char *)body.buf + 1;
    body.len -= 1;
    PyObject *res = PyBytes_FromStringAndSize(body.buf, body.len);
    if (fixed)
        PyBuffer_Release(&view);
    else {
        view.buf = body.buf; /* BUG: the view handed back is not the one filled */
        view.len = body.len;
        PyBuffer_Release(&view);
    }
    return res;
}

/* acquire_without_gil(obj): acquires and releases a view with the GIL
 * released around the acquisition (BUG), or with it held (fixed=True). */
static PyObject *
badexp_acquire_without_gil(PyObject *mod, PyObject *args, PyObject *kwds)
{
    (void)mod;
    static char *kwlist[] = {"obj", "fixed", NULL};
    PyObject *obj;
    int fixed = 0, rc;
    Py_buffer view;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|p", kwlist, &obj, &fixed))
        return NULL;
    if (fixed) {
        rc = PyObject_GetBuffer(obj, &view, PyBUF_SIMPLE);
    } else {
        Py_BEGIN_ALLOW_THREADS
        rc = PyObject_GetBuffer(obj, &view, PyBUF_SIMPLE); /* BUG: no GIL */
        Py_END_ALLOW_THREADS
    }
    if (rc < 0)
        return NULL;
    Py_ssize_t len = view.len;
    PyBuffer_Release(&view);
    return PyLong_FromSsize_t(len);
}

/* release_without_gil(obj): acquires with the GIL and releases without it
 * (BUG), or with it (fixed=True), after reading the bytes without it. */
static PyObject *
badexp_release_without_gil(PyObject *mod, PyObject *args, PyObject *kwds)
{
    (void)mod;
    static char *kwlist[] = {"obj", "fixed", NULL};
    PyObject *obj;
    int fixed = 0;
    Py_buffer view;
    unsigned sum = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|p", kwlist, &obj, &fixed))
        return NULL;
    if (PyObject_GetBuffer(obj, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < view.len; i++)
        sum += ((unsigned char *)view.buf)[i];
    if (!fixed)
        PyBuffer_Release(&view); /* BUG: no GIL */
    Py_END_ALLOW_THREADS
    if (fixed)
        PyBuffer_Release(&view);
    return PyLong_FromUnsignedLong(sum);
}

static PyMethodDef badexp_methods[] = {
    {"consume", badexp_consume, METH_VARARGS, "consume(obj, flags) -> len"},
    {"skip_header", (PyCFunction)(void (*)(void))badexp_skip_header, METH_VARARGS | METH_KEYWORDS,
     "skip_header(obj, fixed=False) -> bytes after the first"},
    {"acquire_without_gil", (PyCFunction)(void (*)(void))badexp_acquire_without_gil,
     METH_VARARGS | METH_KEYWORDS, "acquire_without_gil(obj, fixed=False) -> len"},
    {"release_without_gil", (PyCFunction)(void (*)(void))badexp_release_without_gil,
     METH_VARARGS | METH_KEYWORDS, "release_without_gil(obj, fixed=False) -> byte sum"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef badexp_module = {
    PyModuleDef_HEAD_INIT, "_bufsan_badexporters",
    "exporters and consumers that break the buffer protocol, for bufsan's tests", -1,
    badexp_methods,
};

PyMODINIT_FUNC
PyInit__bufsan_badexporters(void)
{
    if (PyType_Ready(&BadExporter_Type) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&badexp_module);
    if (m == NULL)
        return NULL;
#ifdef Py_GIL_DISABLED
    /* free-threaded builds: no GIL re-enabled (and no warning) for a test module */
    PyUnstable_Module_SetGIL(m, Py_MOD_GIL_NOT_USED);
#endif
    Py_INCREF(&BadExporter_Type);
    if (PyModule_AddObject(m, "BadExporter", (PyObject *)&BadExporter_Type) < 0) {
        Py_DECREF(&BadExporter_Type);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
