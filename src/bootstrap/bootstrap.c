/* The core's entry point and the interpreter's life cycle: options, the
 * audit hook added before Py_Initialize, the first walk of the type tree
 * (at the first audit event, before any user code), hooks on the import
 * system's extension-module creation so new types and new GOTs are patched
 * as modules load, the switch to forwarding-only when finalization clears
 * the audit hooks, the leak check and exit status when the program ends,
 * a new lifetime when an embedder initializes the interpreter again, and
 * fork. The audit hook may run Python code (it walks types, wraps
 * functions): it guards re-entrancy and saves any pending exception. */
#define _GNU_SOURCE
#include <Python.h>

#include <dlfcn.h>
#include <stdarg.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../intercept/intercept.h"
#include "../report/census_report.h"
#include "../report/output.h"
#include "../report/report.h"
#include "../stacks/capture.h"
#include "../stacks/depot.h"
#include "../stacks/symbolize.h"
#include "../trace/writer.h"
#include "../core/state.h"
#include "pyapi.h"
#include "../common/safe_read.h"
#include "../pyver/pyver.h"

#define EXPORT __attribute__((visibility("default")))

/* An atexit callback, so it runs in Py_FinalizeEx after the non-daemon
 * threads were joined and before CPython stops the others where they
 * stand (their thread states are then dropped without clearing their
 * frames): every other thread state left belongs to a daemon thread, and
 * what its frames hold is no leak. Its Python frames go with it: an
 * export acquired by the call it is still in is held by that call
 * (on_finalize). Registered last-in, so run after the program's own
 * callbacks. */
static PyObject *frozen_threads_at_exit(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    PyThreadState *me = PyThreadState_Get();
    int n = 0;
    for (PyThreadState *ts = PyInterpreterState_ThreadHead(me->interp); ts;
         ts = PyThreadState_Next(ts)) {
        if (ts == me)
            continue;
        int tid = bs_thread_number_of(ts->thread_id);
        if (tid >= 0) {
            /* with the GIL held here, the thread waits for it or runs C
             * code: its frames stand still (not so without a GIL) */
            uint32_t stack = PYVER_FREE_THREADED ? 0 : capture_python_stack_of(ts);
            engine_thread_outlives_program(bs_core_state.engine, (uint32_t)tid, stack);
            n++;
        }
    }
    if (n)
        bs_log("%d thread%s still running at finalization (daemon): what their frames hold is "
               "not reported as leaked", n, n == 1 ? "" : "s");
    Py_RETURN_NONE;
}

static PyMethodDef frozen_threads_def = {"_bufsan_frozen_threads", frozen_threads_at_exit,
                                         METH_NOARGS, NULL};
static int atexit_registered;

/* At an import event, when the import system runs anyway. */
static void register_atexit(void)
{
    atexit_registered = 1;
    PyObject *atexit = PyImport_ImportModule("atexit");
    PyObject *fn = atexit ? PyCFunction_New(&frozen_threads_def, NULL) : NULL;
    PyObject *r = fn ? PyObject_CallMethod(atexit, "register", "O", fn) : NULL;
    if (!r) {
        PyErr_Clear();
        bs_log("cannot register the atexit callback: daemon threads' holds may be reported");
    }
    Py_XDECREF(r);
    Py_XDECREF(fn);
    Py_XDECREF(atexit);
}

/* ---- import hooks ----------------------------------------------------- */

static int installed, imp_wrapped;

/* Walks of every type (slots_patch_all_types) at import events find types
 * an extension readied after its module was loaded (not in its namespace).
 * They are spaced by WALK_INTERVAL_NS: pytest imports hundreds of modules,
 * and a walk over ~3000 types at each (721 walks, 62 ms) was 3% of a numpy
 * test run. Loading an extension module always walks. */
#define WALK_INTERVAL_NS 100000000ULL
static uint64_t last_walk_ns;

static uint64_t coarse_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &t);
    return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

