/*
 * _bufsan_garbage: an exporter whose bf_getbuffer fills a correct view and
 * then spoils one field with garbage (a wild, unmapped, freed, vsyscall or
 * misaligned pointer, a huge ndim, a negative len, an unterminated or
 * overlong format), and a consumer that acquires and releases without
 * reading anything. Without bufsan nothing here faults: the consumer never
 * follows the view's pointers and CPython's PyObject_GetBuffer /
 * PyBuffer_Release do not either. Under bufsan every kind must give
 * findings, never a signal (the guarded-read rule).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define VSYSCALL ((uintptr_t)0xffffffffff600000ULL)

enum kind {
    K_OK, K_SHAPE_WILD, K_SHAPE_VSYSCALL, K_SHAPE_UNMAPPED, K_SHAPE_FREED, K_SHAPE_MISALIGNED,
    K_STRIDES_WILD, K_STRIDES_VSYSCALL, K_STRIDES_UNMAPPED, K_SUBOFFSETS_WILD, K_BUF_WILD,
    K_BUF_UNMAPPED, K_BUF_VSYSCALL, K_NDIM_HUGE, K_NDIM_NEGATIVE, K_LEN_NEGATIVE,
    K_ITEMSIZE_ZERO, K_FORMAT_WILD, K_FORMAT_VSYSCALL, K_FORMAT_UNTERMINATED, K_FORMAT_LONG,
    K_STALE_WILD, K_SHAPE_STALE, K_COUNT
};
static const char *const kind_names[K_COUNT] = {
    "ok", "shape_wild", "shape_vsyscall", "shape_unmapped", "shape_freed", "shape_misaligned",
    "strides_wild", "strides_vsyscall", "strides_unmapped", "suboffsets_wild", "buf_wild",
    "buf_unmapped", "buf_vsyscall", "ndim_huge", "ndim_negative", "len_negative",
    "itemsize_zero", "format_wild", "format_vsyscall", "format_unterminated", "format_long",
    "stale_wild", "shape_stale",
};

/* Memory set up once: an unreadable page, a freed malloc chunk, an
 * unterminated format that runs into an unmapped page, a 200-byte format
 * whose item size (200) disagrees with itemsize 1. */
static char *unmapped_page;
static Py_ssize_t *freed_chunk;
static char *unterminated_format;
static char long_format[201];
/* The shape array an exporter freed and still points to; reuse_stale()
 * does to it what an allocator handing the memory out again does. */
static Py_ssize_t stale_shape[8] = {0x7f00dead};

static int
setup_memory(void)
{
    long page = sysconf(_SC_PAGESIZE);
    char *two = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                     -1, 0);
    if (two == MAP_FAILED)
        return -1;
    /* 'B' up to the end of the first page, an unreadable page after it */
    memset(two, 'B', (size_t)page);
    mprotect(two + page, (size_t)page, PROT_NONE);
    unterminated_format = two + page - 300;
    /* mapped, written, then made unreadable: a hole left by munmap would be
     * reused by the interpreter's next arena */
    char *gone = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                      -1, 0);
    if (gone == MAP_FAILED)
        return -1;
    memset(gone, 0x41, (size_t)page);
    mprotect(gone, (size_t)page, PROT_NONE);
    unmapped_page = gone;
    freed_chunk = malloc(64 * sizeof(Py_ssize_t));
    free(freed_chunk);
    memset(long_format, 'B', 200);
    long_format[200] = '\0';
    return 0;
}

typedef struct {
    PyObject_HEAD
    enum kind kind;
    char data[64];
    Py_ssize_t shape[2], strides[2];
    char misaligned[3 * sizeof(Py_ssize_t)];
    Py_ssize_t exports;
} GarbageObject;

static PyObject *
garbage_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"kind", NULL};
    const char *name = "ok";
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|s", kwlist, &name))
        return NULL;
    int k = -1;
    for (int i = 0; i < K_COUNT; i++)
        if (!strcmp(name, kind_names[i]))
            k = i;
    if (k < 0) {
        PyErr_Format(PyExc_ValueError, "unknown kind %s", name);
        return NULL;
    }
    GarbageObject *self = (GarbageObject *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->kind = (enum kind)k;
    memset(self->data, 'x', sizeof self->data);
    return (PyObject *)self;
}

