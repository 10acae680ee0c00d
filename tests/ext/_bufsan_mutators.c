/*
 * _bufsan_mutators: exporters and consumers for the mutation and WRITABLE
 * checks' end-to-end tests (mutated-while-shared, readonly-mutated,
 * moved-while-exported, writable-while-shared, inconsistent-writable,
 * writable-request-ignored), each buggy pattern beside its correct twin.
 *
 * Mutant(size, mode) is an exporter with a release slot whose bf_getbuffer
 * misbehaves as MODE says:
 *   "stable"             correct, writable
 *   "readonly"           correct, read-only (PyBUF_WRITABLE fails)
 *   "move"               moves its memory when exported again while exported
 *   "flip"               alternates readonly=0/1 answers to plain requests
 *   "ro_grants_writable" readonly=1 to plain requests, grants PyBUF_WRITABLE
 *   "ignores_writable"   readonly=1 even to PyBUF_WRITABLE requests
 * The bugs do not crash: moved-away memory stays allocated until dealloc.
 * Every consumer does its whole pattern in one C call, so every stack of a
 * finding starts at the calling Python line.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <string.h>
#include <time.h>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

enum { M_STABLE, M_READONLY, M_MOVE, M_FLIP, M_RO_GRANTS_W, M_IGNORES_W };
static const char *const mode_names[] = {"stable", "readonly", "move", "flip",
                                         "ro_grants_writable", "ignores_writable", NULL};

#define MAX_OLD 16

typedef struct {
    PyObject_HEAD
    char *data;
    Py_ssize_t size;
    Py_ssize_t itemsize;
    int mode;
    Py_ssize_t exports, gets;
    char *old[MAX_OLD]; /* moved-away memory, freed at dealloc */
    int nold;
} MutantObject;

static PyObject *
mutant_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"size", "mode", NULL};
    Py_ssize_t size;
    const char *mode = "stable";
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "n|s", kwlist, &size, &mode))
        return NULL;
    int m = 0;
    while (mode_names[m] && strcmp(mode_names[m], mode))
        m++;
    if (!mode_names[m] || size < 1) {
        PyErr_Format(PyExc_ValueError, "bad size %zd or mode '%s'", size, mode);
        return NULL;
    }
    MutantObject *self = (MutantObject *)type->tp_alloc(type, 0);
    if (!self)
        return NULL;
    self->data = PyMem_Malloc((size_t)size);
    if (!self->data) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < size; i++)
        self->data[i] = (char)('a' + i % 26);
    self->size = size;
    self->itemsize = 1;
    self->mode = m;
    return (PyObject *)self;
}

