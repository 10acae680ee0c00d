/* libbufsan.so: the object users preload. It has no dependency on Python so
 * that every other program runs unaffected: in a process without Python it
 * only forwards. In a Python process its constructor finds the interpreter's
 * version through dlsym, loads the matching core from its own directory and
 * starts it (the core adds an audit hook before Py_Initialize).
 * It also owns what must be interposed by symbol: main's exit status
 * (__libc_start_main, exit, and kill of itself with a deadly default
 * signal), where the interpreter lets calls be
 * interposed PyObject_GetBuffer / PyBuffer_Release and an embedder's
 * Py_Initialize* and Py_Main (a second interpreter lifetime), and mmap /
 * munmap / mremap / mprotect (mapped.c: forwarded as the same system calls; in a
 * Python process the regions are recorded so that view arrays in the
 * interpreter's arenas can be read without a system call). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bufsan/loader_api.h"
#include "mapped.h"

int PyObject_GetBuffer(void *obj, void *view, int flags);
void PyBuffer_Release(void *view);

#define EXPORT __attribute__((visibility("default")))

static bufsan_loader_api api = {.api_version = BUFSAN_LOADER_API_VERSION};
static char libdir[PATH_MAX];
static int exit_status_done;

static void warn(const char *msg, const char *detail)
{
    char buf[PATH_MAX + 256];
    int n = snprintf(buf, sizeof buf, "==%d==WARNING: bufsan: %s%s; running without bufsan\n",
                     (int)getpid(), msg, detail ? detail : "");
    if (n > 0)
        (void)!write(2, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* The interpreter's "3.11" (+ "t" for a free-threaded build, "d" for a
 * debug ABI: sys.abiflags), or -1 if this process has no Python. */
static int python_tag(char *tag, size_t len)
{
    if (!dlsym(RTLD_DEFAULT, "PySys_AddAuditHook"))
        return -1;
    unsigned long hex = 0;
    const unsigned long *py_version = dlsym(RTLD_DEFAULT, "Py_Version");
    if (py_version) {
        hex = *py_version;
    } else {
        const char *(*get_version)(void) = (const char *(*)(void))dlsym(RTLD_DEFAULT, "Py_GetVersion");
        int major = 0, minor = 0;
        if (!get_version || sscanf(get_version(), "%d.%d", &major, &minor) != 2)
            return -1;
        hex = ((unsigned long)major << 24) | ((unsigned long)minor << 16);
    }
    int debug = dlsym(RTLD_DEFAULT, "_Py_RefTotal") != NULL;
    /* the free-threaded build (3.13t+): only its object header has a shared
     * reference count to merge */
    int free_threaded = dlsym(RTLD_DEFAULT, "_Py_MergeZeroLocalRefcount") != NULL;
    snprintf(tag, len, "%lu.%lu%s%s", (hex >> 24) & 0xff, (hex >> 16) & 0xff,
             free_threaded ? "t" : "", debug ? "d" : "");
    return 0;
}

