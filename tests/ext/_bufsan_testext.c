/*
 * _bufsan_testext: exporters and consumers for bufsan's end-to-end tests.
 *
 * Each consumer is one deliberate buffer-protocol pattern (correct or buggy)
 * behind a distinctively named C function, because the tests assert that the
 * function appears as a native frame in bufsan's stacks. The consumers call
 * PyObject_GetBuffer / PyBuffer_Release themselves: on an interpreter that
 * links libpython statically, that is the call path bufsan sees for exporters
 * without a bf_releasebuffer slot (bytes, numpy arrays).
 *
 * The buggy patterns are arranged not to crash or corrupt the process, so the
 * scenarios also run to completion without bufsan: reference counts are
 * compensated where a bug would drop one, and leaked views are never touched
 * again.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Exporter: correct exporter with a release slot that counts releases. */

typedef struct {
    PyObject_HEAD
    char *data;
    Py_ssize_t size;
    int readonly;
    Py_ssize_t exports;   /* live exports */
    Py_ssize_t gets;      /* bf_getbuffer successes */
    Py_ssize_t releases;  /* bf_releasebuffer calls */
} ExporterObject;

static int
exporter_alloc_data(ExporterObject *self, Py_ssize_t size, int readonly)
{
    Py_ssize_t i;

    if (size < 0) {
        PyErr_SetString(PyExc_ValueError, "size must be >= 0");
        return -1;
    }
    self->data = PyMem_Malloc(size > 0 ? (size_t)size : 1);
    if (self->data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (i = 0; i < size; i++)
        self->data[i] = (char)('a' + i % 26);
    self->size = size;
    self->readonly = readonly;
    return 0;
}

static PyObject *
exporter_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"size", "readonly", NULL};
    Py_ssize_t size = 16;
    int readonly = 0;
    ExporterObject *self;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|np", kwlist, &size, &readonly))
        return NULL;
    self = (ExporterObject *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    if (exporter_alloc_data(self, size, readonly) < 0) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static void
exporter_dealloc(ExporterObject *self)
{
    PyMem_Free(self->data);
    self->data = NULL;
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int
exporter_getbuffer(ExporterObject *self, Py_buffer *view, int flags)
{
    if (PyBuffer_FillInfo(view, (PyObject *)self, self->data, self->size,
                          self->readonly, flags) < 0)
        return -1;
    self->exports++;
    self->gets++;
    return 0;
}

static void
exporter_releasebuffer(ExporterObject *self, Py_buffer *view)
{
    self->exports--;
    self->releases++;
}

static PyMemberDef exporter_members[] = {
    {"exports", T_PYSSIZET, offsetof(ExporterObject, exports), READONLY,
     "number of live exports"},
    {"gets", T_PYSSIZET, offsetof(ExporterObject, gets), READONLY,
     "number of successful bf_getbuffer calls"},
    {"releases", T_PYSSIZET, offsetof(ExporterObject, releases), READONLY,
     "number of bf_releasebuffer calls"},
    {"size", T_PYSSIZET, offsetof(ExporterObject, size), READONLY,
     "length of the exported memory"},
    {NULL}
};

static PyBufferProcs exporter_as_buffer = {
    .bf_getbuffer = (getbufferproc)exporter_getbuffer,
    .bf_releasebuffer = (releasebufferproc)exporter_releasebuffer,
};

static PyTypeObject ExporterType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "_bufsan_testext.Exporter",
    .tp_doc = "Exporter(size=16, readonly=False): correct exporter with a "
              "release slot; counts exports.",
    .tp_basicsize = sizeof(ExporterObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_new = exporter_new,
    .tp_dealloc = (destructor)exporter_dealloc,
    .tp_members = exporter_members,
    .tp_as_buffer = &exporter_as_buffer,
};

/* ------------------------------------------------------------------ */
/* SlotlessExporter: correct exporter without bf_releasebuffer. */

static int
slotless_getbuffer(ExporterObject *self, Py_buffer *view, int flags)
{
    if (PyBuffer_FillInfo(view, (PyObject *)self, self->data, self->size,
                          self->readonly, flags) < 0)
        return -1;
    self->gets++;
    return 0;
}

static PyBufferProcs slotless_as_buffer = {
    .bf_getbuffer = (getbufferproc)slotless_getbuffer,
    .bf_releasebuffer = NULL,
};

static PyTypeObject SlotlessExporterType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "_bufsan_testext.SlotlessExporter",
    .tp_doc = "SlotlessExporter(size=16, readonly=False): correct exporter "
              "with no bf_releasebuffer slot.",
    .tp_basicsize = sizeof(ExporterObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = exporter_new,
    .tp_dealloc = (destructor)exporter_dealloc,
    .tp_members = exporter_members,
    .tp_as_buffer = &slotless_as_buffer,
};

/* ------------------------------------------------------------------ */
/* DecrefReleaser: BUGGY exporter whose bf_releasebuffer decrefs view->obj
 * (the docs: the release function MUST NOT decrement view->obj, the caller
 * PyBuffer_Release does). getbuffer takes one extra reference so that the
 * bug does not free the object. */

static int
decref_releaser_getbuffer(ExporterObject *self, Py_buffer *view, int flags)
{
    if (PyBuffer_FillInfo(view, (PyObject *)self, self->data, self->size,
                          self->readonly, flags) < 0)
        return -1;
    Py_INCREF(self);  /* compensates the bug in the release slot */
    self->exports++;
    self->gets++;
    return 0;
}

static void
decref_releaser_releasebuffer(ExporterObject *self, Py_buffer *view)
{
    self->exports--;
    self->releases++;
    Py_DECREF(view->obj);  /* BUG: not the release slot's job */
}

static PyBufferProcs decref_releaser_as_buffer = {
    .bf_getbuffer = (getbufferproc)decref_releaser_getbuffer,
    .bf_releasebuffer = (releasebufferproc)decref_releaser_releasebuffer,
};

static PyTypeObject DecrefReleaserType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "_bufsan_testext.DecrefReleaser",
    .tp_doc = "DecrefReleaser(size=16): buggy exporter whose release slot "
              "decrefs view->obj.",
    .tp_basicsize = sizeof(ExporterObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = exporter_new,
    .tp_dealloc = (destructor)exporter_dealloc,
    .tp_members = exporter_members,
    .tp_as_buffer = &decref_releaser_as_buffer,
};

/* ------------------------------------------------------------------ */
/* BufferHandle: owns one heap Py_buffer filled by acquire(). Released only
 * by release(); a handle dropped unreleased leaks its export on purpose. */

typedef struct {
    PyObject_HEAD
    Py_buffer *view;
    int released;
} HandleObject;

static void
handle_dealloc(HandleObject *self)
{
    if (self->released)
        PyMem_RawFree(self->view);
    /* else: the export is leaked deliberately, and so is its Py_buffer */
    self->view = NULL;
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
handle_get_len(HandleObject *self, void *closure)
{
    return PyLong_FromSsize_t(self->view->len);
}

static PyObject *
handle_get_readonly(HandleObject *self, void *closure)
{
    return PyBool_FromLong(self->view->readonly);
}

static PyObject *
handle_get_released(HandleObject *self, void *closure)
{
    return PyBool_FromLong(self->released);
}

static PyObject *
handle_get_address(HandleObject *self, void *closure)
{
    return PyLong_FromVoidPtr(self->view);
}

static PyGetSetDef handle_getset[] = {
    {"len", (getter)handle_get_len, NULL, "view->len", NULL},
    {"readonly", (getter)handle_get_readonly, NULL, "view->readonly", NULL},
    {"released", (getter)handle_get_released, NULL, "release() was called", NULL},
    {"address", (getter)handle_get_address, NULL, "address of the Py_buffer", NULL},
    {NULL}
};

static PyTypeObject HandleType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "_bufsan_testext.BufferHandle",
    .tp_doc = "A Py_buffer filled by acquire(); release it with release().",
    .tp_basicsize = sizeof(HandleObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_dealloc = (destructor)handle_dealloc,
    .tp_getset = handle_getset,
};

/* ------------------------------------------------------------------ */
/* Consumers. */

static int
parse_obj_flags(PyObject *args, PyObject *kwds, PyObject **obj, int *flags)
{
    static char *kwlist[] = {"obj", "flags", NULL};

    *flags = PyBUF_SIMPLE;
    return PyArg_ParseTupleAndKeywords(args, kwds, "O|i", kwlist, obj, flags);
}

/* acquire(obj, flags=0) -> BufferHandle */
static PyObject *
testext_acquire_buffer(PyObject *module, PyObject *args, PyObject *kwds)
{
    PyObject *obj;
    int flags;
    HandleObject *handle;

    if (!parse_obj_flags(args, kwds, &obj, &flags))
        return NULL;
    handle = PyObject_New(HandleObject, &HandleType);
    if (handle == NULL)
        return NULL;
    handle->released = 1;  /* nothing to release until filled */
    handle->view = PyMem_RawCalloc(1, sizeof(Py_buffer));
    if (handle->view == NULL) {
        Py_DECREF(handle);
        return PyErr_NoMemory();
    }
    if (PyObject_GetBuffer(obj, handle->view, flags) < 0) {
        Py_DECREF(handle);
        return NULL;
    }
    handle->released = 0;
    return (PyObject *)handle;
}

/* release(handle): releases the handle's export, once. */
static PyObject *
testext_release_buffer(PyObject *module, PyObject *arg)
{
    HandleObject *handle;

    if (!PyObject_TypeCheck(arg, &HandleType)) {
        PyErr_SetString(PyExc_TypeError, "release() expects a BufferHandle");
        return NULL;
    }
    handle = (HandleObject *)arg;
    if (handle->released) {
        PyErr_SetString(PyExc_ValueError, "handle already released");
        return NULL;
    }
    PyBuffer_Release(handle->view);
    handle->released = 1;
    Py_RETURN_NONE;
}

/* leak(obj, flags=0) -> len: acquires into a malloc'd Py_buffer and never
 * releases it. */
static PyObject *
testext_leak_buffer(PyObject *module, PyObject *args, PyObject *kwds)
{
    PyObject *obj;
    int flags;
    Py_buffer *view;

    if (!parse_obj_flags(args, kwds, &obj, &flags))
        return NULL;
    view = malloc(sizeof(*view));
    if (view == NULL)
        return PyErr_NoMemory();
    if (PyObject_GetBuffer(obj, view, flags) < 0) {
        free(view);
        return NULL;
    }
    /* BUG: no PyBuffer_Release(view); the view itself is leaked too. */
    return PyLong_FromSsize_t(view->len);
}

/* acquire_release(obj, flags=0) -> len: the correct pair. */
static PyObject *
testext_acquire_release(PyObject *module, PyObject *args, PyObject *kwds)
{
    PyObject *obj;
    int flags;
    Py_buffer view;
    Py_ssize_t len;

    if (!parse_obj_flags(args, kwds, &obj, &flags))
        return NULL;
    if (PyObject_GetBuffer(obj, &view, flags) < 0)
        return NULL;
    len = view.len;
    PyBuffer_Release(&view);
    return PyLong_FromSsize_t(len);
}

/* release_twice_via_copy(obj) -> len: releases a copy of an already released
 * view. An extra reference keeps obj alive through the second release; the
 * second bf_releasebuffer call is harmless for Exporter (a counter). */
static PyObject *
testext_release_twice_via_copy(PyObject *module, PyObject *args, PyObject *kwds)
{
    PyObject *obj;
    int flags;
    Py_buffer view, copy;

    if (!parse_obj_flags(args, kwds, &obj, &flags))
        return NULL;
    if (PyObject_GetBuffer(obj, &view, flags) < 0)
        return NULL;
    copy = view;
    PyBuffer_Release(&view);
    Py_INCREF(obj);  /* the second release drops a reference it does not own */
    PyBuffer_Release(&copy);  /* BUG: released twice */
    return PyLong_FromSsize_t(copy.len);
}

/* release_copy(obj) -> len: correct: releases a copy instead of the
 * original, once (the SPEC allows matching a release through a copy). */
static PyObject *
testext_release_copy(PyObject *module, PyObject *args, PyObject *kwds)
{
    PyObject *obj;
    int flags;
    Py_buffer view, copy;

    if (!parse_obj_flags(args, kwds, &obj, &flags))
        return NULL;
    if (PyObject_GetBuffer(obj, &view, flags) < 0)
        return NULL;
    copy = view;
    memset(&view, 0xAB, sizeof(view));  /* the original is gone */
    PyBuffer_Release(&copy);
    return PyLong_FromSsize_t(copy.len);
}

/* free_exporter_while_exported(size=16): a fresh Exporter (refcount 1) is
 * exported (refcount 2), then the consumer drops two references, so the
 * exporter is deallocated while the export is live. The view is leaked and
 * never touched again. */
static PyObject *
testext_free_exporter_while_exported(PyObject *module, PyObject *args)
{
    Py_ssize_t size = 16;
    PyObject *exporter, *sizeobj;
    Py_buffer *view;

    if (!PyArg_ParseTuple(args, "|n", &size))
        return NULL;
    sizeobj = PyLong_FromSsize_t(size);
    if (sizeobj == NULL)
        return NULL;
    exporter = PyObject_CallOneArg((PyObject *)&ExporterType, sizeobj);
    Py_DECREF(sizeobj);
    if (exporter == NULL)
        return NULL;
    view = malloc(sizeof(*view));
    if (view == NULL) {
        Py_DECREF(exporter);
        return PyErr_NoMemory();
    }
    if (PyObject_GetBuffer(exporter, view, PyBUF_SIMPLE) < 0) {
        free(view);
        Py_DECREF(exporter);
        return NULL;
    }
    Py_DECREF(exporter);
    Py_DECREF(exporter);  /* BUG: this is the reference view->obj owns */
    Py_RETURN_NONE;
}

/* acquire_n(obj, n, flags=0) -> list of n handles from one C call site. */
static PyObject *
testext_acquire_many(PyObject *module, PyObject *args)
{
    PyObject *obj, *list, *call_args, *handle;
    Py_ssize_t n, i;
    int flags = PyBUF_SIMPLE;

    if (!PyArg_ParseTuple(args, "On|i", &obj, &n, &flags))
        return NULL;
    list = PyList_New(0);
    if (list == NULL)
        return NULL;
    call_args = Py_BuildValue("(Oi)", obj, flags);
    if (call_args == NULL) {
        Py_DECREF(list);
        return NULL;
    }
    for (i = 0; i < n; i++) {
        handle = testext_acquire_buffer(module, call_args, NULL);
        if (handle == NULL || PyList_Append(list, handle) < 0) {
            Py_XDECREF(handle);
            Py_DECREF(call_args);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(handle);
    }
    Py_DECREF(call_args);
    return list;
}

/* refcount(obj) -> Py_REFCNT(obj) as seen inside a C function. */
static PyObject *
testext_refcount(PyObject *module, PyObject *obj)
{
    return PyLong_FromSsize_t(Py_REFCNT(obj));
}

static PyMethodDef testext_methods[] = {
    {"acquire", (PyCFunction)(void (*)(void))testext_acquire_buffer,
     METH_VARARGS | METH_KEYWORDS,
     "acquire(obj, flags=0) -> BufferHandle owning a filled Py_buffer"},
    {"release", (PyCFunction)testext_release_buffer, METH_O,
     "release(handle): PyBuffer_Release the handle's view (once)"},
    {"leak", (PyCFunction)(void (*)(void))testext_leak_buffer,
     METH_VARARGS | METH_KEYWORDS,
     "leak(obj, flags=0) -> len; the export is never released (bug)"},
    {"acquire_release", (PyCFunction)(void (*)(void))testext_acquire_release,
     METH_VARARGS | METH_KEYWORDS,
     "acquire_release(obj, flags=0) -> len; correct get/release pair"},
    {"release_twice_via_copy",
     (PyCFunction)(void (*)(void))testext_release_twice_via_copy,
     METH_VARARGS | METH_KEYWORDS,
     "release_twice_via_copy(obj, flags=0) -> len; releases a copy after "
     "the original (bug); use with Exporter only"},
    {"release_copy", (PyCFunction)(void (*)(void))testext_release_copy,
     METH_VARARGS | METH_KEYWORDS,
     "release_copy(obj, flags=0) -> len; releases a copy of the view, once"},
    {"free_exporter_while_exported",
     (PyCFunction)testext_free_exporter_while_exported, METH_VARARGS,
     "free_exporter_while_exported(size=16): drops the reference view->obj "
     "owns (bug)"},
    {"acquire_n", (PyCFunction)testext_acquire_many, METH_VARARGS,
     "acquire_n(obj, n, flags=0) -> list of n BufferHandles"},
    {"refcount", (PyCFunction)testext_refcount, METH_O,
     "refcount(obj) -> reference count"},
    {NULL, NULL, 0, NULL}
};

static struct PyModuleDef testext_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_bufsan_testext",
    .m_doc = "Exporters and consumers for bufsan's end-to-end tests.",
    .m_size = -1,
    .m_methods = testext_methods,
};

static int
add_type(PyObject *module, PyTypeObject *type, const char *name)
{
    if (PyType_Ready(type) < 0)
        return -1;
    Py_INCREF(type);
    if (PyModule_AddObject(module, name, (PyObject *)type) < 0) {
        Py_DECREF(type);
        return -1;
    }
    return 0;
}

PyMODINIT_FUNC
PyInit__bufsan_testext(void)
{
    PyObject *m = PyModule_Create(&testext_module);
    if (!m)
        return NULL;
#ifdef Py_GIL_DISABLED
    /* free-threaded builds: no GIL re-enabled (and no warning) for a test module */
    PyUnstable_Module_SetGIL(m, Py_MOD_GIL_NOT_USED);
#endif
    if (add_type(m, &ExporterType, "Exporter") < 0
        || add_type(m, &SlotlessExporterType, "SlotlessExporter") < 0
        || add_type(m, &DecrefReleaserType, "DecrefReleaser") < 0
        || add_type(m, &HandleType, "BufferHandle") < 0
        || PyModule_AddIntConstant(m, "PyBUF_SIMPLE", PyBUF_SIMPLE) < 0
        || PyModule_AddIntConstant(m, "PyBUF_WRITABLE", PyBUF_WRITABLE) < 0
        || PyModule_AddIntConstant(m, "PyBUF_FORMAT", PyBUF_FORMAT) < 0
        || PyModule_AddIntConstant(m, "PyBUF_ND", PyBUF_ND) < 0
        || PyModule_AddIntConstant(m, "PyBUF_STRIDES", PyBUF_STRIDES) < 0
        || PyModule_AddIntConstant(m, "PyBUF_FULL_RO", PyBUF_FULL_RO) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