static void
mutant_dealloc(MutantObject *self)
{
    PyMem_Free(self->data);
    for (int i = 0; i < self->nold; i++)
        PyMem_Free(self->old[i]);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int
mutant_getbuffer(MutantObject *self, Py_buffer *view, int flags)
{
    int ro = 0;
    int wants_writable = (flags & PyBUF_WRITABLE) != 0;
    switch (self->mode) {
    case M_READONLY:
        if (wants_writable) {
            PyErr_SetString(PyExc_BufferError, "Mutant is read-only");
            view->obj = NULL;
            return -1;
        }
        ro = 1;
        break;
    case M_MOVE:
        if (self->exports > 0 && self->nold < MAX_OLD) {
            /* BUG: the memory live exports point at moves */
            char *moved = PyMem_Malloc((size_t)self->size);
            if (!moved) {
                PyErr_NoMemory();
                view->obj = NULL;
                return -1;
            }
            memcpy(moved, self->data, (size_t)self->size);
            self->old[self->nold++] = self->data;
            self->data = moved;
        }
        break;
    case M_FLIP:
        /* BUG: the answer to plain requests changes with every request */
        ro = wants_writable ? 0 : (int)(self->gets % 2);
        break;
    case M_RO_GRANTS_W:
        ro = !wants_writable;
        break;
    case M_IGNORES_W:
        ro = 1; /* BUG: should fail PyBUF_WRITABLE requests */
        break;
    default:
        break;
    }
    view->obj = Py_NewRef((PyObject *)self);
    view->buf = self->data;
    view->len = self->size;
    view->readonly = ro;
    view->itemsize = 1;
    view->format = (flags & PyBUF_FORMAT) ? "B" : NULL;
    view->ndim = 1;
    view->shape = (flags & PyBUF_ND) ? &self->size : NULL;
    view->strides = (flags & PyBUF_STRIDES) == PyBUF_STRIDES ? &self->itemsize : NULL;
    view->suboffsets = NULL;
    view->internal = NULL;
    self->exports++;
    self->gets++;
    return 0;
}

static void
mutant_releasebuffer(MutantObject *self, Py_buffer *view)
{
    (void)view;
    self->exports--;
}

static PyBufferProcs mutant_as_buffer = {
    (getbufferproc)mutant_getbuffer,
    (releasebufferproc)mutant_releasebuffer,
};

static PyObject *
mutant_get_exports(MutantObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromSsize_t(self->exports);
}

static PyGetSetDef mutant_getset[] = {
    {"exports", (getter)mutant_get_exports, NULL, "live exports", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject MutantType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "_bufsan_mutators.Mutant",
    .tp_basicsize = sizeof(MutantObject),
    .tp_dealloc = (destructor)mutant_dealloc,
    .tp_as_buffer = &mutant_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "exporter misbehaving as its mode says",
    .tp_getset = mutant_getset,
    .tp_new = mutant_new,
};

/* Store(size): an exporter without a release slot, like many hand-written
 * C types: it counts no exports, so nothing stops it from moving or
 * protecting its memory while someone holds it. resize(n) moves the memory
 * (the old block stays allocated until dealloc: the bug does not crash);
 * `readonly` is the answer its next exports give. */
typedef struct {
    PyObject_HEAD
    char *data;
    Py_ssize_t size;
    Py_ssize_t itemsize;
    int readonly;
    char *old[MAX_OLD];
    int nold;
} StoreObject;

static PyObject *
store_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"size", NULL};
    Py_ssize_t size;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "n", kwlist, &size))
        return NULL;
    if (size < 1) {
        PyErr_Format(PyExc_ValueError, "bad size %zd", size);
        return NULL;
    }
    StoreObject *self = (StoreObject *)type->tp_alloc(type, 0);
    if (!self)
        return NULL;
    self->data = PyMem_Calloc((size_t)size, 1);
    if (!self->data) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    self->size = size;
    self->itemsize = 1;
    return (PyObject *)self;
}

static void
store_dealloc(StoreObject *self)
{
    PyMem_Free(self->data);
    for (int i = 0; i < self->nold; i++)
        PyMem_Free(self->old[i]);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int
store_getbuffer(StoreObject *self, Py_buffer *view, int flags)
{
    return PyBuffer_FillInfo(view, (PyObject *)self, self->data, self->size, self->readonly, flags);
}

static PyObject *
store_resize(StoreObject *self, PyObject *arg)
{
    Py_ssize_t n = PyLong_AsSsize_t(arg);
    if (n < 1 || self->nold == MAX_OLD) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "bad size or too many moves");
        return NULL;
    }
    char *moved = PyMem_Calloc((size_t)n, 1);
    if (!moved)
        return PyErr_NoMemory();
    memcpy(moved, self->data, (size_t)(n < self->size ? n : self->size));
    self->old[self->nold++] = self->data;
    self->data = moved;
    self->size = n;
    Py_RETURN_NONE;
}

static PyMethodDef store_methods[] = {
    {"resize", (PyCFunction)store_resize, METH_O, "moves the memory to a block of the new size"},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef store_members[] = {
    {"readonly", T_INT, offsetof(StoreObject, readonly), 0, "what the next exports answer"},
    {NULL, 0, 0, 0, NULL},
};

static PyBufferProcs store_as_buffer = {(getbufferproc)store_getbuffer, NULL};

static PyTypeObject StoreType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "_bufsan_mutators.Store",
    .tp_basicsize = sizeof(StoreObject),
    .tp_dealloc = (destructor)store_dealloc,
    .tp_as_buffer = &store_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "an exporter without a release slot",
    .tp_methods = store_methods,
    .tp_members = store_members,
    .tp_new = store_new,
};

/* ------------------------------------------------------------------ */
/* Consumers: each acquires through PyObject_GetBuffer and releases through
 * PyBuffer_Release, so bufsan sees them at the call site too. */

