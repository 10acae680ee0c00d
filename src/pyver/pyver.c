/* Addresses the interpreter does not export in every version, learned
 * from objects it makes (see pyver.h). */
#include "pyver.h"

#include <string.h>

pyver_types pyver;

int pyver_init(void)
{
    /* _PyManagedBuffer_Type is exported up to 3.12 only: every version's
     * memoryview points at its managed buffer, whose type it is. */
    PyObject *bytes = PyBytes_FromStringAndSize("", 0);
    PyObject *mv = bytes ? PyMemoryView_FromObject(bytes) : NULL;
    Py_XDECREF(bytes);
    if (!mv) {
        PyErr_Clear();
        return -1;
    }
    PyObject *mbuf = (PyObject *)((PyMemoryViewObject *)mv)->mbuf;
    PyTypeObject *t = mbuf ? Py_TYPE(mbuf) : NULL;
    if (t && t->tp_name && !strcmp(t->tp_name, "managedbuffer"))
        pyver.managed_buffer_type = t;
    Py_DECREF(mv);
    return pyver.managed_buffer_type ? 0 : -1;
}
