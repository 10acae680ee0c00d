/* bufsan-report: offline reports from trace files (trace= option).
 *   bufsan report [--key=value...] [--html=OUT.html] TRACE...
 *       replays each trace through the engine (the same rules as the live
 *       run) and writes the findings in log_format, honouring checks= and
 *       suppressions=; exports still held where a trace of a dead process
 *       ends are listed as "held at end of trace". Several traces (a process
 *       tree) make one report. Findings name the test (pytest nodeid) of
 *       the trace's test records, as the live report did. Native frames are
 *       symbolized from the recorded module map with libdwfl.
 *   bufsan dump TRACE...   every record as one line.
 * Exit status: the exitcode option when an error was found, 64 for bad
 * usage or a file that is not a trace, else 0. No Python. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/options.h"
#include "../common/strbuf.h"
#include "../common/u64map.h"
#include "../engine/engine.h"
#include "../engine/view_check.h"
#include "../report/census_report.h"
#include "../report/output.h"
#include "../report/report.h"
#include "../stacks/depot.h"
#include "../stacks/symbolize.h"
#include "../trace/fields.h"
#include "../trace/reader.h"
#include "html.h"
#include "html_census.h"

static FILE *msg; /* messages (stderr, even when reports go to stdout) */

/* "bufsan: error: PATH: WHAT", the path's odd bytes escaped. */
static void print_error(const char *path, const char *what)
{
    char line[4400];
    snprintf(line, sizeof line, "bufsan: error: %s: %s", path, what);
    escape_message(line, sizeof line);
    fprintf(msg, "%s\n", line);
}

typedef struct {
    const uint8_t *data;
    size_t len;
    int fd;
} mapped;

static int map_file(const char *path, mapped *m)
{
    memset(m, 0, sizeof *m);
    m->fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (m->fd < 0 || fstat(m->fd, &st) < 0) {
        print_error(path, strerror(errno));
        if (m->fd >= 0)
            close(m->fd);
        return -1;
    }
    /* mmap of a directory fails with ENODEV ("No such device") */
    if (!S_ISREG(st.st_mode)) {
        print_error(path, S_ISDIR(st.st_mode)
                              ? "is a directory (expected trace files, e.g. DIR/trace.*)"
                              : "not a regular file (expected a trace file)");
        close(m->fd);
        return -1;
    }
    m->len = (size_t)st.st_size;
    if (m->len == 0) {
        m->data = (const uint8_t *)"";
        return 0;
    }
    void *p = mmap(NULL, m->len, PROT_READ, MAP_PRIVATE, m->fd, 0);
    if (p == MAP_FAILED) {
        print_error(path, strerror(errno));
        close(m->fd);
        return -1;
    }
    m->data = p;
    return 0;
}

static void unmap_file(mapped *m)
{
    if (m->len)
        munmap((void *)m->data, m->len);
    close(m->fd);
}

/* ---- replay ----------------------------------------------------------- */

typedef struct {
    bs_engine *engine;
    u64map stacks;    /* trace stack id -> depot id */
    u64map typenames; /* trace type-name id -> engine id + 1 */
    bs_module_entry *mods;
    size_t nmods, capmods;
    int mods_dirty;
    uint32_t pid;
    uint64_t t0, now;
    html_doc *html;
} replay;

static void replay_sink(const bs_finding *f, void *ctx)
{
    replay *r = ctx;
    if (r->html)
        html_finding(r->html, r->pid, r->now, f);
    report_finding(f, NULL);
}

static void apply_modules(replay *r)
{
    if (r->mods_dirty) {
        symbolize_use_module_map(r->mods ? r->mods : (bs_module_entry[1]){{0}}, r->nmods);
        r->mods_dirty = 0;
    }
}

static uint32_t map_id(u64map *m, uint32_t id)
{
    if (!id)
        return 0;
    return (uint32_t)(uintptr_t)u64map_get(m, id);
}