static PyObject *
mut_acquire_twice(PyObject *mod, PyObject *obj)
{
    (void)mod;
    Py_buffer a, b;
    if (PyObject_GetBuffer(obj, &a, PyBUF_SIMPLE) < 0)
        return NULL;
    if (PyObject_GetBuffer(obj, &b, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&a);
        return NULL;
    }
    int same = a.buf == b.buf && a.readonly == b.readonly;
    PyBuffer_Release(&b);
    PyBuffer_Release(&a);
    return PyBool_FromLong(same);
}

static PyObject *
mut_acquire_one_by_one(PyObject *mod, PyObject *obj)
{
    (void)mod;
    Py_buffer a;
    for (int i = 0; i < 2; i++) {
        if (PyObject_GetBuffer(obj, &a, PyBUF_SIMPLE) < 0)
            return NULL;
        PyBuffer_Release(&a);
    }
    Py_RETURN_NONE;
}

/* Writes into memory granted read-only (e.g. a bytes object). */
static PyObject *
mut_write_readonly(PyObject *mod, PyObject *obj)
{
    (void)mod;
    Py_buffer v;
    if (PyObject_GetBuffer(obj, &v, PyBUF_SIMPLE) < 0)
        return NULL;
    if (v.len > 0)
        ((char *)v.buf)[0] ^= 0x20; /* BUG: readonly=1 */
    PyBuffer_Release(&v);
    Py_RETURN_NONE;
}

static PyObject *
mut_read_readonly(PyObject *mod, PyObject *obj)
{
    (void)mod;
    Py_buffer v;
    if (PyObject_GetBuffer(obj, &v, PyBUF_SIMPLE) < 0)
        return NULL;
    long sum = 0;
    for (Py_ssize_t i = 0; i < v.len; i++)
        sum += ((unsigned char *)v.buf)[i];
    PyBuffer_Release(&v);
    return PyLong_FromLong(sum);
}

/* The processor's vector-register state right after a reader's export
 * (XGETBV with ECX=1: which state components are in use; bit 2: the upper
 * halves of YMM0-15, bit 6: of ZMM0-15), or None where that cannot be read.
 * A hashing library may leave them dirty, which slows every legacy-SSE
 * instruction of the program after it. */
static PyObject *
mut_vector_state_after_export(PyObject *mod, PyObject *obj)
{
    (void)mod;
#if defined(__x86_64__)
    unsigned a, b, c, d;
    /* CPUID.(EAX=0DH,ECX=1):EAX[2]: XGETBV with ECX=1 is supported */
    if (!__get_cpuid_count(0xd, 1, &a, &b, &c, &d) || !(a & 4))
        Py_RETURN_NONE;
    Py_buffer v;
    if (PyObject_GetBuffer(obj, &v, PyBUF_SIMPLE) < 0)
        return NULL;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(1));
    PyBuffer_Release(&v);
    return PyLong_FromUnsignedLongLong(((unsigned long long)hi << 32) | lo);
#else
    (void)obj;
    Py_RETURN_NONE;
#endif
}

/* Holds a reader's export while writing through a writable one. */
static PyObject *
mut_share_and_write(PyObject *mod, PyObject *obj)
{
    (void)mod;
    Py_buffer reader, writer;
    if (PyObject_GetBuffer(obj, &reader, PyBUF_SIMPLE) < 0)
        return NULL;
    if (PyObject_GetBuffer(obj, &writer, PyBUF_WRITABLE) < 0) {
        PyBuffer_Release(&reader);
        return NULL;
    }
    if (writer.len > 0)
        ((char *)writer.buf)[writer.len - 1] ^= 0x20; /* BUG: a reader holds it */
    PyBuffer_Release(&writer);
    PyBuffer_Release(&reader);
    Py_RETURN_NONE;
}

static PyObject *
mut_share_then_write(PyObject *mod, PyObject *obj)
{
    (void)mod;
    Py_buffer reader, writer;
    if (PyObject_GetBuffer(obj, &reader, PyBUF_SIMPLE) < 0)
        return NULL;
    PyBuffer_Release(&reader);
    if (PyObject_GetBuffer(obj, &writer, PyBUF_WRITABLE) < 0)
        return NULL;
    if (writer.len > 0)
        ((char *)writer.buf)[writer.len - 1] ^= 0x20;
    PyBuffer_Release(&writer);
    Py_RETURN_NONE;
}

