/* The "bufsan.*" audit events through which Python programs talk to the
 * core (see the comment at the top of its implementation). */
#ifndef BUFSAN_BOOTSTRAP_PYAPI_H
#define BUFSAN_BOOTSTRAP_PYAPI_H

#include <Python.h>

/* Answers EVENT (a name starting with "bufsan.") raised with ARGS. Returns
 * 0, or -1 with a Python exception set. Call with the GIL held. */
int pyapi_audit(const char *event, PyObject *args);

#endif