static void add_module(replay *r, const tr_record *rec)
{
    if (r->nmods == r->capmods) {
        size_t cap = r->capmods ? r->capmods * 2 : 64;
        bs_module_entry *n = realloc(r->mods, cap * sizeof *n);
        if (!n)
            return;
        r->mods = n;
        r->capmods = cap;
    }
    bs_module_entry *e = &r->mods[r->nmods++];
    e->path = strdup(rec->u.module.path);
    e->bias = rec->u.module.bias;
    e->lo = rec->u.module.lo;
    e->hi = rec->u.module.hi;
    e->build_id_len = rec->u.module.build_id_len;
    uint8_t *id = malloc(e->build_id_len ? e->build_id_len : 1);
    if (id && e->build_id_len)
        memcpy(id, rec->u.module.build_id, e->build_id_len);
    e->build_id = id;
    r->mods_dirty = 1;
    /* the interpreter's own program: its C frames are noise next to Python */
    const char *slash = strrchr(e->path, '/');
    (void)slash;
}

static void held_one(const bs_event *ev, void *ctx)
{
    replay *r = ctx;
    bs_finding f = {.check = BS_CHECK_LEAKED_EXPORT, .severity = BS_SEV_ERROR};
    char fl[128];
    bs_flag_names(ev->flags, fl, sizeof fl);
    const char *type = engine_string(r->engine, ev->type_name);
    snprintf(f.message, sizeof f.message,
             "export of %s at 0x%llx (%lld bytes, view 0x%llx) acquired with %s",
             *type ? type : "?", (unsigned long long)ev->obj, (long long)ev->v.len,
             (unsigned long long)ev->view, fl);
    f.has_exporter = 1;
    f.exporter_type = type;
    f.exporter_addr = ev->obj;
    f.exporter_len = ev->v.len;
    f.exporter_readonly = ev->v.readonly;
    f.has_request = 1;
    f.flags = ev->flags;
    f.count = 1;
    f.bytes = ev->v.len;
    char title[160];
    snprintf(title, sizeof title, "acquired by thread T%u with %s at:", ev->thread, fl);
    f.nstacks = 1;
    f.stacks[0] = (bs_finding_stack){"acquire", title, ev->thread, ev->stack};
    report_held(&f);
}

/* Takes strict= and writable_policy= from the options recorded in a trace
 * when the command line left them at their defaults. */
static void apply_recorded_rule_options(bs_options *local, const bs_options *cmd,
                                        const char *recorded)
{
    bs_options rec, def;
    char err[512];
    bs_options_defaults(&def);
    bs_options_defaults(&rec);
    if (recorded && bs_options_parse(&rec, recorded, "trace", err, sizeof err) == 0) {
        if (cmd->strict == def.strict && rec.strict != def.strict)
            bs_options_set(local, "strict", 6, rec.strict ? "1" : "0", "trace", err, sizeof err);
        if (cmd->writable_policy == def.writable_policy)
            local->writable_policy = rec.writable_policy;
    }
    bs_options_free(&rec);
    bs_options_free(&def);
}

/* The process a trace records: its pid and start times (a copy of a trace
 * names the same process as the file it was copied from). 0: not read. */
static int trace_identity(const char *path, uint64_t id[3])
{
    mapped m;
    if (map_file(path, &m) < 0)
        return 0;
    tr_reader rd;
    tr_record rec;
    int found = 0;
    if (tr_reader_init(&rd, m.data, m.len) == 0)
        while (!found && tr_next(&rd, &rec) == 1)
            if (rec.type == TR_PROCESS) {
                id[0] = rec.u.process.pid;
                id[1] = rec.u.process.start_ns;
                id[2] = rec.u.process.realtime_ns;
                found = 1;
            }
    tr_reader_free(&rd);
    unmap_file(&m);
    return found;
}

/* --census: one census over every trace replayed */
static bs_census *census;

