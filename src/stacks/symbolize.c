/* See symbolize.h. One Dwfl session per process, rebuilt when a pc falls in
 * no known module (a library loaded since). Results are cached per pc. */
#define _GNU_SOURCE
#include "symbolize.h"

#include <dlfcn.h>
#include <elfutils/libdwfl.h>
#include <pthread.h>
#include <stdio.h>
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

/* offline: the module map of a recorded process */
static bs_module_entry *offline;
static size_t noffline;
static int offline_mode;
static int *offline_bad; /* build-id differs: frames stay unnamed */
static const Dwfl_Callbacks offline_callbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
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

static int open_offline_locked(void)
{
    if (dwfl)
        return 0;
    dwfl = dwfl_begin(&offline_callbacks);
    if (!dwfl)
        return -1;
    dwfl_report_begin(dwfl);
    for (size_t i = 0; i < noffline; i++) {
        const bs_module_entry *m = &offline[i];
        Dwfl_Module *mod = dwfl_report_elf(dwfl, m->path, m->path, -1, m->bias, false);
        if (!mod)
            continue;
        const unsigned char *bits = NULL;
        GElf_Addr vaddr;
        int n = dwfl_module_build_id(mod, &bits, &vaddr);
        if (m->build_id_len && (n != (int)m->build_id_len || memcmp(bits, m->build_id, (size_t)n))) {
            if (!offline_bad[i])
                fprintf(stderr, "bufsan: warning: %s is not the file the trace was recorded with "
                        "(build-id differs); its frames are not named\n", m->path);
            offline_bad[i] = 1;
        }
    }
    dwfl_report_end(dwfl, NULL, NULL);
    if (!cache.cap)
        u64map_init(&cache, 256);
    return 0;
}

static const bs_module_entry *offline_module(uint64_t pc, size_t *index)
{
    for (size_t i = 0; i < noffline; i++)
        if (pc >= offline[i].lo && pc < offline[i].hi) {
            *index = i;
            return &offline[i];
        }
    return NULL;
}

static int open_locked(void)
{
    if (offline_mode)
        return open_offline_locked();
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

/* A cached result; the source line is looked up only when first asked for
 * (it loads the module's DWARF line tables: tens of MB for the
 * interpreter, whose frames reports hide and suppressions match by name). */
typedef struct {
    bs_native_frame f;
    int lines_done;
    void *module; /* Dwfl_Module, for the line lookup later */
} cached_frame;

static void add_line_locked(cached_frame *c, uint64_t pc)
{
    c->lines_done = 1;
    Dwfl_Module *m = c->module;
    if (!m)
        return;
    Dwfl_Line *line = dwfl_module_getsrc(m, pc - 1);
    if (line) {
        int lineno = 0;
        const char *src = dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL);
        if (src && lineno > 0 && (c->f.file = strdup(src)))
            c->f.line = lineno;
    }
}

static cached_frame *resolve_locked(uint64_t pc)
{
    cached_frame *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    bs_native_frame *f = &c->f;
    Dwfl_Module *m = dwfl ? dwfl_addrmodule(dwfl, pc - 1) : NULL;
    if (offline_mode) {
        size_t idx = 0;
        const bs_module_entry *om = offline_module(pc - 1, &idx);
        if (!om || (offline_bad && offline_bad[idx]))
            m = NULL;
        if (!m) {
            f->module = strdup(om ? om->path : "");
            f->offset = om ? pc - om->lo : pc;
            c->lines_done = 1;
            if (!f->module) {
                free(c);
                return NULL;
            }
            return c;
        }
    }
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
        c->module = m;
    } else {
        c->lines_done = 1;
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
        free(c);
        return NULL;
    }
    return c;
}

static int symbolize(uint64_t pc, bs_native_frame *out, int want_line)
{
    pthread_mutex_lock(&lock);
    open_locked();
    cached_frame *c = cache.cap ? u64map_get(&cache, pc) : NULL;
    if (!c) {
        c = resolve_locked(pc);
        if (c && cache.cap)
            (void)u64map_put(&cache, pc, c); /* out of memory: answered, not cached */
    }
    if (c && want_line && !c->lines_done)
        add_line_locked(c, pc);
    if (c)
        *out = c->f;
    pthread_mutex_unlock(&lock);
    return c ? 0 : -1;
}

int symbolize_pc(uint64_t pc, bs_native_frame *out) { return symbolize(pc, out, 1); }

int symbolize_pc_name(uint64_t pc, bs_native_frame *out) { return symbolize(pc, out, 0); }

void symbolize_use_module_map(const bs_module_entry *m, size_t n)
{
    pthread_mutex_lock(&lock);
    drop_locked();
    for (size_t i = 0; i < noffline; i++) {
        free((void *)offline[i].path);
        free((void *)offline[i].build_id);
    }
    free(offline);
    free(offline_bad);
    offline = NULL;
    offline_bad = NULL;
    noffline = 0;
    offline_mode = m != NULL;
    if (m && n) {
        offline = calloc(n, sizeof *offline);
        offline_bad = calloc(n, sizeof *offline_bad);
        if (offline && offline_bad) {
            for (size_t i = 0; i < n; i++) {
                offline[i] = m[i];
                offline[i].path = strdup(m[i].path ? m[i].path : "");
                uint8_t *id = malloc(m[i].build_id_len ? m[i].build_id_len : 1);
                if (id && m[i].build_id_len)
                    memcpy(id, m[i].build_id, m[i].build_id_len);
                offline[i].build_id = id;
            }
            noffline = n;
        }
    }
    pthread_mutex_unlock(&lock);
}

void symbolize_reset(void)
{
    pthread_mutex_init(&lock, NULL);
    drop_locked();
}