static int walk_types(int complete)
{
    last_walk_ns = coarse_now_ns();
    return slots_patch_all_types(complete);
}

static void after_module_load(PyObject *module, int complete)
{
    int got = callsites_patch_loaded_objects();
    int types = slots_patch_module_types(module, complete) + walk_types(complete);
    if (bs_core_state.opts.verbosity >= 2)
        bs_log("module loaded: %d types patched, %d GOT entries", types, got);
}

static PyObject *imp_create_wrapper(PyObject *orig, PyObject *args)
{
    PyObject *r = PyObject_Call(orig, args, NULL);
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    bs_tls_self.guard++;
    after_module_load(r, 1);
    bs_tls_self.guard--;
    PyErr_Restore(t, v, tb);
    return r;
}

static PyObject *imp_exec_wrapper(PyObject *orig, PyObject *args)
{
    PyObject *r = PyObject_Call(orig, args, NULL);
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    bs_tls_self.guard++;
    after_module_load(PyTuple_Check(args) && PyTuple_GET_SIZE(args) ? PyTuple_GET_ITEM(args, 0) : NULL, 0);
    bs_tls_self.guard--;
    PyErr_Restore(t, v, tb);
    return r;
}

static PyMethodDef imp_defs[] = {
    {"create_dynamic", (PyCFunction)imp_create_wrapper, METH_VARARGS, NULL},
    {"create_builtin", (PyCFunction)imp_create_wrapper, METH_VARARGS, NULL},
    {"exec_dynamic", (PyCFunction)imp_exec_wrapper, METH_VARARGS, NULL},
    {"exec_builtin", (PyCFunction)imp_exec_wrapper, METH_VARARGS, NULL},
};

/* Replaces _imp's extension-module entry points (looked up as module
 * attributes by importlib at each call) with wrappers. */
static void wrap_imp(void)
{
    PyObject *modules = PySys_GetObject("modules"); /* borrowed */
    PyObject *imp = modules && PyDict_Check(modules) ? PyDict_GetItemString(modules, "_imp") : NULL;
    if (!imp)
        return;
    for (size_t i = 0; i < sizeof imp_defs / sizeof imp_defs[0]; i++) {
        PyObject *orig = PyObject_GetAttrString(imp, imp_defs[i].ml_name);
        if (!orig) {
            PyErr_Clear();
            continue;
        }
        PyObject *w = PyCFunction_New(&imp_defs[i], orig);
        Py_DECREF(orig);
        if (!w || PyObject_SetAttrString(imp, imp_defs[i].ml_name, w) < 0)
            PyErr_Clear();
        Py_XDECREF(w);
    }
    imp_wrapped = 1;
}

/* ---- the audit hook's own memory ---------------------------------------
 * PySys_AddAuditHook, called before Py_Initialize, allocates its list entry
 * with the raw allocator of that moment; finalization frees it with the
 * allocator of the end (PYTHONMALLOC=debug, -X dev install debug hooks in
 * between, and they abort on the foreign block). So the entry is noted at
 * allocation and, once the interpreter's allocator is in place, moved into
 * a block of that allocator. The pointer to it is found by scanning the
 * runtime state (or the previous entry), so no internal layout is assumed. */

static PyMemAllocatorEx raw_at_add;
static void *hook_entry, *stale_entry;
static size_t hook_entry_size;

static void *note_malloc(void *ctx, size_t size)
{
    void *p = raw_at_add.malloc(raw_at_add.ctx, size);
    if (!hook_entry) {
        hook_entry = p;
        hook_entry_size = size;
    }
    (void)ctx;
    return p;
}

static void *note_calloc(void *ctx, size_t n, size_t size)
{
    (void)ctx;
    return raw_at_add.calloc(raw_at_add.ctx, n, size);
}

static void *note_realloc(void *ctx, void *p, size_t size)
{
    (void)ctx;
    return raw_at_add.realloc(raw_at_add.ctx, p, size);
}