/* Holds a reader and a writer at once without writing. */
static PyObject *
mut_reader_and_writer(PyObject *mod, PyObject *obj)
{
    (void)mod;
    Py_buffer reader, writer;
    if (PyObject_GetBuffer(obj, &reader, PyBUF_SIMPLE) < 0)
        return NULL;
    if (PyObject_GetBuffer(obj, &writer, PyBUF_WRITABLE) < 0) {
        PyBuffer_Release(&reader);
        return NULL;
    }
    PyBuffer_Release(&writer);
    PyBuffer_Release(&reader);
    Py_RETURN_NONE;
}

/* A PyBUF_WRITABLE request; False when the exporter refused it. */
static PyObject *
mut_acquire_writable(PyObject *mod, PyObject *obj)
{
    (void)mod;
    Py_buffer v;
    if (PyObject_GetBuffer(obj, &v, PyBUF_WRITABLE) < 0) {
        if (!PyErr_ExceptionMatches(PyExc_BufferError))
            return NULL;
        PyErr_Clear();
        Py_RETURN_FALSE;
    }
    PyBuffer_Release(&v);
    Py_RETURN_TRUE;
}

/* A plain request, then a PyBUF_WRITABLE one. */
static PyObject *
mut_plain_then_writable(PyObject *mod, PyObject *obj)
{
    (void)mod;
    Py_buffer v;
    if (PyObject_GetBuffer(obj, &v, PyBUF_SIMPLE) < 0)
        return NULL;
    int ro = v.readonly;
    PyBuffer_Release(&v);
    if (PyObject_GetBuffer(obj, &v, PyBUF_WRITABLE) < 0) {
        if (!PyErr_ExceptionMatches(PyExc_BufferError))
            return NULL;
        PyErr_Clear();
        return PyLong_FromLong(ro);
    }
    PyBuffer_Release(&v);
    return PyLong_FromLong(ro);
}

/* Acquires a reader's export and keeps it in a capsule-free holder: the
 * returned object releases it when deallocated (or by release()). */
typedef struct {
    PyObject_HEAD
    Py_buffer view;
    int held;
} HolderObject;

