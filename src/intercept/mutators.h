/* The exporters' mutation entry points (see mutators.c). */
#ifndef BUFSAN_INTERCEPT_MUTATORS_H
#define BUFSAN_INTERCEPT_MUTATORS_H

#include <Python.h>

#include "trampoline.h"

typedef struct mut_plan mut_plan;

/* Stubs one type may need at most. */
size_t mutators_max_stubs(void);

/* Writes stubs for T's mutation slots into B (NULL: none to patch); the
 * slots are assigned by mutators_apply once B is sealed. */
mut_plan *mutators_plan(tramp_batch *b, PyTypeObject *t);
void mutators_apply(mut_plan *p);

#endif