static void note_free(void *ctx, void *p)
{
    (void)ctx;
    raw_at_add.free(raw_at_add.ctx, p);
}

static int add_audit_hook(Py_AuditHookFunction hook)
{
    PyMemAllocatorEx noting = {NULL, note_malloc, note_calloc, note_realloc, note_free};
    PyMem_GetAllocator(PYMEM_DOMAIN_RAW, &raw_at_add);
    PyMem_SetAllocator(PYMEM_DOMAIN_RAW, &noting);
    int rc = PySys_AddAuditHook(hook, NULL);
    PyMem_SetAllocator(PYMEM_DOMAIN_RAW, &raw_at_add);
    return rc;
}

static void **find_pointer_to(void *target)
{
    void *runtime = dlsym(RTLD_DEFAULT, "_PyRuntime");
    Dl_info info;
    const ElfW(Sym) *sym = NULL;
    if (!runtime || !dladdr1(runtime, &info, (void **)&sym, RTLD_DL_SYMENT) || !sym)
        return NULL;
    void **words = runtime;
    for (size_t i = 0; i < sym->st_size / sizeof(void *); i++) {
        if (words[i] == target)
            return &words[i];
    }
    return NULL;
}

static void rehome_hook_entry(void)
{
    PyMemAllocatorEx now;
    PyMem_GetAllocator(PYMEM_DOMAIN_RAW, &now);
    if (!hook_entry || (now.malloc == raw_at_add.malloc && now.ctx == raw_at_add.ctx &&
                        now.free == raw_at_add.free))
        return;
    void **slot = find_pointer_to(hook_entry);
    if (!slot) {
        bs_log("audit hook entry not found in the runtime state; left in place");
        return;
    }
    void *moved = PyMem_RawMalloc(hook_entry_size);
    if (!moved)
        return;
    memcpy(moved, hook_entry, hook_entry_size);
    __atomic_store_n(slot, moved, __ATOMIC_SEQ_CST);
    /* the interpreter is iterating the list through the old entry right now:
     * free it at the next event */
    stale_entry = hook_entry;
    hook_entry = moved;
}

static void free_stale_entry(void)
{
    raw_at_add.free(raw_at_add.ctx, stale_entry);
    stale_entry = NULL;
}

/* ---- audit hook ------------------------------------------------------- */

static void install(void)
{
    installed = 1;
    rehome_hook_entry();
    if (slots_init() < 0) {
        bs_log("cannot probe the type system; bufsan stays inactive");
        return;
    }
    int types = walk_types(1);
    int got = callsites_patch_loaded_objects();
    holders_install();
    slots_probe_consumers();
    bs_log("installed: %d exporter types patched, %d GOT entries", types, got);
    bs_core_state.active = 1;
}

static int audit_hook(const char *event, PyObject *args, void *userdata)
{
    (void)args;
    (void)userdata;
    if (bs_tls_self.guard || bs_core_state.late)
        return 0;
    if (__builtin_expect(stale_entry != NULL, 0))
        free_stale_entry();
    if (event[0] == 'b' && !strncmp(event, "bufsan.", 7) && installed)
        return pyapi_audit(event, args);
    if (__builtin_expect(!installed || !imp_wrapped, 0) ||
        (event[0] == 'i' && !strcmp(event, "import")) ||
        (event[0] == 'c' && !strcmp(event, "cpython._PySys_ClearAuditHooks"))) {
        bs_tls_self.guard++;
        PyObject *t, *v, *tb;
        PyErr_Fetch(&t, &v, &tb);
        if (!installed)
            install();
        if (!imp_wrapped)
            wrap_imp();
        if (!strcmp(event, "import")) {
            if (!atexit_registered && bs_core_state.active)
                register_atexit();
            if (coarse_now_ns() - last_walk_ns >= WALK_INTERVAL_NS)
                walk_types(0);
        } else if (!strcmp(event, "cpython._PySys_ClearAuditHooks")) {
            /* From here on objects are torn down without Python: wrappers
             * record releases and deallocations only. */
            bs_core_state.late = 1;
        }
        PyErr_Restore(t, v, tb);
        bs_tls_self.guard--;
    }
    return 0;
}

