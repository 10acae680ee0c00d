/* The exporters' mutation entry points: item and slice assignment
 * (mp_ass_subscript, sq_ass_item) and the in-place operators (nb_inplace_*,
 * sq_inplace_*) of every patched exporter type get stubs that bracket the
 * call with observations of the watched exports of the same memory
 * (BS_OBS_WRITE_BEFORE / AFTER): a change between the two was made by this
 * call, whose stack names the writer of mutated-while-shared. A memoryview's
 * assignments write its base's memory: the watched exports overlapping its
 * view are observed. Methods that write (bytearray.reverse, ndarray.fill)
 * are not entry points bufsan sees.
 * The wrappers run inside the interpreter's calls of those slots: they call
 * no Python code, leave no exception behind and cost one atomic load when
 * nothing is watched. */
#include "intercept.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../core/state.h"
#include "../stacks/capture.h"
#include "mutators.h"

typedef enum {
    MUT_NUMBER, /* in tp_as_number */
    MUT_SEQUENCE,
    MUT_MAPPING,
} mut_struct;

typedef enum {
    SIG_BINARY,   /* PyObject *(PyObject *, PyObject *) */
    SIG_TERNARY,  /* PyObject *(PyObject *, PyObject *, PyObject *) */
    SIG_ASSIGN,   /* int (PyObject *, PyObject *, PyObject *) */
    SIG_ASSIGN_I, /* int (PyObject *, Py_ssize_t, PyObject *) */
    SIG_REPEAT,   /* PyObject *(PyObject *, Py_ssize_t) */
} mut_sig;

typedef struct {
    mut_struct in;
    size_t offset;
    mut_sig sig;
} mut_slot;

#define NB(f, sig) {MUT_NUMBER, offsetof(PyNumberMethods, f), sig}
static const mut_slot mut_slots[] = {
    {MUT_MAPPING, offsetof(PyMappingMethods, mp_ass_subscript), SIG_ASSIGN},
    {MUT_SEQUENCE, offsetof(PySequenceMethods, sq_ass_item), SIG_ASSIGN_I},
    {MUT_SEQUENCE, offsetof(PySequenceMethods, sq_inplace_concat), SIG_BINARY},
    {MUT_SEQUENCE, offsetof(PySequenceMethods, sq_inplace_repeat), SIG_REPEAT},
    NB(nb_inplace_add, SIG_BINARY),
    NB(nb_inplace_subtract, SIG_BINARY),
    NB(nb_inplace_multiply, SIG_BINARY),
    NB(nb_inplace_remainder, SIG_BINARY),
    NB(nb_inplace_power, SIG_TERNARY),
    NB(nb_inplace_lshift, SIG_BINARY),
    NB(nb_inplace_rshift, SIG_BINARY),
    NB(nb_inplace_and, SIG_BINARY),
    NB(nb_inplace_xor, SIG_BINARY),
    NB(nb_inplace_or, SIG_BINARY),
    NB(nb_inplace_floor_divide, SIG_BINARY),
    NB(nb_inplace_true_divide, SIG_BINARY),
    NB(nb_inplace_matrix_multiply, SIG_BINARY),
};
#undef NB
#define N_MUT_SLOTS (sizeof mut_slots / sizeof mut_slots[0])

/* A stub's context: the slot it replaced. */
typedef struct {
    void *orig;
} mut_ctx;

/* ---- observing around a write ------------------------------------------ */

#define MAX_OBSERVED 16

typedef struct {
    bs_watch w[MAX_OBSERVED];
    size_t n;
    uint32_t thread, stack;
} write_obs;

/* The memory a memoryview's assignment writes: [lo, hi) of its view (the
 * strides' extent; garbage gives an empty range). */