static int replay_file(const char *path, const bs_options *opts, html_doc *html, int *first_pid)
{
    mapped m;
    if (map_file(path, &m) < 0)
        return -1;
    tr_reader rd;
    if (tr_reader_init(&rd, m.data, m.len) < 0) {
        print_error(path, rd.error);
        tr_reader_free(&rd);
        unmap_file(&m);
        return -1;
    }
    if (rd.warning[0])
        fprintf(msg, "bufsan: warning: %s: %s\n", path, rd.warning);
    replay r = {0};
    r.html = html;
    r.pid = rd.pid;
    /* the rules' own settings as the live run had them (strict=,
     * writable_policy=), unless the command line sets them */
    bs_options local = *opts;
    r.engine = engine_new(&local, replay_sink, &r);
    if (census)
        engine_set_census(r.engine, census);
    u64map_init(&r.stacks, 1024);
    u64map_init(&r.typenames, 64);
    r.mods_dirty = 1;
    report_set_pid((int)rd.pid);
    report_set_context(NULL); /* not the test another trace ended in */
    if (!*first_pid)
        *first_pid = (int)rd.pid;
    if (html)
        html_begin_process(html, rd.pid, path);
    tr_record rec;
    uint64_t inherited_left = 0;
    static bs_view_snapshot snap;
    int have_snap = 0;
    while (tr_next(&rd, &rec) > 0) {
        switch (rec.type) {
        case TR_PROCESS: {
            apply_recorded_rule_options(&local, opts, rec.u.process.options);
            r.pid = rec.u.process.pid;
            report_set_pid((int)r.pid);
            r.t0 = rec.u.process.start_ns;
            const char *exe = rec.u.process.exe;
            const char *slash = strrchr(exe, '/');
            if (!strncmp(slash ? slash + 1 : exe, "python", 6))
                report_hide_module(exe);
            if (html)
                html_process_info(html, r.pid, rec.u.process.ppid, exe, rec.u.process.start_ns);
            break;
        }
        case TR_MODULE:
            add_module(&r, &rec);
            break;
        case TR_HIDE:
            apply_modules(&r);
            report_hide_address(rec.u.hide.addr);
            break;
        case TR_TYPENAME:
            u64map_put(&r.typenames, rec.u.string.id ? rec.u.string.id : 1,
                       (void *)(uintptr_t)engine_intern(r.engine, rec.u.string.text));
            break;
        case TR_STACK: {
            uint32_t id = depot_put_resolved(rec.u.stack.py, rec.u.stack.npy, rec.u.stack.pcs,
                                             rec.u.stack.nnative);
            u64map_put(&r.stacks, rec.u.stack.id, (void *)(uintptr_t)id);
            break;
        }
        case TR_SNAPSHOT:
            memset(&snap, 0, sizeof snap);
            memcpy(&snap, rec.u.snapshot.data,
                   rec.u.snapshot.len < sizeof snap ? rec.u.snapshot.len : sizeof snap);
            snap.format[sizeof snap.format - 1] = '\0';
            if (snap.nitems < 0 || snap.nitems > BS_SNAP_MAX_NDIM)
                snap.nitems = 0; /* a damaged record */
            have_snap = 1;
            break;
        case TR_EVENT: {
            bs_event ev = rec.u.event.ev;
            /* the recorded pointer meant something only in the live process */
            ev.snapshot = ev.kind == BS_EV_BUFFER_CALL && have_snap ? &snap : NULL;
            have_snap = 0;
            for (size_t i = 0; i < tr_nfields; i++) {
                const tr_field *f = &tr_fields[i];
                if (f->size != 4 || (f->role != TR_ROLE_STACK && f->role != TR_ROLE_TYPENAME))
                    continue;
                uint32_t v;
                memcpy(&v, (char *)&ev + f->offset, 4);
                v = map_id(f->role == TR_ROLE_STACK ? &r.stacks : &r.typenames, v);
                memcpy((char *)&ev + f->offset, &v, 4);
            }
            apply_modules(&r);
            r.now = rec.u.event.time_ns - r.t0;
            if (html)
                html_event_before(html, r.pid, r.now, &ev, r.engine);
            engine_process(r.engine, &ev);
            if (html)
                html_event_after(html, r.pid, r.now, &ev, r.engine);
            /* the inherited exports replayed: from here on they are the
             * parent's, as they were in the live child */
            if (inherited_left && --inherited_left == 0)
                engine_after_fork_child(r.engine);
            break;
        }
        case TR_TEST:
            /* findings from here on name it, as the live report did; a leak
             * names the test its export was acquired in (the engine's) */
            report_set_context(rec.u.test.name);
            engine_set_context(r.engine, rec.u.test.name);
            if (html)
                html_test(html, rec.u.test.name);
            break;
        case TR_INHERITED:
            inherited_left = rec.u.inherited.count;
            if (!inherited_left)
                engine_after_fork_child(r.engine);
            break;
        default:
            break;
        }
    }
    char end[512];
    tr_reader_describe_end(&rd, end, sizeof end);
    fprintf(msg, "bufsan: %s (pid %u): %s\n", path, rd.pid, end);
    if (!rd.ended) {
        apply_modules(&r);
        engine_for_each_live_export(r.engine, held_one, &r);
        if (html)
            html_end_process(html, r.pid, r.now, r.engine, 1);
    } else if (html) {
        html_end_process(html, r.pid, r.now, r.engine, 0);
    }
    if (census) {
        apply_modules(&r); /* the census names its sites before the map goes */
        engine_census_flush(r.engine);
        census_resolve(census);
    }
    engine_free(r.engine);
    u64map_destroy(&r.stacks);
    u64map_destroy(&r.typenames);
    for (size_t i = 0; i < r.nmods; i++) {
        free((void *)r.mods[i].path);
        free((void *)r.mods[i].build_id);
    }
    free(r.mods);
    tr_reader_free(&rd);
    unmap_file(&m);
    return 0;
}