/* ---- end of the program ----------------------------------------------- */

/* The interpreter has finalized: a last look at the bytes of the watched
 * exports (view->obj keeps the exporters of leaked ones alive), then what
 * is still held is reported as leaked. */
static void check_finalized(void)
{
    bs_observe_exports(0, BS_OBS_FINALIZE, 0, -1, 0, 0);
    bs_event ev = {.kind = BS_EV_FINALIZE};
    engine_process(bs_core_state.engine, &ev);
    bs_core_state.finalized = 1;
}

/* census=1: the exporter census, printed before the summary */
static bs_census *census;

static void write_census(void)
{
    if (!census)
        return;
    engine_census_flush(bs_core_state.engine);
    census_report_write(census, &bs_core_state.opts);
}

static int core_exit_status(int status)
{
    bs_tls_self.guard++;
    if (bs_core_state.late && !bs_core_state.finalized)
        check_finalized();
    write_census();
    report_summary();
    bs_log("stats: bf_getbuffer ok %llu, exports recorded %llu, untracked (no release slot, "
           "consumer inside the interpreter) %llu (%llu of them checked against tracked "
           "exports), filled by the C-API for an extension %llu; bf_releasebuffer %llu; call sites: "
           "PyObject_GetBuffer %llu, PyBuffer_Release %llu (%llu of exporters without a "
           "release slot); by view objects %llu; deallocations of exporters with exports %llu; "
           "stacks %u",
           (unsigned long long)bs_stat.getbuffer_ok, (unsigned long long)bs_stat.exports_recorded,
           (unsigned long long)bs_stat.exports_untracked,
           (unsigned long long)bs_stat.exports_release_unseen,
           (unsigned long long)bs_stat.exports_extension_owned,
           (unsigned long long)bs_stat.slot_releases, (unsigned long long)bs_stat.callsite_gets,
           (unsigned long long)bs_stat.callsite_releases,
           (unsigned long long)bs_stat.callsite_release_events,
           (unsigned long long)bs_stat.holder_releases,
           (unsigned long long)bs_stat.deallocs_with_state, depot_size());
    bs_log("stats: native stacks unwound %llu, taken from the stack cache %llu",
           (unsigned long long)bs_stat.unwinds, (unsigned long long)bs_stat.stack_cache_hits);
    bs_safe_read_stats sr;
    safe_read_stats(&sr);
    bs_log("stats: view reads: %llu trusted, %llu in loaded objects, %llu in the break heap, "
           "%llu in mapped arenas, %llu through the kernel",
           (unsigned long long)sr.direct, (unsigned long long)sr.module,
           (unsigned long long)sr.heap, (unsigned long long)sr.mapped,
           (unsigned long long)sr.syscall);
    if (report_error_count() && status == 0)
        status = (int)bs_core_state.opts.exitcode;
    trace_close(status);
    bs_tls_self.guard--;
    return status;
}

/* A forked child ending with _exit: a multiprocessing worker (os._exit
 * after its task loop, whose status the pool ignores) or os.fork() + os._exit.
 * There is no finalization, so objects still alive are not evidence of a
 * leak the way they are after Py_Finalize: the garbage collector runs first
 * (cycles release their exports), and exports the child inherited at fork
 * stay the parent's to answer for. */
static pid_t forked_pid;

static int core_exit_without_finalize(int status)
{
    if (!forked_pid || getpid() != forked_pid || report_summary_written())
        return status;
    bs_tls_self.guard++;
    if (bs_core_state.active && !bs_core_state.late && PyGILState_Check()) {
        PyObject *t, *v, *tb;
        PyErr_Fetch(&t, &v, &tb);
        bs_tls_self.guard--; /* releases by collected objects must be seen */
        PyGC_Collect();
        bs_tls_self.guard++;
        PyErr_Restore(t, v, tb);
    }
    bs_event ev = {.kind = BS_EV_FINALIZE, .exit_without_finalize = 1};
    engine_process(bs_core_state.engine, &ev);
    bs_core_state.finalized = 1;
    write_census();
    report_summary();
    if (report_error_count() && status == 0)
        status = (int)bs_core_state.opts.exitcode;
    trace_close(status);
    bs_tls_self.guard--;
    return status;
}