static void memoryview_range(PyObject *o, uint64_t *lo, int64_t *len)
{
    const Py_buffer *v = PyMemoryView_GET_BUFFER(o);
    *lo = (uint64_t)(uintptr_t)v->buf;
    *len = v->len;
    if (!v->strides || !v->shape || v->ndim <= 0 || v->ndim > 64 || v->suboffsets)
        return;
    int64_t min = 0, max = v->itemsize;
    for (int i = 0; i < v->ndim; i++) {
        if (v->shape[i] <= 0) {
            *len = 0;
            return;
        }
        int64_t ext = (v->shape[i] - 1) * v->strides[i];
        if (ext < 0)
            min += ext;
        else
            max += ext;
    }
    *lo += (uint64_t)min;
    *len = max - min;
}

static void add_unique(write_obs *s, const bs_watch *w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < s->n && s->w[k].view != w[i].view)
            k++;
        if (k == s->n && s->n < MAX_OBSERVED)
            s->w[s->n++] = w[i];
    }
}

/* Before a mutation slot of O runs: observes the watched exports it may
 * write. Returns whether there are any (then call after_write). */
static int before_write(PyObject *o, write_obs *s)
{
    bs_tls *tls = bs_thread();
    if (!bs_core_state.active || bs_core_state.late || tls->guard || !o ||
        !engine_any_watched(bs_core_state.engine))
        return 0;
    s->n = 0;
    bs_watch w[MAX_OBSERVED];
    int mv = PyMemoryView_Check(o);
    /* most objects written to never exported: their filter says so, no lock */
    if (!mv && !engine_has_exporter(bs_core_state.engine, (uint64_t)(uintptr_t)o))
        return 0;
    size_t n = engine_watch_list(bs_core_state.engine, (uint64_t)(uintptr_t)o, 0, NULL, w,
                                 MAX_OBSERVED);
    add_unique(s, w, n < MAX_OBSERVED ? n : MAX_OBSERVED);
    if (mv) {
        uint64_t lo;
        int64_t len;
        memoryview_range(o, &lo, &len);
        n = engine_watch_overlap(bs_core_state.engine, lo, len, w, MAX_OBSERVED);
        add_unique(s, w, n < MAX_OBSERVED ? n : MAX_OBSERVED);
    }
    if (!s->n || !bs_gil_held(tls))
        return 0;
    tls->guard++;
    s->thread = (uint32_t)tls->tid;
    s->stack = capture_stack_at(BS_NATIVE_NONE, NULL, NULL, 0);
    bs_observe_list(s->w, s->n, BS_OBS_WRITE_BEFORE, 0, s->thread, s->stack);
    tls->guard--;
    return 1;
}

static void after_write(const write_obs *s)
{
    bs_tls *tls = bs_thread();
    tls->guard++;
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    bs_observe_list(s->w, s->n, BS_OBS_WRITE_AFTER, 0, s->thread, s->stack);
    PyErr_Restore(type, value, tb);
    tls->guard--;
}

/* ---- the wrappers, one per signature ----------------------------------- */

static PyObject *wrap_binary(PyObject *o, PyObject *a, mut_ctx *c)
{
    write_obs s;
    int w = before_write(o, &s);
    PyObject *r = ((binaryfunc)c->orig)(o, a);
    if (w)
        after_write(&s);
    return r;
}

static PyObject *wrap_ternary(PyObject *o, PyObject *a, PyObject *b, mut_ctx *c)
{
    write_obs s;
    int w = before_write(o, &s);
    PyObject *r = ((ternaryfunc)c->orig)(o, a, b);
    if (w)
        after_write(&s);
    return r;
}

static int wrap_assign(PyObject *o, PyObject *k, PyObject *v, mut_ctx *c)
{
    write_obs s;
    int w = before_write(o, &s);
    int r = ((objobjargproc)c->orig)(o, k, v);
    if (w)
        after_write(&s);
    return r;
}

static int wrap_assign_i(PyObject *o, Py_ssize_t i, PyObject *v, mut_ctx *c)
{
    write_obs s;
    int w = before_write(o, &s);
    int r = ((ssizeobjargproc)c->orig)(o, i, v);
    if (w)
        after_write(&s);
    return r;
}