static int cmd_report(int argc, char **argv)
{
    static bs_options opts;
    char err[512];
    bs_options_defaults(&opts);
    const char *html_path = NULL;
    int nfiles = 0;
    char **files = calloc((size_t)argc + 1, sizeof *files);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--html") && i + 1 < argc) {
            html_path = argv[++i];
        } else if (!strncmp(a, "--html=", 7)) {
            html_path = a + 7;
        } else if (!strncmp(a, "--", 2) && a[2]) {
            a += 2;
            const char *eq = strchr(a, '=');
            size_t klen = eq ? (size_t)(eq - a) : strlen(a);
            if (bs_options_set(&opts, a, klen, eq ? eq + 1 : "1", "command line", err, sizeof err) <
                0) {
                fprintf(msg, "bufsan: error: %s\n", err);
                return BS_OPTIONS_EXIT_STATUS;
            }
        } else {
            files[nfiles++] = argv[i];
        }
    }
    if (!nfiles) {
        fprintf(msg, "usage: bufsan report [--key=value...] [--html=OUT.html] TRACE...\n");
        return BS_OPTIONS_EXIT_STATUS;
    }
    output_configure(opts.log_path);
    report_init(&opts);
    if (report_load_suppressions(opts.suppressions, err, sizeof err) < 0) {
        fprintf(msg, "bufsan: error: %s\n", err);
        return BS_OPTIONS_EXIT_STATUS;
    }
    html_doc *html = html_path ? html_new() : NULL;
    if (opts.census)
        census = census_new(opts.hash_limit, opts.hash_full);
    if (html)
        html_census_attach(census);
    int bad = 0, first_pid = 0;
    struct stat *ids = calloc((size_t)nfiles, sizeof *ids);
    uint64_t(*procs)[4] = calloc((size_t)nfiles, sizeof *procs); /* pid, starts, found */
    for (int i = 0; i < nfiles; i++) {
        /* a file named twice (report T T, overlapping globs), or a copy of
         * one, is one process: replayed once, its findings counted once */
        int dup = -1, copy = 0;
        if (ids && stat(files[i], &ids[i]) == 0) {
            for (int k = 0; k < i && dup < 0; k++)
                if (ids[k].st_ino && ids[k].st_ino == ids[i].st_ino &&
                    ids[k].st_dev == ids[i].st_dev)
                    dup = k;
        } else if (ids) {
            ids[i].st_ino = 0; /* replay_file names the error */
        }
        if (dup < 0 && procs && ids && S_ISREG(ids[i].st_mode) && access(files[i], R_OK) == 0 &&
            (procs[i][3] = (uint64_t)trace_identity(files[i], procs[i])))
            for (int k = 0; k < i && dup < 0; k++)
                if (procs[k][3] && !memcmp(procs[k], procs[i], 3 * sizeof procs[i][0]))
                    dup = k, copy = 1;
        if (dup >= 0) {
            char line[9000];
            snprintf(line, sizeof line,
                     copy ? "bufsan: warning: %s: a copy of %s (the same process): read once"
                          : "bufsan: warning: %s: the same file as %s: read once",
                     files[i], files[dup]);
            escape_message(line, sizeof line);
            fprintf(msg, "%s\n", line);
            continue;
        }
        if (replay_file(files[i], &opts, html, &first_pid) < 0)
            bad = 1;
    }
    free(ids);
    free(procs);
    if (first_pid)
        report_set_pid(first_pid);
    census_report_write(census, &opts);
    report_summary();
    if (html) {
        if (html_write(html, html_path, err, sizeof err) < 0) {
            fprintf(msg, "bufsan: error: %s\n", err);
            bad = 1;
        }
        html_free(html);
    }
    census_free(census);
    census = NULL;
    free(files);
    if (report_error_count())
        return (int)opts.exitcode;
    return bad ? BS_OPTIONS_EXIT_STATUS : 0;
}