static void
holder_dealloc(HolderObject *self)
{
    if (self->held)
        PyBuffer_Release(&self->view);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
holder_release(HolderObject *self, PyObject *unused)
{
    (void)unused;
    if (self->held) {
        self->held = 0;
        PyBuffer_Release(&self->view);
    }
    Py_RETURN_NONE;
}

/* The holder writes the memory it holds (granted readonly=0), as a cffi
 * from_buffer cdata is written through. */
static PyObject *
holder_poke(HolderObject *self, PyObject *unused)
{
    (void)unused;
    if (self->held && !self->view.readonly && self->view.len > 0)
        ((char *)self->view.buf)[0] ^= 0x02;
    Py_RETURN_NONE;
}

static PyMethodDef holder_methods[] = {
    {"release", (PyCFunction)holder_release, METH_NOARGS, "release the held export"},
    {"poke", (PyCFunction)holder_poke, METH_NOARGS, "write the first held byte"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject HolderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "_bufsan_mutators.Holder",
    .tp_basicsize = sizeof(HolderObject),
    .tp_dealloc = (destructor)holder_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "holds a reader's export (PyBUF_SIMPLE) of an object",
    .tp_methods = holder_methods,
};

static PyObject *
hold_with(PyObject *obj, int flags)
{
    HolderObject *h = PyObject_New(HolderObject, &HolderType);
    if (!h)
        return NULL;
    h->held = 0;
    if (PyObject_GetBuffer(obj, &h->view, flags) < 0) {
        Py_DECREF(h);
        return NULL;
    }
    h->held = 1;
    return (PyObject *)h;
}

static PyObject *
mut_hold(PyObject *mod, PyObject *obj)
{
    (void)mod;
    return hold_with(obj, PyBUF_SIMPLE);
}

/* hold_copy(obj): a Holder of a copy of a PyBUF_SIMPLE view filled on the
 * stack (as bitarray(buffer=obj) does): the copy is what it releases. */
static PyObject *
mut_hold_copy(PyObject *mod, PyObject *obj)
{
    (void)mod;
    Py_buffer local;
    if (PyObject_GetBuffer(obj, &local, PyBUF_SIMPLE) < 0)
        return NULL;
    HolderObject *h = PyObject_New(HolderObject, &HolderType);
    if (!h) {
        PyBuffer_Release(&local);
        return NULL;
    }
    memcpy(&h->view, &local, sizeof local);
    h->held = 1;
    return (PyObject *)h;
}

/* hold_flags(obj, flags): a Holder of an export with these request flags. */
static PyObject *
mut_hold_flags(PyObject *mod, PyObject *args)
{
    (void)mod;
    PyObject *obj;
    int flags;
    if (!PyArg_ParseTuple(args, "Oi", &obj, &flags))
        return NULL;
    return hold_with(obj, flags);
}

/* A writer: PyBUF_WRITABLE, flips the last byte, releases. */
static PyObject *
mut_write_through(PyObject *mod, PyObject *obj)
{
    (void)mod;
    Py_buffer v;
    if (PyObject_GetBuffer(obj, &v, PyBUF_WRITABLE) < 0)
        return NULL;
    if (v.len > 0)
        ((char *)v.buf)[v.len - 1] ^= 0x20;
    PyBuffer_Release(&v);
    Py_RETURN_NONE;
}

/* A consumer that asks without PyBUF_WRITABLE and, granted readonly=0,
 * writes its own hold (the protocol allows it). */
static PyObject *
mut_write_own(PyObject *mod, PyObject *obj)
{
    (void)mod;
    Py_buffer v;
    if (PyObject_GetBuffer(obj, &v, PyBUF_SIMPLE) < 0)
        return NULL;
    if (!v.readonly && v.len > 0)
        ((char *)v.buf)[0] ^= 0x01;
    PyBuffer_Release(&v);
    Py_RETURN_NONE;
}

/* hold_and_call(obj, fn): holds a reader's export of obj while fn(obj)
 * runs (a callback into Python that may write obj: the holder's own call). */
static PyObject *
mut_hold_and_call(PyObject *mod, PyObject *args)
{
    (void)mod;
    PyObject *obj, *fn;
    if (!PyArg_ParseTuple(args, "OO", &obj, &fn))
        return NULL;
    Py_buffer v;
    if (PyObject_GetBuffer(obj, &v, PyBUF_SIMPLE) < 0)
        return NULL;
    PyObject *r = PyObject_CallOneArg(fn, obj);
    PyBuffer_Release(&v);
    return r;
}

/* read_nogil(obj, ms): holds a reader's export of obj and reads it with
 * the GIL released for MS milliseconds (other threads run meanwhile). */
static PyObject *
mut_read_nogil(PyObject *mod, PyObject *args)
{
    (void)mod;
    PyObject *obj;
    int ms;
    if (!PyArg_ParseTuple(args, "Oi", &obj, &ms))
        return NULL;
    Py_buffer v;
    if (PyObject_GetBuffer(obj, &v, PyBUF_SIMPLE) < 0)
        return NULL;
    unsigned long sum = 0;
    Py_BEGIN_ALLOW_THREADS
    for (int i = 0; i < ms; i++) {
        for (Py_ssize_t k = 0; k < v.len; k++)
            sum += ((volatile unsigned char *)v.buf)[k];
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&v);
    return PyLong_FromUnsignedLong(sum);
}

/* View(obj): a view object (like bitarray(buffer=obj)): its constructor
 * takes a reader's export of obj and keeps it; it re-exports that memory
 * and writes it (poke). A mutable view: its owner's changes are expected. */
typedef struct {
    PyObject_HEAD
    Py_buffer view;
} ViewObject;

static PyObject *
view_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    PyObject *obj;
    if (kwds || !PyArg_ParseTuple(args, "O", &obj))
        return NULL;
    ViewObject *v = (ViewObject *)type->tp_alloc(type, 0);
    if (!v)
        return NULL;
    if (PyObject_GetBuffer(obj, &v->view, PyBUF_SIMPLE) < 0) {
        v->view.obj = NULL;
        Py_DECREF(v);
        return NULL;
    }
    return (PyObject *)v;
}

static void
view_dealloc(ViewObject *v)
{
    if (v->view.obj)
        PyBuffer_Release(&v->view);
    Py_TYPE(v)->tp_free((PyObject *)v);
}

static int
view_getbuffer(ViewObject *v, Py_buffer *out, int flags)
{
    return PyBuffer_FillInfo(out, (PyObject *)v, v->view.buf, v->view.len, v->view.readonly, flags);
}

static PyObject *
view_poke(ViewObject *v, PyObject *unused)
{
    (void)unused;
    if (!v->view.readonly && v->view.len > 0)
        ((char *)v->view.buf)[0] ^= 0x40;
    Py_RETURN_NONE;
}

static PyMethodDef view_methods[] = {
    {"poke", (PyCFunction)view_poke, METH_NOARGS, "writes the first byte of the memory"},
    {NULL, NULL, 0, NULL},
};

static PyBufferProcs view_as_buffer = {(getbufferproc)view_getbuffer, NULL};

static PyTypeObject ViewType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "_bufsan_mutators.View",
    .tp_basicsize = sizeof(ViewObject),
    .tp_dealloc = (destructor)view_dealloc,
    .tp_as_buffer = &view_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "a view object over another object's memory",
    .tp_methods = view_methods,
    .tp_new = view_new,
};

