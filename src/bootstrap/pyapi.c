/* The core's interface to Python programs (the bufsan package, its pytest
 * plugin): audit events named "bufsan.*", raised with sys.audit() and
 * answered by the core's audit hook. A program without bufsan raises them
 * into the void, so the package needs no compiled module and works with
 * any core. The events:
 *   bufsan.query (dict)        fills in "active", "pid", "errors",
 *                              "log_format", "log_path", "fold_frames"
 *   bufsan.findings (start, list)  appends (json, test, repeat) for each
 *                              finding reported since occurrence START
 *   bufsan.context (str|None)  the test running now: findings name it;
 *                              recorded in the trace (a test record)
 *   bufsan.expect (list of check names)  findings of these checks are
 *                              expected (suppressed, still listed) until
 *                              the next bufsan.expect
 *   bufsan.live (list)         appends a key for each live export (a mark)
 *   bufsan.checkpoint (mark, list)  reports leaked-export for the live
 *                              exports whose key is not in MARK (acquired
 *                              since it), appends how many there were
 * Runs with the GIL held, from Python code; never holds the engine lock
 * while it calls Python (an allocation may collect garbage, whose
 * deallocations are engine events). */
#define _GNU_SOURCE
#include <Python.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../report/report.h"
#include "../stacks/depot.h"
#include "../trace/writer.h"
#include "../core/state.h"
#include "pyapi.h"

typedef struct {
    uint64_t view, obj;
    uint32_t stack, type_name, thread;
    int32_t flags;
    int64_t len;
    int readonly;
} live_export;

typedef struct {
    live_export *items;
    size_t n, cap;
} live_list;

static void collect_live(const bs_event *ev, void *ctx)
{
    live_list *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        live_export *n = realloc(l->items, cap * sizeof *n);
        if (!n)
            return;
        l->items = n;
        l->cap = cap;
    }
    l->items[l->n++] = (live_export){ev->view, ev->obj, ev->stack, ev->type_name, ev->thread,
                                     ev->flags, ev->v.len, ev->v.readonly};
}

static live_list snapshot_live(void)
{
    live_list l = {0};
    bs_engine *e = bs_core_state.engine;
    engine_lock(e);
    engine_for_each_live_export(e, collect_live, &l);
    engine_unlock(e);
    return l;
}

/* An export's identity for marks: a new export at a reused Py_buffer
 * address still differs unless it also has the same object and stack. */
static PyObject *live_key(const live_export *x)
{
    uint64_t k = x->view * 0x9e3779b97f4a7c15ULL ^ x->obj ^ ((uint64_t)x->stack << 40);
    return PyLong_FromUnsignedLongLong(k);
}

static int query(PyObject *out)
{
    if (!PyDict_Check(out))
        return 0;
    const bs_options *o = &bs_core_state.opts;
    PyObject *v;
    int rc = 0;
    rc |= PyDict_SetItemString(out, "active", bs_core_state.active ? Py_True : Py_False);
    rc |= (v = PyLong_FromLong((long)getpid())) ? PyDict_SetItemString(out, "pid", v) : -1;
    Py_XDECREF(v);
    rc |= (v = PyLong_FromUnsignedLongLong(report_error_count()))
              ? PyDict_SetItemString(out, "errors", v) : -1;
    Py_XDECREF(v);
    static const char *const formats[] = {"text", "json", "sarif"};
    rc |= (v = PyUnicode_FromString(formats[o->log_format % 3]))
              ? PyDict_SetItemString(out, "log_format", v) : -1;
    Py_XDECREF(v);
    rc |= (v = PyUnicode_DecodeFSDefault(o->log_path ? o->log_path : ""))
              ? PyDict_SetItemString(out, "log_path", v) : -1;
    Py_XDECREF(v);
    rc |= PyDict_SetItemString(out, "fold_frames", o->fold_frames ? Py_True : Py_False);
    return rc ? -1 : 0;
}

static int append_occurrence(const char *json, const char *context, int repeat, void *ctx)
{
    PyObject *t = Py_BuildValue("(szi)", json, context, repeat);
    if (!t)
        return -1;
    int rc = PyList_Append((PyObject *)ctx, t);
    Py_DECREF(t);
    return rc;
}

typedef struct {
    const char *json, *context;
    int repeat;
} occ_copy;

typedef struct {
    occ_copy *items;
    size_t n, cap;
} occ_list;

static int copy_occurrence(const char *json, const char *context, int repeat, void *ctx)
{
    occ_list *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        occ_copy *n = realloc(l->items, cap * sizeof *n);
        if (!n)
            return -1;
        l->items = n;
        l->cap = cap;
    }
    l->items[l->n++] = (occ_copy){json ? strdup(json) : NULL, context ? strdup(context) : NULL,
                                  repeat};
    return 0;
}

static int findings(PyObject *start, PyObject *out)
{
    if (!PyList_Check(out))
        return 0;
    Py_ssize_t from = PyLong_AsSsize_t(start);
    if (from < 0)
        return PyErr_Occurred() ? -1 : 0;
    /* copied under the report lock, turned into Python objects without it */
    occ_list l = {0};
    report_for_each_occurrence((size_t)from, copy_occurrence, &l);
    int rc = 0;
    for (size_t i = 0; i < l.n; i++) {
        if (!rc && append_occurrence(l.items[i].json, l.items[i].context, l.items[i].repeat,
                                     out) < 0)
            rc = -1;
        free((char *)l.items[i].json);
        free((char *)l.items[i].context);
    }
    free(l.items);
    return rc;
}