/* ---- a new lifetime ----------------------------------------------------
 * An embedder may call Py_Initialize again after Py_FinalizeEx (the loader
 * calls this before each initialization it interposes). Finalization
 * cleared the audit hooks, so the first lifetime's leaks are reported now,
 * its records dropped, and the hook added again for the new lifetime,
 * whose first event walks and patches its types as at start-up. */
static unsigned lifetime = 1;

static void core_before_initialize(void)
{
    bs_core *c = &bs_core_state;
    if (!c->late || Py_IsInitialized())
        return; /* the first initialization, or a nested call of another */
    bs_tls_self.guard++;
    if (!c->finalized)
        check_finalized();
    lifetime++;
    bs_event ev = {.kind = BS_EV_LIFETIME};
    engine_process(c->engine, &ev);
    slots_new_lifetime();
    /* findings of this lifetime say so in their message (the engine); a
     * clean one stays quiet */
    bs_log("the interpreter is initialized again after Py_FinalizeEx: interpreter lifetime %u",
           lifetime);
    /* the phase flags and hooks of a process that has not started Python */
    c->active = 0;
    c->finalized = 0;
    installed = imp_wrapped = atexit_registered = 0;
    last_walk_ns = 0;
    if (stale_entry)
        free_stale_entry();
    hook_entry = NULL; /* freed by finalization with the other entries */
    c->late = 0;
    if (add_audit_hook(audit_hook) < 0)
        fprintf(stderr, "==%d==WARNING: bufsan: PySys_AddAuditHook failed; interpreter lifetime "
                "%u is not checked\n", (int)getpid(), lifetime);
    bs_tls_self.guard--;
}

/* ---- fork ------------------------------------------------------------- */

static void fork_prepare(void)
{
    engine_lock(bs_core_state.engine);
}

static void fork_parent(void)
{
    engine_unlock(bs_core_state.engine);
}

static void fork_child(void)
{
    engine_after_fork_child(bs_core_state.engine);
    if (census)
        engine_census_after_fork_child(bs_core_state.engine); /* the child's own census */
    depot_after_fork_child();
    report_after_fork_child();
    pyver_after_fork_child();
    forked_pid = getpid();
    trace_after_fork_child();
}

/* ---- start ------------------------------------------------------------ */

typedef struct {
    uintptr_t addr, start, end;
} text_query;

/* The executable segment of the object containing q->addr. */
static int find_text(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    text_query *q = data;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uintptr_t start = info->dlpi_addr + ph->p_vaddr, end = start + ph->p_memsz;
        if (q->addr >= start && q->addr < end) {
            q->start = start;
            q->end = end;
            return 1;
        }
    }
    return 0;
}

static void add_inside(const void *addr)
{
    text_query q = {(uintptr_t)addr, 0, 0};
    if (!addr || !dl_iterate_phdr(find_text, &q))
        return;
    bs_core *c = &bs_core_state;
    if (c->ninside < (int)(sizeof c->inside / sizeof c->inside[0])) {
        c->inside[c->ninside].start = q.start;
        c->inside[c->ninside].end = q.end;
        c->ninside++;
    }
}

static void fatal_options(const char *msg)
{
    fprintf(stderr, "==%d==ERROR: bufsan: %s\n", (int)getpid(), msg);
    fflush(stderr);
    _exit(BS_OPTIONS_EXIT_STATUS);
}

