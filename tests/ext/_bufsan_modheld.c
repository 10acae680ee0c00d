/*
 * _bufsan_modheld: an extension module whose initialization acquires a
 * reader's export of a bytearray it creates and keeps it in module state
 * for the life of the process (as Cython does for a module-level typed
 * memoryview): still reachable at exit, a warning. leak(obj) acquires an
 * export and drops the view: a real leak, an error.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static Py_buffer module_view; /* held until the process ends, by design */

static PyObject *
modheld_leak(PyObject *mod, PyObject *obj)
{
    (void)mod;
    Py_buffer v;
    if (PyObject_GetBuffer(obj, &v, PyBUF_SIMPLE) < 0)
        return NULL;
    return PyLong_FromSsize_t(v.len); /* BUG: never released */
}

static PyMethodDef modheld_methods[] = {
    {"leak", modheld_leak, METH_O, "acquires an export and never releases it (bug)"},
    {NULL, NULL, 0, NULL},
};

static int
modheld_exec(PyObject *m)
{
    PyObject *table = PyByteArray_FromStringAndSize("lookup table", 12);
    if (!table)
        return -1;
    int rc = PyObject_GetBuffer(table, &module_view, PyBUF_SIMPLE);
    if (rc == 0)
        rc = PyModule_AddObject(m, "table", table);
    else
        Py_DECREF(table);
    return rc;
}

static PyModuleDef_Slot modheld_slots[] = {
    {Py_mod_exec, (void *)modheld_exec},
#ifdef Py_GIL_DISABLED
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL},
};

static struct PyModuleDef modheld_module = {
    PyModuleDef_HEAD_INIT, "_bufsan_modheld",
    "a module holding an export in its state for the life of the process", 0, modheld_methods,
    modheld_slots, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__bufsan_modheld(void)
{
    return PyModuleDef_Init(&modheld_module);
}