static int live(PyObject *out)
{
    if (!PyList_Check(out))
        return 0;
    live_list l = snapshot_live();
    int rc = 0;
    for (size_t i = 0; i < l.n && !rc; i++) {
        PyObject *k = live_key(&l.items[i]);
        rc = k ? PyList_Append(out, k) : -1;
        Py_XDECREF(k);
    }
    free(l.items);
    return rc;
}

typedef struct {
    uint32_t stack, type_name, thread;
    int32_t flags;
    uint64_t obj, count;
    int64_t len, bytes;
    int readonly;
} leak_group;

/* Reports the live exports not in MARK as leaked-export, grouped by
 * acquiring stack, type and flags like the leak check at exit (so the same
 * leak found again at exit is a repeat of this report, not a new one). */
static int checkpoint(PyObject *mark, PyObject *out)
{
    if (!PyList_Check(out) || !(PyAnySet_Check(mark) || PyDict_Check(mark)))
        return 0;
    live_list l = snapshot_live();
    leak_group *g = calloc(l.n ? l.n : 1, sizeof *g);
    size_t ng = 0;
    uint64_t leaked = 0;
    int rc = g ? 0 : -1;
    for (size_t i = 0; i < l.n && !rc; i++) {
        const live_export *x = &l.items[i];
        PyObject *k = live_key(x);
        int known = k ? PySequence_Contains(mark, k) : -1;
        Py_XDECREF(k);
        if (known < 0) {
            rc = -1;
            break;
        }
        if (known || engine_held_by_module(x->stack))
            continue;
        leaked++;
        size_t j = 0;
        while (j < ng && !(g[j].stack == x->stack && g[j].type_name == x->type_name &&
                           g[j].flags == x->flags))
            j++;
        if (j == ng)
            g[ng++] = (leak_group){x->stack, x->type_name, x->thread, x->flags, x->obj, 0,
                                   x->len, 0, x->readonly};
        g[j].count++;
        g[j].bytes += x->len > 0 ? x->len : 0;
    }
    bs_engine *e = bs_core_state.engine;
    for (size_t i = 0; i < ng && !rc; i++) {
        bs_finding f = {.check = BS_CHECK_LEAKED_EXPORT};
        const char *type = engine_string(e, g[i].type_name);
        snprintf(f.message, sizeof f.message,
                 "%llu export%s of %s (%lld bytes) never released (still held at a checkpoint, "
                 "after garbage collection)",
                 (unsigned long long)g[i].count, g[i].count == 1 ? "" : "s", type,
                 (long long)g[i].bytes);
        f.severity = bs_core_state.opts.severity[BS_CHECK_LEAKED_EXPORT];
        f.has_exporter = 1;
        f.exporter_type = type;
        f.exporter_addr = g[i].obj;
        f.exporter_len = g[i].len;
        f.exporter_readonly = g[i].readonly;
        f.has_request = 1;
        f.flags = g[i].flags;
        f.count = g[i].count;
        f.bytes = g[i].bytes;
        char names[128], title[192];
        bs_flag_names(g[i].flags, names, sizeof names);
        snprintf(title, sizeof title, "acquired by thread T%u with %s at:", g[i].thread, names);
        f.nstacks = 1;
        f.stacks[0] = (bs_finding_stack){"acquire", title, g[i].thread, g[i].stack};
        if (f.severity != BS_SEV_OFF) {
            bs_tls_self.guard++;
            report_finding(&f, NULL);
            bs_tls_self.guard--;
        }
    }
    free(g);
    free(l.items);
    if (!rc) {
        PyObject *n = PyLong_FromUnsignedLongLong(leaked);
        rc = n ? PyList_Append(out, n) : -1;
        Py_XDECREF(n);
    }
    return rc;
}

static int expect(PyObject *names)
{
    PyObject *seq = PySequence_Fast(names, "bufsan.expect: a list of check names");
    if (!seq)
        return -1;
    uint64_t mask = 0;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
        Py_ssize_t len;
        const char *s = PyUnicode_AsUTF8AndSize(PySequence_Fast_GET_ITEM(seq, i), &len);
        int id = s ? bs_check_by_name(s, (unsigned long)len) : -1;
        if (id < 0 || id >= 64) {
            Py_DECREF(seq);
            if (s)
                PyErr_Format(PyExc_ValueError, "bufsan.expect: unknown check '%s'", s);
            return -1;
        }
        mask |= 1ULL << id;
    }
    Py_DECREF(seq);
    report_set_expected(mask);
    return 0;
}

int pyapi_audit(const char *event, PyObject *args)
{
    const char *name = event + 7; /* after "bufsan." */
    Py_ssize_t n = PyTuple_Check(args) ? PyTuple_GET_SIZE(args) : 0;
    PyObject *a0 = n > 0 ? PyTuple_GET_ITEM(args, 0) : NULL;
    PyObject *a1 = n > 1 ? PyTuple_GET_ITEM(args, 1) : NULL;
    if (!strcmp(name, "query") && a0)
        return query(a0);
    if (!bs_core_state.active)
        return 0;
    if (!strcmp(name, "findings") && a1)
        return findings(a0, a1);
    if (!strcmp(name, "context") && a0) {
        const char *s = a0 == Py_None ? "" : PyUnicode_AsUTF8(a0);
        if (!s)
            return -1;
        report_set_context(s);
        if (bs_core_state.engine)
            engine_set_context(bs_core_state.engine, s);
        trace_test(s);
        return 0;
    }
    if (!strcmp(name, "expect") && a0)
        return expect(a0);
    if (!strcmp(name, "live") && a0)
        return live(a0);
    if (!strcmp(name, "checkpoint") && a1)
        return checkpoint(a0, a1);
    return 0;
}