/* ---- dump ------------------------------------------------------------- */

static void dump_event(const tr_record *rec, uint64_t t0)
{
    static const char *const kinds[] = {
        [BS_EV_EXPORT] = "export",       [BS_EV_RELEASE] = "release",
        [BS_EV_DEALLOC] = "dealloc",     [BS_EV_FINALIZE] = "finalize",
        [BS_EV_OBSERVE] = "observe",     [BS_EV_BUFFER_CALL] = "buffer-call",
        [BS_EV_LIFETIME] = "lifetime",     [BS_EV_THREAD_OUTLIVES] = "thread-outlives",
    };
    const bs_event *ev = &rec->u.event.ev;
    unsigned k = (unsigned)ev->kind;
    const char *kind = k < sizeof kinds / sizeof kinds[0] && kinds[k] ? kinds[k] : "unknown";
    printf("%zu event t=+%.3fus %s", rec->offset, (double)(rec->u.event.time_ns - t0) / 1e3, kind);
    for (size_t i = 1; i < tr_nfields; i++) {
        const tr_field *f = &tr_fields[i];
        uint64_t v = 0;
        memcpy(&v, (const char *)ev + f->offset, f->size <= 8 ? f->size : 8);
        if (f->size == 4)
            printf(" %s=%lld", f->name, (long long)(int32_t)v);
        else if (strstr(f->name, "len") || strstr(f->name, "refcnt") || strstr(f->name, "itemsize"))
            printf(" %s=%lld", f->name, (long long)v);
        else
            printf(" %s=0x%llx", f->name, (unsigned long long)v);
    }
    size_t extent = tr_named_extent();
    for (size_t off = (extent + 7) / 8 * 8; off + 8 <= sizeof *ev; off += 8) {
        uint64_t v;
        memcpy(&v, (const char *)ev + off, 8);
        printf(" word@%zu=0x%llx", off, (unsigned long long)v);
    }
    printf("\n");
}

