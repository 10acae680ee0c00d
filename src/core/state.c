/* See state.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_getattr_np */
#endif
#include "state.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

bs_core bs_core_state;
bs_stats bs_stat;

__thread bs_tls bs_tls_self = {.tid = -1};
static int next_tid = 1;

/* Which bufsan thread number each OS thread got (newest last): at the
 * start of finalization the interpreter's thread states name threads by
 * pthread identity (frozen_threads_at_exit). Idents are reused after a
 * thread ends, so the newest entry for an ident is the live thread. */
typedef struct {
    unsigned long ident;
    int tid;
} thread_entry;
static thread_entry *thread_table;
static size_t nthreads, capthreads;
static pthread_mutex_t thread_table_lock = PTHREAD_MUTEX_INITIALIZER;

static void note_thread(int tid)
{
    pthread_mutex_lock(&thread_table_lock);
    if (nthreads == capthreads) {
        size_t cap = capthreads ? capthreads * 2 : 64;
        thread_entry *n = realloc(thread_table, cap * sizeof *n);
        if (n) {
            thread_table = n;
            capthreads = cap;
        }
    }
    if (nthreads < capthreads)
        thread_table[nthreads++] = (thread_entry){(unsigned long)pthread_self(), tid};
    pthread_mutex_unlock(&thread_table_lock);
}

int bs_on_own_stack(const void *p)
{
    bs_tls *t = bs_thread();
    if (__builtin_expect(!t->stack_hi, 0)) {
        pthread_attr_t a;
        void *lo;
        size_t size;
        if (pthread_getattr_np(pthread_self(), &a) == 0) {
            if (pthread_attr_getstack(&a, &lo, &size) == 0) {
                t->stack_lo = (uintptr_t)lo;
                t->stack_hi = (uintptr_t)lo + size;
            }
            pthread_attr_destroy(&a);
        }
        if (!t->stack_hi)
            t->stack_lo = t->stack_hi = 1; /* unknown: nothing is on it */
    }
    return (uintptr_t)p >= t->stack_lo && (uintptr_t)p < t->stack_hi;
}

void bs_thread_start(bs_tls *t)
{
    t->tid = __atomic_fetch_add(&next_tid, 1, __ATOMIC_RELAXED);
    note_thread(t->tid);
}

void bs_thread_main(void)
{
    bs_tls_self.tid = 0;
    note_thread(0);
}

int bs_thread_number_of(unsigned long ident)
{
    int tid = -1;
    pthread_mutex_lock(&thread_table_lock);
    for (size_t i = nthreads; i-- > 0;)
        if (thread_table[i].ident == ident) {
            tid = thread_table[i].tid;
            break;
        }
    pthread_mutex_unlock(&thread_table_lock);
    return tid;
}

void bs_log(const char *fmt, ...)
{
    if (!bs_core_state.opts.verbosity)
        return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "==%d==bufsan: %s\n", (int)getpid(), n >= 0 ? buf : fmt);
}