static PyObject *wrap_repeat(PyObject *o, Py_ssize_t n, mut_ctx *c)
{
    write_obs s;
    int w = before_write(o, &s);
    PyObject *r = ((ssizeargfunc)c->orig)(o, n);
    if (w)
        after_write(&s);
    return r;
}

static const struct {
    int argpos;
    void *fn;
} sig_wrappers[] = {
    [SIG_BINARY] = {3, (void *)wrap_binary},
    [SIG_TERNARY] = {4, (void *)wrap_ternary},
    [SIG_ASSIGN] = {4, (void *)wrap_assign},
    [SIG_ASSIGN_I] = {4, (void *)wrap_assign_i},
    [SIG_REPEAT] = {3, (void *)wrap_repeat},
};

/* ---- patching ---------------------------------------------------------- */

struct mut_plan {
    PyTypeObject *type;
    void *stub[N_MUT_SLOTS];
};

static void *struct_of(PyTypeObject *t, mut_struct in)
{
    switch (in) {
    case MUT_NUMBER: return t->tp_as_number;
    case MUT_SEQUENCE: return t->tp_as_sequence;
    case MUT_MAPPING: return t->tp_as_mapping;
    }
    return NULL;
}

static void **slot_ptr(void *base, size_t offset)
{
    return (void **)(void *)((char *)base + offset);
}

size_t mutators_max_stubs(void)
{
    return N_MUT_SLOTS;
}

mut_plan *mutators_plan(tramp_batch *b, PyTypeObject *t)
{
    mut_plan *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->type = t;
    int any = 0;
    for (size_t i = 0; i < N_MUT_SLOTS; i++) {
        void *base = struct_of(t, mut_slots[i].in);
        void *fn = base ? *slot_ptr(base, mut_slots[i].offset) : NULL;
        if (!fn || tramp_is_ours(fn))
            continue;
        mut_ctx *c = malloc(sizeof *c);
        if (!c)
            continue;
        c->orig = fn;
        p->stub[i] = tramp_add(b, sig_wrappers[mut_slots[i].sig].argpos, c,
                               sig_wrappers[mut_slots[i].sig].fn);
        if (p->stub[i])
            any = 1;
        else
            free(c);
    }
    if (!any) {
        free(p);
        return NULL;
    }
    return p;
}

/* A static type's method structs may be const or shared with other types:
 * it gets a private copy; a heap type's are its own. */
static void *writable_struct(PyTypeObject *t, mut_struct in)
{
    void *base = struct_of(t, in);
    if (!base || (t->tp_flags & Py_TPFLAGS_HEAPTYPE))
        return base;
    size_t size = in == MUT_NUMBER     ? sizeof(PyNumberMethods)
                  : in == MUT_SEQUENCE ? sizeof(PySequenceMethods)
                                       : sizeof(PyMappingMethods);
    void *copy = malloc(size);
    if (!copy)
        return NULL;
    memcpy(copy, base, size);
    switch (in) {
    case MUT_NUMBER: t->tp_as_number = copy; break;
    case MUT_SEQUENCE: t->tp_as_sequence = copy; break;
    case MUT_MAPPING: t->tp_as_mapping = copy; break;
    }
    return copy;
}

void mutators_apply(mut_plan *p)
{
    if (!p)
        return;
    for (mut_struct in = MUT_NUMBER; in <= MUT_MAPPING; in++) {
        int needed = 0;
        for (size_t i = 0; i < N_MUT_SLOTS; i++)
            needed |= mut_slots[i].in == in && p->stub[i];
        void *base = needed ? writable_struct(p->type, in) : NULL;
        for (size_t i = 0; base && i < N_MUT_SLOTS; i++)
            if (mut_slots[i].in == in && p->stub[i])
                *slot_ptr(base, mut_slots[i].offset) = p->stub[i];
    }
    free(p);
}