__attribute__((constructor)) static void bufsan_loader_init(void)
{
    char tag[32];
    if (python_tag(tag, sizeof tag) < 0)
        return; /* not a Python process: stay inert */
    Dl_info self;
    if (!dladdr((void *)&bufsan_loader_init, &self) || !self.dli_fname)
        return;
    snprintf(libdir, sizeof libdir, "%s", self.dli_fname);
    char *slash = strrchr(libdir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(libdir, sizeof libdir, ".");
    char core[PATH_MAX + 64];
    snprintf(core, sizeof core, "%s/bufsan_core-%s.so", libdir, tag);
    if (access(core, R_OK) != 0) {
        warn("this Python is not supported by this build: no core at ", core);
        return;
    }
    void *h = dlopen(core, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        warn("cannot load the core: ", dlerror());
        return;
    }
    bufsan_core_start_fn start = (bufsan_core_start_fn)dlsym(h, BUFSAN_CORE_START_SYMBOL);
    if (!start) {
        warn("the core has no entry point: ", core);
        return;
    }
    api.libdir = libdir;
    api.loader_base = self.dli_fbase;
    api.next_get_buffer = dlsym(RTLD_NEXT, "PyObject_GetBuffer");
    api.next_release = dlsym(RTLD_NEXT, "PyBuffer_Release");
    api.mapped_contains = mapped_contains;
    mapped_start_recording();
    start(&api);
}

/* ---- interposed C-API entries ------------------------------------------
 * Seen only where the interpreter routes calls through the PLT: extension
 * modules, embedders, and a libpython built without
 * -fno-semantic-interposition. Debian's python3.11 binds them inside the
 * executable, which comes first in symbol lookup, so these stay unused there. */

typedef int (*get_buffer_fn)(void *, void *, int);
typedef void (*release_fn)(void *);

EXPORT int PyObject_GetBuffer(void *obj, void *view, int flags)
{
    if (api.get_buffer)
        return api.get_buffer(obj, view, flags);
    static get_buffer_fn real;
    if (!real)
        real = (get_buffer_fn)dlsym(RTLD_NEXT, "PyObject_GetBuffer");
    return real(obj, view, flags);
}

EXPORT void PyBuffer_Release(void *view)
{
    if (api.release) {
        api.release(view);
        return;
    }
    static release_fn real;
    if (!real)
        real = (release_fn)dlsym(RTLD_NEXT, "PyBuffer_Release");
    real(view);
}

/* ---- interpreter initialization ----------------------------------------
 * An embedder that calls Py_FinalizeEx and then Py_Initialize again starts
 * a second lifetime of the interpreter: the core reports the first one's
 * leaks and adds its audit hook again before the interpreter's own
 * initialization runs (PySys_AddAuditHook may be called before
 * Py_Initialize). Seen only where the embedder's calls reach the loader: a
 * shared libpython. An executable with the interpreter linked in (Debian's
 * python3.11) binds them inside itself; it initializes once. */

/* The definition of NAME that the loader's hides: the next one in lookup
 * order, else (a libpython that a plugin opened with RTLD_LOCAL is not in
 * the global scope, yet the plugin's calls bind to the loader) the first
 * loaded object other than the loader that defines it. */
typedef struct {
    const char *name;
    void *found;
} definition_query;

static int find_definition(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    definition_query *q = data;
    if (!info->dlpi_name || !*info->dlpi_name)
        return 0; /* the executable: RTLD_NEXT searched it */
    void *h = dlopen(info->dlpi_name, RTLD_LAZY | RTLD_NOLOAD);
    if (!h)
        return 0;
    void *sym = dlsym(h, q->name);
    Dl_info where, self;
    if (sym && dladdr(sym, &where) && dladdr((void *)&find_definition, &self) &&
        where.dli_fbase != self.dli_fbase)
        q->found = sym;
    dlclose(h);
    return q->found != NULL;
}

static void *next_definition(const char *name)
{
    void *sym = dlsym(RTLD_NEXT, name);
    if (sym)
        return sym;
    definition_query q = {name, NULL};
    dl_iterate_phdr(find_definition, &q);
    if (!q.found) {
        warn("cannot find the interpreter's ", name);
        abort();
    }
    return q.found;
}

static void before_initialize(void)
{
    if (api.before_initialize)
        api.before_initialize();
}

EXPORT void Py_Initialize(void)
{
    static void (*real)(void);
    before_initialize();
    if (!real)
        real = (void (*)(void))next_definition("Py_Initialize");
    real();
}

EXPORT void Py_InitializeEx(int initsigs)
{
    static void (*real)(int);
    before_initialize();
    if (!real)
        real = (void (*)(int))next_definition("Py_InitializeEx");
    real(initsigs);
}

/* PyStatus as the C-API defines it (3.8 and later): returned by value. */
typedef struct {
    int type;
    const char *func;
    const char *err_msg;
    int exitcode;
} py_status;

EXPORT py_status Py_InitializeFromConfig(const void *config)
{
    static py_status (*real)(const void *);
    before_initialize();
    if (!real)
        real = (py_status(*)(const void *))next_definition("Py_InitializeFromConfig");
    return real(config);
}

/* Py_Main and Py_BytesMain initialize inside libpython, where the loader
 * does not see it: the core acts on their entry. */
EXPORT int Py_Main(int argc, void **argv)
{
    static int (*real)(int, void **);
    before_initialize();
    if (!real)
        real = (int (*)(int, void **))next_definition("Py_Main");
    return real(argc, argv);
}

EXPORT int Py_BytesMain(int argc, char **argv)
{
    static int (*real)(int, char **);
    before_initialize();
    if (!real)
        real = (int (*)(int, char **))next_definition("Py_BytesMain");
    return real(argc, argv);
}

/* ---- exit status -------------------------------------------------------
 * The program's status is only known where main returns or exit() is
 * called: both are interposed so that the core can report what was still
 * held after finalization and turn a 0 into exitcode. */

static int final_status(int status)
{
    if (!api.exit_status || __atomic_exchange_n(&exit_status_done, 1, __ATOMIC_SEQ_CST))
        return status;
    return api.exit_status(status);
}

typedef int (*main_fn)(int, char **, char **);
static main_fn real_main;

static int main_wrapper(int argc, char **argv, char **envp)
{
    return final_status(real_main(argc, argv, envp));
}

typedef int (*libc_start_main_fn)(main_fn, int, char **, void (*)(void), void (*)(void),
                                  void (*)(void), void *);

EXPORT int __libc_start_main(main_fn main, int argc, char **argv, void (*init)(void),
                             void (*fini)(void), void (*rtld_fini)(void), void *stack_end)
{
    libc_start_main_fn next = (libc_start_main_fn)dlsym(RTLD_NEXT, "__libc_start_main");
    real_main = main;
    return next(main_wrapper, argc, argv, init, fini, rtld_fini, stack_end);
}

/* A forked child that ends with _exit (os._exit in multiprocessing workers)
 * skips finalization and exit(): the core reports its leaks here. The core
 * acts only in a child that fork() made (its fork handler ran): a vfork
 * child shares its parent's memory, so nothing here writes before asking.
 * A vfork child that fails to exec ends here too (subprocess). */
EXPORT void _exit(int status)
{
    if (api.exit_without_finalize)
        status = api.exit_without_finalize(status);
    /* what glibc's _exit does; no dlsym here, which may lock or allocate */
    for (;;)
        syscall(SYS_exit_group, status);
}

/* CPython ends an uncaught KeyboardInterrupt (a real SIGINT included) by
 * finalizing, restoring SIGINT's default action and killing itself with
 * it, so that its parent sees a death by SIGINT: neither main's return
 * nor exit() is reached. A signal sent to this process whose default
 * action (set, not blocked) ends it is the end of the program: the core
 * reports (leaks after finalization, the summary, the trace's end record)
 * with the status a shell would show, then the signal is sent as asked,
 * so the process still dies by it. */
static int ends_process(pid_t pid, int sig)
{
    if (sig != SIGINT && sig != SIGTERM && sig != SIGHUP)
        return 0;
    if (pid != getpid())
        return 0;
    struct sigaction sa;
    sigset_t blocked;
    if (sigaction(sig, NULL, &sa) != 0 || (sa.sa_flags & SA_SIGINFO) || sa.sa_handler != SIG_DFL)
        return 0;
    return pthread_sigmask(SIG_BLOCK, NULL, &blocked) == 0 && !sigismember(&blocked, sig);
}

EXPORT int kill(pid_t pid, int sig)
{
    if (api.exit_status && ends_process(pid, sig))
        final_status(128 + sig);
    return (int)syscall(SYS_kill, pid, sig);
}

EXPORT void exit(int status)
{
    void (*next)(int) = (void (*)(int))dlsym(RTLD_NEXT, "exit");
    status = final_status(status);
    if (next)
        next(status);
    _exit(status);
}
