/* See symbolize.h. One Dwfl session per process, rebuilt when a pc falls in
 * no known module (a library loaded since). Results are cached per pc. */
#define _GNU_SOURCE
#include "symbolize.h"

#include <dlfcn.h>
#include <elfutils/libdwfl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/u64map.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static Dwfl *dwfl;
static pid_t session_pid;
static u64map cache;     /* pc -> bs_native_frame* */

static char *debuginfo_path;
static const Dwfl_Callbacks callbacks = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .debuginfo_path = &debuginfo_path,
};

static void drop_locked(void)
{
    if (dwfl)
        dwfl_end(dwfl);
    dwfl = NULL;
    for (size_t i = 0; i < cache.cap; i++)
        if (cache.keys && cache.keys[i]) {
            bs_native_frame *f = cache.vals[i];
            free((void *)f->module);
            free((void *)f->function);
            free((void *)f->file);
            free(f);
        }
    u64map_destroy(&cache);
}

static int open_locked(void)
{
    if (dwfl && session_pid == getpid())
        return 0;
    if (dwfl)
        drop_locked();
    dwfl = dwfl_begin(&callbacks);
    if (!dwfl)
        return -1;
    session_pid = getpid();
    if (dwfl_linux_proc_report(dwfl, session_pid) != 0 || dwfl_report_end(dwfl, NULL, NULL) != 0) {
        dwfl_end(dwfl);
        dwfl = NULL;
        return -1;
    }
    if (!cache.cap)
        u64map_init(&cache, 256);
    return 0;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static bs_native_frame *resolve_locked(uint64_t pc)
{
    bs_native_frame *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    Dwfl_Module *m = dwfl ? dwfl_addrmodule(dwfl, pc - 1) : NULL;
    if (!m && dwfl) {
        /* maybe a library loaded since the map was read */
        dwfl_report_begin(dwfl);
        dwfl_linux_proc_report(dwfl, session_pid);
        dwfl_report_end(dwfl, NULL, NULL);
        m = dwfl_addrmodule(dwfl, pc - 1);
    }
    if (m) {
        Dwarf_Addr start = 0;
        const char *mainfile = NULL;
        const char *name = dwfl_module_info(m, NULL, &start, NULL, NULL, NULL, &mainfile, NULL);
        f->module = strdup(mainfile ? mainfile : name ? name : "");
        f->offset = pc - start;
        GElf_Off off = 0;
        GElf_Sym sym;
        const char *fn = dwfl_module_addrinfo(m, pc - 1, &off, &sym, NULL, NULL, NULL);
        f->function = dup_or_null(fn);
        Dwfl_Line *line = dwfl_module_getsrc(m, pc - 1);
        if (line) {
            int lineno = 0;
            const char *src = dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL);
            if (src && lineno > 0) {
                f->file = strdup(src);
                f->line = lineno;
            }
        }
    } else {
        Dl_info info;
        if (dladdr((void *)(uintptr_t)pc, &info) && info.dli_fname) {
            f->module = strdup(info.dli_fname);
            f->offset = pc - (uint64_t)(uintptr_t)info.dli_fbase;
            f->function = dup_or_null(info.dli_sname);
        } else {
            f->module = strdup("");
            f->offset = pc;
        }
    }
    if (!f->module) {
        free(f);
        return NULL;
    }
    return f;
}

int symbolize_pc(uint64_t pc, bs_native_frame *out)
{
    pthread_mutex_lock(&lock);
    open_locked();
    bs_native_frame *f = cache.cap ? u64map_get(&cache, pc) : NULL;
    if (!f) {
        f = resolve_locked(pc);
        if (f && cache.cap)
            u64map_put(&cache, pc, f);
    }
    if (f)
        *out = *f;
    pthread_mutex_unlock(&lock);
    return f ? 0 : -1;
}

void symbolize_reset(void)
{
    pthread_mutex_init(&lock, NULL);
    drop_locked();
}