EXPORT int bufsan_core_start(bufsan_loader_api *api)
{
    bs_core *c = &bs_core_state;
    if (api->api_version != BUFSAN_LOADER_API_VERSION) {
        fprintf(stderr, "==%d==WARNING: bufsan: the loader and the core were built from different "
                "versions (api %d, core %d); running without bufsan\n", (int)getpid(),
                api->api_version, BUFSAN_LOADER_API_VERSION);
        return -1;
    }
    c->api = api;
    char err[512];
    bs_options_defaults(&c->opts);
    if (bs_options_parse(&c->opts, getenv("BUFSAN_OPTIONS"), "BUFSAN_OPTIONS", err, sizeof err) < 0)
        fatal_options(err);
    if (c->opts.help) {
        bs_options_print_help(stderr);
        fflush(stderr);
        _exit(0);
    }
    bs_thread_main(); /* the loader's constructor runs on the main thread */
    safe_read_count(c->opts.verbosity > 0); /* printed at exit only then */
    output_configure(c->opts.log_path);
    report_init(&c->opts);
    if (report_load_suppressions(c->opts.suppressions, err, sizeof err) < 0)
        fatal_options(err);
    int tracing = c->opts.trace && *c->opts.trace;
    c->engine = engine_new(&c->opts, tracing ? trace_finding_sink : report_finding, NULL);
    if (!c->engine) {
        bs_log("out of memory");
        return -1;
    }
    if (PYVER_FREE_THREADED)
        engine_contended(c->engine); /* no GIL serialises the events */
    if (c->opts.census && (census = census_new(c->opts.hash_limit, c->opts.hash_full)))
        engine_set_census(c->engine, census);
    if (tracing && trace_open(c->opts.trace, c->engine, getenv("BUFSAN_OPTIONS"), err, sizeof err) < 0)
        fprintf(stderr, "==%d==WARNING: bufsan: %s; no trace is recorded\n", (int)getpid(), err);
    text_query self = {(uintptr_t)&bufsan_core_start, 0, 0};
    dl_iterate_phdr(find_text, &self);
    c->text_start = self.start;
    c->text_end = self.end;

    /* The real entry points. Where the loader's definitions win symbol
     * lookup, calls are interposed and the real ones come after the loader. */
    void *get = dlsym(RTLD_DEFAULT, "PyObject_GetBuffer");
    void *rel = dlsym(RTLD_DEFAULT, "PyBuffer_Release");
    Dl_info where;
    if (get && dladdr(get, &where) && where.dli_fbase == api->loader_base) {
        c->interposed = 1;
        get = api->next_get_buffer;
        rel = api->next_release;
    }
    c->real_get_buffer = (bs_get_buffer_fn)get;
    c->real_release = (bs_release_fn)rel;
    bs_log("core for Python %.*s started; PyObject_GetBuffer at %p (%s)",
           (int)strcspn(Py_GetVersion(), " "), Py_GetVersion(), get,
           c->interposed ? "interposed by the loader" : "bound inside the interpreter");
    if (!get || !rel) {
        bs_log("cannot find PyObject_GetBuffer / PyBuffer_Release");
        return -1;
    }
    report_hide_address((uint64_t)(uintptr_t)get);     /* the interpreter */
    trace_hide_address((uint64_t)(uintptr_t)get);
    add_inside(get);
    add_inside(api->loader_base ? dlsym(RTLD_DEFAULT, "__libc_start_main") : NULL);
    add_inside(dlsym(RTLD_DEFAULT, "gnu_get_libc_version"));

    pthread_atfork(fork_prepare, fork_parent, fork_child);
    if (add_audit_hook(audit_hook) < 0) {
        bs_log("PySys_AddAuditHook failed");
        return -1;
    }
    if (api->mapped_contains)
        safe_read_set_region_query(api->mapped_contains);
    api->get_buffer = callsite_get_buffer;
    api->release = callsite_release;
    api->exit_status = core_exit_status;
    api->exit_without_finalize = core_exit_without_finalize;
    api->before_initialize = core_before_initialize;
    return 0;
}