static PyMethodDef mut_methods[] = {
    {"write_through", mut_write_through, METH_O, "writes through a PyBUF_WRITABLE export"},
    {"write_own", mut_write_own, METH_O, "writes its own readonly=0 hold"},
    {"hold_and_call", mut_hold_and_call, METH_VARARGS, "hold_and_call(obj, fn): fn(obj) while held"},
    {"read_nogil", mut_read_nogil, METH_VARARGS, "read_nogil(obj, ms): reads without the GIL"},
    {"acquire_twice", mut_acquire_twice, METH_O, "two plain exports held together"},
    {"acquire_one_by_one", mut_acquire_one_by_one, METH_O, "two plain exports in turn"},
    {"write_readonly", mut_write_readonly, METH_O, "writes into a read-only export (bug)"},
    {"read_readonly", mut_read_readonly, METH_O, "sums the bytes of an export"},
    {"vector_state_after_export", mut_vector_state_after_export, METH_O,
     "XGETBV(1) right after a reader's export, or None"},
    {"share_and_write", mut_share_and_write, METH_O, "writes while a reader holds it (bug)"},
    {"share_then_write", mut_share_then_write, METH_O, "reads, releases, then writes"},
    {"reader_and_writer", mut_reader_and_writer, METH_O, "a reader and a writer at once"},
    {"acquire_writable", mut_acquire_writable, METH_O, "a PyBUF_WRITABLE request"},
    {"plain_then_writable", mut_plain_then_writable, METH_O, "plain, then writable request"},
    {"hold", mut_hold, METH_O, "a Holder keeping a reader's export"},
    {"hold_copy", mut_hold_copy, METH_O, "a Holder of a copy of a stack view"},
    {"hold_flags", mut_hold_flags, METH_VARARGS, "hold_flags(obj, flags): a Holder of that request"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef mut_module = {
    PyModuleDef_HEAD_INIT, "_bufsan_mutators",
    "exporters and consumers for bufsan's mutation and WRITABLE tests", -1, mut_methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__bufsan_mutators(void)
{
    if (PyType_Ready(&MutantType) < 0 || PyType_Ready(&HolderType) < 0 ||
        PyType_Ready(&ViewType) < 0 || PyType_Ready(&StoreType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&mut_module);
    if (!m)
        return NULL;
#ifdef Py_GIL_DISABLED
    /* free-threaded builds: no GIL re-enabled (and no warning) for a test module */
    PyUnstable_Module_SetGIL(m, Py_MOD_GIL_NOT_USED);
#endif
    if (PyModule_AddObjectRef(m, "Mutant", (PyObject *)&MutantType) < 0 ||
        PyModule_AddObjectRef(m, "View", (PyObject *)&ViewType) < 0 ||
        PyModule_AddObjectRef(m, "Store", (PyObject *)&StoreType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