static int dump_file(const char *path)
{
    mapped m;
    if (map_file(path, &m) < 0)
        return -1;
    tr_reader rd;
    if (tr_reader_init(&rd, m.data, m.len) < 0) {
        print_error(path, rd.error);
        tr_reader_free(&rd);
        unmap_file(&m);
        return -1;
    }
    printf("# %s: bufsan trace format %u.%u, pid %u\n", path, rd.major, rd.minor, rd.pid);
    if (rd.warning[0])
        printf("# warning: %s\n", rd.warning);
    tr_record rec;
    uint64_t t0 = 0;
    while (tr_next(&rd, &rec) > 0) {
        size_t o = rec.offset;
        switch (rec.type) {
        case TR_PROCESS:
            t0 = rec.u.process.start_ns;
            printf("%zu process pid=%u ppid=%u exe=%s options=\"%s\"\n", o, rec.u.process.pid,
                   rec.u.process.ppid, rec.u.process.exe, rec.u.process.options);
            break;
        case TR_SCHEMA:
            printf("%zu schema event_size=%zu fields=%zu\n", o, rec.u.schema.event_size,
                   rec.u.schema.nfields);
            break;
        case TR_MODULE:
            printf("%zu module 0x%llx-0x%llx bias=0x%llx %s build-id=", o,
                   (unsigned long long)rec.u.module.lo, (unsigned long long)rec.u.module.hi,
                   (unsigned long long)rec.u.module.bias, rec.u.module.path);
            for (size_t i = 0; i < rec.u.module.build_id_len; i++)
                printf("%02x", rec.u.module.build_id[i]);
            printf("\n");
            break;
        case TR_STRING:
        case TR_TYPENAME:
            printf("%zu %s %u \"%s\"\n", o, tr_record_name(rec.type), rec.u.string.id,
                   rec.u.string.text);
            break;
        case TR_STACK:
            printf("%zu stack %u", o, rec.u.stack.id);
            for (uint32_t i = 0; i < rec.u.stack.npy; i++)
                printf(" %s:%d:%s", rec.u.stack.py[i].file, rec.u.stack.py[i].line,
                       rec.u.stack.py[i].function);
            for (uint32_t i = 0; i < rec.u.stack.nnative; i++)
                printf(" 0x%llx", (unsigned long long)rec.u.stack.pcs[i]);
            printf("\n");
            break;
        case TR_THREAD:
            printf("%zu thread T%u tid=%llu\n", o, rec.u.thread.thread,
                   (unsigned long long)rec.u.thread.os_tid);
            break;
        case TR_EVENT:
            dump_event(&rec, t0);
            break;
        case TR_FINDING:
            printf("%zu finding %s severity=%d count=%llu bytes=%lld \"%s\"", o,
                   rec.u.finding.check, rec.u.finding.severity,
                   (unsigned long long)rec.u.finding.count, (long long)rec.u.finding.bytes,
                   rec.u.finding.message);
            for (int i = 0; i < rec.u.finding.nstacks; i++)
                printf(" %s=T%u/stack%u", rec.u.finding.stacks[i].role,
                       rec.u.finding.stacks[i].thread, rec.u.finding.stacks[i].stack);
            printf("\n");
            break;
        case TR_HIDE:
            printf("%zu hide 0x%llx\n", o, (unsigned long long)rec.u.hide.addr);
            break;
        case TR_INHERITED:
            printf("%zu inherited from pid %u: %llu live exports follow\n", o,
                   rec.u.inherited.ppid, (unsigned long long)rec.u.inherited.count);
            break;
        case TR_END:
            printf("%zu end status=%d events=%llu\n", o, rec.u.end.status,
                   (unsigned long long)rec.u.end.nevents);
            break;
        case TR_TYPE_PATCHED:
            printf("%zu type-patched %s\n", o, rec.u.type_patched.name);
            break;
        case TR_TEST:
            if (*rec.u.test.name)
                printf("%zu test %s\n", o, rec.u.test.name);
            else
                printf("%zu test (none)\n", o);
            break;
        default:
            break;
        }
    }
    char end[512];
    tr_reader_describe_end(&rd, end, sizeof end);
    printf("# %s\n", end);
    tr_reader_free(&rd);
    unmap_file(&m);
    return 0;
}

int main(int argc, char **argv)
{
    /* reports go to stdout; messages stay on stderr */
    int errfd = dup(2);
    msg = errfd >= 0 ? fdopen(errfd, "w") : stderr;
    if (!msg)
        msg = stderr;
    setvbuf(msg, NULL, _IOLBF, 0);
    if (argc >= 2 && !strcmp(argv[1], "report")) {
        fflush(stdout);
        dup2(1, 2);
        int rc = cmd_report(argc - 2, argv + 2);
        fflush(msg);
        return rc;
    }
    if (argc >= 3 && !strcmp(argv[1], "dump")) {
        int bad = 0;
        for (int i = 2; i < argc; i++)
            if (dump_file(argv[i]) < 0)
                bad = 1;
        return bad ? BS_OPTIONS_EXIT_STATUS : 0;
    }
    fprintf(msg, "usage: bufsan report [--key=value...] [--html=OUT.html] TRACE...\n"
                 "       bufsan dump TRACE...\n");
    return BS_OPTIONS_EXIT_STATUS;
}