static int
garbage_getbuffer(GarbageObject *self, Py_buffer *view, int flags)
{
    /* a correct answer first: 64 bytes, honouring every request bit */
    view->obj = Py_NewRef(self);
    view->buf = self->data;
    view->len = 64;
    view->readonly = 0;
    view->itemsize = 1;
    view->format = (flags & PyBUF_FORMAT) == PyBUF_FORMAT ? "B" : NULL;
    view->ndim = 1;
    self->shape[0] = 64;
    self->strides[0] = 1;
    view->shape = (flags & PyBUF_ND) == PyBUF_ND ? self->shape : NULL;
    view->strides = (flags & PyBUF_STRIDES) == PyBUF_STRIDES ? self->strides : NULL;
    view->suboffsets = NULL;
    view->internal = NULL;
    /* then one field spoiled, whatever was requested */
    switch (self->kind) {
    case K_SHAPE_WILD: view->shape = (Py_ssize_t *)(uintptr_t)0x10; break;
    case K_SHAPE_VSYSCALL: view->shape = (Py_ssize_t *)VSYSCALL; break;
    case K_SHAPE_UNMAPPED: view->shape = (Py_ssize_t *)(void *)unmapped_page; break;
    case K_SHAPE_FREED: view->shape = freed_chunk; break;
    case K_SHAPE_MISALIGNED: {
        Py_ssize_t n = 63; /* readable, misaligned, and wrong */
        memcpy(self->misaligned + 1, &n, sizeof n);
        view->shape = (Py_ssize_t *)(void *)(self->misaligned + 1);
        break;
    }
    case K_STRIDES_WILD: view->strides = (Py_ssize_t *)(uintptr_t)0x10; break;
    case K_STRIDES_VSYSCALL: view->strides = (Py_ssize_t *)VSYSCALL; break;
    case K_STRIDES_UNMAPPED: view->strides = (Py_ssize_t *)(void *)unmapped_page; break;
    case K_SUBOFFSETS_WILD: view->suboffsets = (Py_ssize_t *)(uintptr_t)0x18; break;
    case K_BUF_WILD: view->buf = (void *)(uintptr_t)0x10; break;
    case K_BUF_UNMAPPED: view->buf = unmapped_page; break;
    case K_BUF_VSYSCALL: view->buf = (void *)VSYSCALL; break;
    case K_NDIM_HUGE: view->ndim = 1000; break;
    case K_NDIM_NEGATIVE: view->ndim = -3; break;
    case K_LEN_NEGATIVE: view->len = -64; break;
    case K_ITEMSIZE_ZERO: view->itemsize = 0; break;
    case K_FORMAT_WILD: view->format = (char *)(uintptr_t)0x18; break;
    case K_FORMAT_VSYSCALL: view->format = (char *)VSYSCALL; break;
    case K_FORMAT_UNTERMINATED: view->format = unterminated_format; break;
    case K_FORMAT_LONG: view->format = long_format; break;
    case K_STALE_WILD:
        /* shape and strides filled whatever the request, shape wild */
        view->shape = (Py_ssize_t *)(uintptr_t)0x10;
        view->strides = self->strides;
        break;
    case K_SHAPE_STALE: view->shape = stale_shape; break;
    default: break;
    }
    self->exports++;
    return 0;
}

static void
garbage_releasebuffer(GarbageObject *self, Py_buffer *view)
{
    (void)view;
    self->exports--;
}

static PyBufferProcs garbage_as_buffer = {
    (getbufferproc)garbage_getbuffer,
    (releasebufferproc)garbage_releasebuffer,
};

static PyTypeObject Garbage_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "_bufsan_garbage.Garbage",
    .tp_basicsize = sizeof(GarbageObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = garbage_new,
    .tp_as_buffer = &garbage_as_buffer,
    .tp_doc = "Garbage(kind='ok'): 64 bytes, one view field spoiled the way KIND says",
};

/* consume(obj, flags): acquire with FLAGS and release at once, reading
 * nothing through the view; returns len. */
static PyObject *
garbage_consume(PyObject *mod, PyObject *args)
{
    (void)mod;
    PyObject *obj;
    int flags;
    Py_buffer view;
    if (!PyArg_ParseTuple(args, "Oi", &obj, &flags))
        return NULL;
    memset(&view, 0, sizeof view);
    if (PyObject_GetBuffer(obj, &view, flags) != 0)
        return NULL;
    Py_ssize_t len = view.len;
    PyBuffer_Release(&view);
    return PyLong_FromSsize_t(len);
}

/* consume_reusing(obj, flags): the same, and while the view is held the
 * memory a stale shape points to is handed out again and rewritten (by
 * someone else: the consumer touches nothing of the view). */
static PyObject *
garbage_consume_reusing(PyObject *mod, PyObject *args)
{
    (void)mod;
    PyObject *obj;
    int flags;
    Py_buffer view;
    if (!PyArg_ParseTuple(args, "Oi", &obj, &flags))
        return NULL;
    memset(&view, 0, sizeof view);
    if (PyObject_GetBuffer(obj, &view, flags) != 0)
        return NULL;
    for (int i = 0; i < 8; i++)
        stale_shape[i] = 0x5a5a5a5a + i;
    Py_ssize_t len = view.len;
    PyBuffer_Release(&view);
    return PyLong_FromSsize_t(len);
}

static PyObject *
garbage_kinds(PyObject *mod, PyObject *unused)
{
    (void)mod;
    (void)unused;
    PyObject *t = PyTuple_New(K_COUNT);
    if (!t)
        return NULL;
    for (int i = 0; i < K_COUNT; i++)
        PyTuple_SET_ITEM(t, i, PyUnicode_FromString(kind_names[i]));
    return t;
}

static PyMethodDef garbage_methods[] = {
    {"consume", garbage_consume, METH_VARARGS, "consume(obj, flags) -> len"},
    {"consume_reusing", garbage_consume_reusing, METH_VARARGS,
     "consume_reusing(obj, flags) -> len (stale shape memory rewritten while held)"},
    {"kinds", garbage_kinds, METH_NOARGS, "kinds() -> the names of the garbage kinds"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef garbage_module = {
    PyModuleDef_HEAD_INIT, "_bufsan_garbage",
    "an exporter returning garbage views, for bufsan's guarded-read tests", -1, garbage_methods,
};

PyMODINIT_FUNC
PyInit__bufsan_garbage(void)
{
    if (setup_memory() < 0) {
        PyErr_SetString(PyExc_OSError, "mmap failed");
        return NULL;
    }
    if (PyType_Ready(&Garbage_Type) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&garbage_module);
    if (m == NULL)
        return NULL;
#ifdef Py_GIL_DISABLED
    /* free-threaded builds: no GIL re-enabled (and no warning) for a test module */
    PyUnstable_Module_SetGIL(m, Py_MOD_GIL_NOT_USED);
#endif
    Py_INCREF(&Garbage_Type);
    if (PyModule_AddObject(m, "Garbage", (PyObject *)&Garbage_Type) < 0) {
        Py_DECREF(&Garbage_Type);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
