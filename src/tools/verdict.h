/* The launcher's verdict over the run records of a process tree. */
#ifndef BUFSAN_TOOLS_VERDICT_H
#define BUFSAN_TOOLS_VERDICT_H

#include <stdio.h>

/* Prints the combined summary of the records in DIR to OUT; returns the
 * exit status: STATUS (the command's) when non-zero, else EXITCODE when any
 * process reported an error, else 0. */
int verdict_print(FILE *out, const char *dir, int status, int exitcode);

#endif
