/* See report.h. */
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/strbuf.h"
#include "../common/u64map.h"
#include "../stacks/depot.h"
#include "../stacks/symbolize.h"
#include "ci_output.h"
#include "findlog.h"
#include "output.h"
#include "runrec.h"
#include "suppress.h"

static const bs_options *opts;
static char *hidden[16];
static int nhidden;
static uint64_t hidden_addr[16];
static int nhidden_addr;
static char main_program[4096];
static bs_suppressions suppressions;
static uint64_t count_by_check[BS_CHECK_COUNT];
static uint64_t nerrors, nwarnings, nsuppressed;
static int summary_done;
static int shown_under_python(uint64_t pc);
static bs_finding_log findlog = {.shown = shown_under_python};
static uint64_t nduplicates;
static int annotate;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int fixed_pid; /* offline: the recorded process */
static int held_mode; /* report_held in progress */
static int runrec_fd = -1;   /* this process's run record (run_dir), or -1 */
static int runrec_failed;    /* creating it failed: said once */
/* The test (or other unit of work) running now, named by the program through
 * report_set_context; each change starts a new generation. */
static char context[512];
static uint64_t context_gen = 1;
/* For the program itself (report_for_each_occurrence): the JSON of each
 * distinct finding (by findlog index) and one occurrence per distinct
 * finding and context generation. */
static char **entry_json;
static uint64_t *entry_gen;
static size_t entry_cap;
typedef struct {
    size_t entry;
    char *context;
    int repeat;
    char *own_json; /* an expected finding (not in the log): its own report */
} occurrence;
/* checks the program expects now (report_set_expected): bit per check */
static uint64_t expected_checks;
static uint64_t nexpected;
/* the expected findings: the same one again later (the expected leak, seen
 * again at exit) is expected too */
static bs_finding_log expected_log = {.shown = shown_under_python};
static occurrence *occs;
static size_t nocc, occ_cap;

/* The test F belongs to: its own (a leak names the test that acquired
 * it), else the one running now; "" none. Lock held (one buffer). */
static const char *test_of_locked(const bs_finding *f)
{
    static char own[512];
    if (!f->test)
        return context;
    snprintf(own, sizeof own, "%s", f->test);
    escape_message(own, sizeof own);
    return own;
}

static int report_pid(void)
{
    return fixed_pid ? fixed_pid : (int)getpid();
}

int report_load_suppressions(const char *path, char *err, size_t errlen)
{
    if (!path || !*path)
        return 0;
    return suppressions_load(&suppressions, path, err, errlen);
}

static void run_record_open(void);
static void run_record_failed(int err);

void report_init(const bs_options *o)
{
    opts = o;
    /* the record exists from the start: a process killed later still
     * counts, with whatever it found */
    run_record_open();
    ssize_t n = readlink("/proc/self/exe", main_program, sizeof main_program - 1);
    main_program[n > 0 ? n : 0] = '\0';
    const char *gha = getenv("GITHUB_ACTIONS");
    annotate = o->github_annotations == BS_GITHUB_ON ||
               (o->github_annotations == BS_GITHUB_AUTO && gha && !strcmp(gha, "true"));
}

void report_hide_module(const char *path)
{
    if (!path || !*path || nhidden >= (int)(sizeof hidden / sizeof hidden[0]))
        return;
    for (int i = 0; i < nhidden; i++)
        if (!strcmp(hidden[i], path))
            return;
    hidden[nhidden++] = strdup(path);
}

void report_hide_address(uint64_t addr)
{
    if (nhidden_addr < (int)(sizeof hidden_addr / sizeof hidden_addr[0]))
        hidden_addr[nhidden_addr++] = addr;
}

static int is_hidden(const char *module)
{
    /* the C library and the dynamic linker are never the bug */
    static const char *const base_names[] = {"libc.so.6", "ld-linux-x86-64.so.2", "libbufsan.so"};
    const char *slash = strrchr(module, '/');
    const char *base = slash ? slash + 1 : module;
    for (size_t i = 0; i < sizeof base_names / sizeof base_names[0]; i++)
        if (!strcmp(base, base_names[i]))
            return 1;
    /* the interpreter's own program (python3.11 linked to a shared libpython) */
    if (main_program[0] && !strcmp(module, main_program) && !strncmp(base, "python", 6))
        return 1;
    /* modules named by address are resolved on the first report */
    for (; nhidden_addr > 0; nhidden_addr--) {
        bs_native_frame f;
        if (symbolize_pc(hidden_addr[nhidden_addr - 1] + 1, &f) == 0)
            report_hide_module(f.module);
        if (opts->verbosity)
            fprintf(stderr, "==%d==bufsan: hiding native frames of %s\n", (int)getpid(), f.module);
    }
    for (int i = 0; i < nhidden; i++)
        if (!strcmp(hidden[i], module))
            return 1;
    return 0;
}

/* Is native frame PC of a stack with Python frames shown (see collect)? */
static int shown_under_python(uint64_t pc)
{
    bs_native_frame f;
    return symbolize_pc_name(pc, &f) == 0 && !is_hidden(f.module);
}

/* The frames a report shows: Python frames, then native frames (all of
 * them when there is no Python frame, else those outside hidden modules). */
typedef struct {
    bs_stack st;
    int shown_native[256];
    bs_native_frame native[256];
    int nnative;
} shown_stack;

static void collect(uint32_t id, shown_stack *s)
{
    memset(&s->st, 0, sizeof s->st);
    s->nnative = 0;
    if (!id || depot_get(id, &s->st) < 0)
        return;
    uint32_t limit = (uint32_t)opts->stack_depth;
    if (s->st.npy > limit)
        s->st.npy = limit;
    for (uint32_t i = 0; i < s->st.nnative && s->nnative < (int)limit && s->nnative < 256; i++) {
        bs_native_frame f;
        if (symbolize_pc_name(s->st.pcs[i], &f) < 0)
            continue;
        if (s->st.npy && is_hidden(f.module))
            continue;
        if (symbolize_pc(s->st.pcs[i], &f) < 0)
            continue;
        s->shown_native[s->nnative] = (int)i;
        s->native[s->nnative++] = f;
    }
}

static int frozen(const char *file)
{
    return !strncmp(file, "<frozen ", 8);
}

/* Modules that only carry a Python program's call into the C-API
 * (ctypes, libffi, cffi's backend): the program's line is the call's site,
 * not theirs. */
static int glue_module(const char *module)
{
    const char *slash = module ? strrchr(module, '/') : NULL;
    const char *base = slash ? slash + 1 : module ? module : "";
    return !strncmp(base, "_ctypes.", 8) || !strncmp(base, "libffi.so", 9) ||
           !strncmp(base, "_cffi_backend.", 14);
}

/* A native frame with the extension's own source line: not one of
 * CPython's header functions inlined into it (Py_DECREF's object.h), nor
 * a call carried by ctypes or cffi. */
static int own_source_line(const bs_native_frame *f)
{
    return f->file && !strstr(f->file, "/include/python3") && !is_hidden(f->module) &&
           !glue_module(f->module);
}

/* The frame a SUMMARY line names (an index into the frames in the order
 * reports show them: native, then Python), or -1: the innermost frame
 * outside the interpreter. Under Python frames the native ones are an
 * extension's innermost run (capture.c keeps only that: the consumer that
 * made the call), named when its source line is known; else the
 * innermost Python frame of the program (not a frozen module's). */
static int location_index(const shown_stack *s)
{
    int nn = s->nnative;
    if (s->st.npy) {
        for (int i = 0; i < nn; i++)
            if (own_source_line(&s->native[i]))
                return i;
        for (uint32_t i = 0; i < s->st.npy; i++)
            if (!frozen(s->st.py[i]->file))
                return nn + (int)i;
    }
    for (int i = 0; i < nn; i++)
        if (!is_hidden(s->native[i].module))
            return i;
    return s->st.npy ? nn : -1;
}

/* A census site: where the program acquires, its innermost Python frame
 * (not a frozen module's) when it has one, else as location_index. */
static int site_index(const shown_stack *s)
{
    for (uint32_t i = 0; i < s->st.npy; i++)
        if (!frozen(s->st.py[i]->file))
            return s->nnative + (int)i;
    return location_index(s);
}

/* Frame K of S (location_index's numbering) as `file:line in function`. */
static void frame_location(const shown_stack *s, int k, strbuf *b)
{
    if (k < 0) {
        sb_puts(b, "<unknown location>");
    } else if (k >= s->nnative) {
        const bs_py_frame *p = s->st.py[k - s->nnative];
        sb_printf(b, "%s:%d in %s", p->file, p->line, p->function);
    } else {
        const bs_native_frame *f = &s->native[k];
        if (f->file)
            sb_printf(b, "%s:%d in %s", f->file, f->line, f->function ? f->function : "??");
        else
            sb_printf(b, "(%s+0x%llx) in %s", f->module, (unsigned long long)f->offset,
                      f->function ? f->function : "??");
    }
}

static void summary_location(const shown_stack *s, strbuf *b)
{
    frame_location(s, location_index(s), b);
}

/* A finding's stacks as plain frames (resolved.h), with the location that
 * summary_location names. */
typedef struct {
    shown_stack shown[BS_MAX_FINDING_STACKS];
    bs_rframe frames[BS_MAX_FINDING_STACKS][512];
    bs_rstack stacks[BS_MAX_FINDING_STACKS];
} resolved_storage;

static void resolve(const bs_finding *f, resolved_storage *rs, bs_rfinding *out)
{
    for (int i = 0; i < f->nstacks; i++) {
        shown_stack *s = &rs->shown[i];
        collect(f->stacks[i].stack, s);
        /* innermost first: the extension's frames, then the Python ones */
        int k = 0;
        for (int j = 0; j < s->nnative; j++, k++)
            rs->frames[i][k] = (bs_rframe){.python = 0, .file = s->native[j].file,
                                           .line = s->native[j].line,
                                           .function = s->native[j].function,
                                           .module = s->native[j].module,
                                           .pc = s->st.pcs[s->shown_native[j]],
                                           .offset = s->native[j].offset};
        for (uint32_t j = 0; j < s->st.npy; j++, k++)
            rs->frames[i][k] = (bs_rframe){.python = 1, .file = s->st.py[j]->file,
                                           .line = s->st.py[j]->line,
                                           .function = s->st.py[j]->function};
        rs->stacks[i] = (bs_rstack){f->stacks[i].role, f->stacks[i].title, f->stacks[i].thread,
                                    k, rs->frames[i], location_index(s)};
    }
    *out = (bs_rfinding){f, 1, f->count, f->bytes, f->nstacks, rs->stacks};
}

/* Frames of the test runner and of the import system, folded in text
 * reports (fold_frames): the stack of a finding under pytest starts with
 * 30 frames of pytest and pluggy that say nothing about the bug. */
static const struct {
    const char *needle;
    int prefix; /* 1: the file name starts with needle; 0: contains it */
    const char *group;
} runner_files[] = {
    {"/_pytest/", 0, "pytest"},       {"/pytest/__main__.py", 0, "pytest"},
    {"/pluggy/", 0, "pluggy"},        {"/xdist/", 0, "xdist"},
    {"/execnet/", 0, "execnet"},      {"<frozen importlib", 1, "importlib"},
    {"/importlib/", 0, "importlib"},  {"<frozen runpy>", 1, "runpy"},
    {"/runpy.py", 0, "runpy"},        {"/bufsan/pytest_plugin.py", 0, "bufsan"},
};

static const char *runner_group(const char *file)
{
    if (!file)
        return NULL;
    for (size_t i = 0; i < sizeof runner_files / sizeof runner_files[0]; i++)
        if (runner_files[i].prefix ? !strncmp(file, runner_files[i].needle,
                                              strlen(runner_files[i].needle))
                                   : strstr(file, runner_files[i].needle) != NULL)
            return runner_files[i].group;
    return NULL;
}

static void text_stack(strbuf *b, const bs_finding_stack *fs, const shown_stack *s)
{
    sb_printf(b, "  %s\n", fs->title);
    int k = 0;
    /* innermost first: the extension's frames, then the Python ones */
    for (int i = 0; i < s->nnative; i++) {
        const bs_native_frame *f = &s->native[i];
        sb_printf(b, "    #%d 0x%llx in %s (%s+0x%llx)", k++,
                  (unsigned long long)s->st.pcs[s->shown_native[i]],
                  f->function ? f->function : "??", f->module, (unsigned long long)f->offset);
        if (f->file)
            sb_printf(b, " %s:%d", f->file, f->line);
        sb_puts(b, "\n");
    }
    for (uint32_t i = 0; i < s->st.npy; i++) {
        uint32_t run = 0;
        if (opts->fold_frames)
            while (i + run < s->st.npy && runner_group(s->st.py[i + run]->file))
                run++;
        if (run >= 2) {
            /* the groups of the run, each named once, in order of appearance */
            const char *groups[8];
            int ng = 0;
            for (uint32_t j = i; j < i + run; j++) {
                const char *g = runner_group(s->st.py[j]->file);
                int seen = 0;
                for (int q = 0; q < ng; q++)
                    seen |= groups[q] == g;
                if (!seen && ng < 8)
                    groups[ng++] = g;
            }
            sb_printf(b, "    ... %u frames of ", run);
            for (int q = 0; q < ng; q++)
                sb_printf(b, "%s%s", q ? ", " : "", groups[q]);
            sb_puts(b, " ...\n");
            k += (int)run;
            i += run - 1;
            continue;
        }
        sb_printf(b, "    #%d %s:%d in %s\n", k++, s->st.py[i]->file, s->st.py[i]->line,
                  s->st.py[i]->function);
    }
    if (k == 0)
        sb_puts(b, "    <no stack>\n");
}

static void json_stack(strbuf *b, const bs_finding_stack *fs, const shown_stack *s)
{
    sb_puts(b, "{\"role\": ");
    sb_json_str(b, fs->role);
    sb_printf(b, ", \"thread\": %u, \"frames\": [", fs->thread);
    int k = 0;
    /* innermost first: the extension's frames, then the Python ones */
    for (int i = 0; i < s->nnative; i++, k++) {
        const bs_native_frame *f = &s->native[i];
        sb_puts(b, k ? ", " : "");
        sb_printf(b, "{\"kind\": \"native\", \"pc\": \"0x%llx\", \"module\": ",
                  (unsigned long long)s->st.pcs[s->shown_native[i]]);
        sb_json_str(b, f->module);
        sb_printf(b, ", \"offset\": \"0x%llx\", \"function\": ", (unsigned long long)f->offset);
        if (f->function)
            sb_json_str(b, f->function);
        else
            sb_puts(b, "null");
        if (f->file) {
            sb_puts(b, ", \"file\": ");
            sb_json_str(b, f->file);
            sb_printf(b, ", \"line\": %d", f->line);
        }
        sb_puts(b, "}");
    }
    for (uint32_t i = 0; i < s->st.npy; i++, k++) {
        sb_puts(b, k ? ", " : "");
        sb_puts(b, "{\"kind\": \"python\", \"file\": ");
        sb_json_str(b, s->st.py[i]->file);
        sb_printf(b, ", \"line\": %d, \"function\": ", s->st.py[i]->line);
        sb_json_str(b, s->st.py[i]->function);
        const char *runner = runner_group(s->st.py[i]->file);
        if (runner) {
            /* what text reports fold (fold_frames) */
            sb_puts(b, ", \"runner\": ");
            sb_json_str(b, runner);
        }
        sb_puts(b, "}");
    }
    sb_puts(b, "]}");
}

static void format_text(strbuf *b, const bs_finding *f, shown_stack *stacks)
{
    int pid = report_pid();
    if (held_mode)
        sb_printf(b, "==%d==NOTE: bufsan: held at end of trace: %s\n", pid, f->message);
    else
        sb_printf(b, "==%d==%s: bufsan: %s: %s\n", pid,
                  f->severity == BS_SEV_ERROR ? "ERROR" : "WARNING", bs_checks[f->check].name,
                  f->message);
    const char *test = test_of_locked(f);
    if (test[0] && !held_mode)
        sb_printf(b, "  during test %s\n", test);
    for (int i = 0; i < f->nstacks; i++)
        text_stack(b, &f->stacks[i], &stacks[i]);
    if (held_mode) {
        sb_puts(b, "\n");
        return;
    }
    sb_printf(b, "SUMMARY: bufsan: %s ", bs_checks[f->check].name);
    summary_location(f->nstacks ? &stacks[0] : &(shown_stack){0}, b);
    sb_puts(b, "\n\n");
}

static void format_json(strbuf *b, const bs_finding *f, shown_stack *stacks,
                        const char *fingerprint, const char *suppression)
{
    if (held_mode) {
        sb_printf(b, "{\"bufsan\": 1, \"kind\": \"held\", \"pid\": %d, \"message\": ",
                  report_pid());
    } else {
        sb_puts(b, "{\"bufsan\": 1, \"kind\": \"finding\", \"check\": ");
        sb_json_str(b, bs_checks[f->check].name);
        sb_printf(b, ", \"severity\": \"%s\", \"pid\": %d, \"message\": ",
                  bs_severity_name(f->severity), report_pid());
    }
    sb_json_str(b, f->message);
    const char *test = test_of_locked(f);
    if (test[0] && !held_mode) {
        sb_puts(b, ", \"test\": ");
        sb_json_str(b, test);
    }
    sb_puts(b, ", \"exporter\": ");
    if (f->has_exporter) {
        sb_puts(b, "{\"type\": ");
        sb_json_str(b, f->exporter_type);
        sb_printf(b, ", \"address\": \"0x%llx\", \"len\": %lld, \"readonly\": %s}",
                  (unsigned long long)f->exporter_addr, (long long)f->exporter_len,
                  f->exporter_readonly ? "true" : "false");
    } else {
        sb_puts(b, "null");
    }
    sb_puts(b, ", \"request\": ");
    if (f->has_request) {
        char names[256];
        bs_flag_names(f->flags, names, sizeof names);
        sb_printf(b, "{\"flags\": %d, \"flag_names\": [", (int)f->flags);
        char *save = NULL;
        int first = 1;
        for (char *t = strtok_r(names, "|", &save); t; t = strtok_r(NULL, "|", &save)) {
            sb_puts(b, first ? "" : ", ");
            sb_json_str(b, t);
            first = 0;
        }
        sb_puts(b, "]}");
    } else {
        sb_puts(b, "null");
    }
    finding_json_fields(b, f);
    sb_printf(b, ", \"count\": %llu, \"bytes\": %lld, \"stacks\": [",
              (unsigned long long)f->count, (long long)f->bytes);
    for (int i = 0; i < f->nstacks; i++) {
        sb_puts(b, i ? ", " : "");
        json_stack(b, &f->stacks[i], &stacks[i]);
    }
    sb_printf(b, "], \"fingerprint\": \"%s\"", fingerprint);
    if (suppression) {
        sb_puts(b, ", \"suppression\": ");
        sb_json_str(b, suppression);
    }
    sb_puts(b, "}\n");
}

/* Decisions already taken, by (check, exporter type, stack ids): a suppressed
 * finding that recurs a million times is symbolized and matched once. Values:
 * 1 = not suppressed, k + 2 = suppressed by rule k. */
static u64map decided;

static uint64_t decision_key(const bs_finding *f)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ (uint64_t)f->check;
    const char *t = f->has_exporter && f->exporter_type ? f->exporter_type : "";
    for (; *t; t++)
        h = (h ^ (unsigned char)*t) * 0x100000001b3ULL;
    for (int i = 0; i < f->nstacks; i++)
        h = (h ^ f->stacks[i].stack) * 0x100000001b3ULL + (h >> 29);
    return u64_mix(h) | 1;
}

static int match_suppressions(const bs_finding *f);

/* Is F suppressed? Matches every frame of every stack, hidden ones too. */
static int suppressed(const bs_finding *f)
{
    if (!suppressions.n)
        return 0;
    if (!decided.cap)
        u64map_init(&decided, 64);
    uint64_t key = decision_key(f);
    uintptr_t d = (uintptr_t)u64map_get(&decided, key);
    if (d) {
        if (d == 1)
            return 0;
        suppressions.rules[d - 2].hits++;
        return 1;
    }
    int rule = match_suppressions(f);
    u64map_put(&decided, key, (void *)(uintptr_t)(rule < 0 ? 1 : (uintptr_t)rule + 2));
    return rule >= 0;
}

/* Index of the rule that suppresses F (and counts it), or -1. */
static int match_suppressions(const bs_finding *f)
{
    const char *strs[2 * 256 * BS_MAX_FINDING_STACKS];
    size_t n = 0;
    for (int i = 0; i < f->nstacks; i++) {
        bs_stack st;
        if (!f->stacks[i].stack || depot_get(f->stacks[i].stack, &st) < 0)
            continue;
        for (uint32_t k = 0; k < st.npy && n + 2 <= sizeof strs / sizeof strs[0]; k++) {
            strs[n++] = st.py[k]->function;
            strs[n++] = st.py[k]->file;
        }
        for (uint32_t k = 0; k < st.nnative && n + 2 <= sizeof strs / sizeof strs[0]; k++) {
            bs_native_frame nf;
            if (symbolize_pc_name(st.pcs[k], &nf) < 0)
                continue;
            strs[n++] = nf.function;
            strs[n++] = nf.module;
        }
    }
    bs_match_subject subj = {strs, n, f->has_exporter ? f->exporter_type : NULL};
    bs_suppression *r = suppressions_match(&suppressions, f->check, &subj);
    return r ? (int)(r - suppressions.rules) : -1;
}

/* Room for one more occurrence (the array doubles); 0 when out of memory.
 * Lock held. */
static int occurrence_room_locked(void)
{
    if (nocc < occ_cap)
        return 1;
    size_t cap = occ_cap ? occ_cap * 2 : 64;
    occurrence *n = realloc(occs, cap * sizeof *n);
    if (!n)
        return 0;
    occs = n;
    occ_cap = cap;
    return 1;
}

/* Notes an occurrence of findlog entry E for the program (once per context
 * generation); JSON is its report, given when E is new. Lock held. */
static void note_occurrence_locked(const bs_logged_finding *e, const char *json, int repeat)
{
    if (!e)
        return;
    size_t idx = (size_t)(e - findlog.items);
    if (idx >= entry_cap) {
        size_t cap = entry_cap ? entry_cap * 2 : 64;
        while (cap <= idx)
            cap *= 2;
        char **nj = realloc(entry_json, cap * sizeof *nj);
        if (!nj)
            return;
        entry_json = nj;
        uint64_t *ng = realloc(entry_gen, cap * sizeof *ng);
        if (!ng)
            return;
        entry_gen = ng;
        memset(entry_json + entry_cap, 0, (cap - entry_cap) * sizeof *nj);
        memset(entry_gen + entry_cap, 0, (cap - entry_cap) * sizeof *ng);
        entry_cap = cap;
    }
    if (json && !entry_json[idx])
        entry_json[idx] = strdup(json);
    if (entry_gen[idx] == context_gen || !entry_json[idx])
        return;
    if (!occurrence_room_locked())
        return;
    occs[nocc++] = (occurrence){idx, context[0] ? strdup(context) : NULL, repeat, NULL};
    entry_gen[idx] = context_gen;
}

void report_set_context(const char *name)
{
    pthread_mutex_lock(&lock);
    snprintf(context, sizeof context, "%s", name ? name : "");
    escape_message(context, sizeof context);
    context_gen++;
    pthread_mutex_unlock(&lock);
}

size_t report_for_each_occurrence(size_t from,
                                  int (*fn)(const char *json, const char *context, int repeat,
                                            void *ctx),
                                  void *ctx)
{
    pthread_mutex_lock(&lock);
    size_t n = nocc;
    for (size_t i = from; i < n; i++)
        if (fn(occs[i].own_json ? occs[i].own_json : entry_json[occs[i].entry], occs[i].context,
               occs[i].own_json ? 2 : occs[i].repeat, ctx) < 0)
            break;
    pthread_mutex_unlock(&lock);
    return n;
}

void report_set_expected(uint64_t checks)
{
    pthread_mutex_lock(&lock);
    expected_checks = checks;
    pthread_mutex_unlock(&lock);
}

/* A finding the program said it expects: counted as suppressed, not
 * printed, handed to the program (bounded: a loop of them is not kept). */
static void note_expected_locked(const bs_finding *f, resolved_storage *rs)
{
    if (++nexpected > 10000 || (nocc == occ_cap && occ_cap >= 1u << 20))
        return;
    if (!occurrence_room_locked())
        return;
    bs_rfinding r;
    resolve(f, rs, &r);
    char fingerprint[17];
    rfinding_fingerprint(&r, fingerprint);
    strbuf j = {0};
    format_json(&j, f, rs->shown, fingerprint, NULL);
    occs[nocc++] = (occurrence){0, context[0] ? strdup(context) : NULL, 0, j.data};
}

void report_finding(const bs_finding *f, void *unused)
{
    (void)unused;
    static resolved_storage rs;
    pthread_mutex_lock(&lock);
    if (suppressed(f)) {
        nsuppressed++;
        pthread_mutex_unlock(&lock);
        return;
    }
    if (f->check < 64 && (expected_checks >> f->check & 1)) {
        int is_new_expected = 1;
        findlog_add(&expected_log, f, &is_new_expected);
        nsuppressed++;
        note_expected_locked(f, &rs);
        pthread_mutex_unlock(&lock);
        return;
    }
    if (expected_log.n && findlog_find(&expected_log, f)) {
        /* repeated outside the test that expected it: counted once there */
        pthread_mutex_unlock(&lock);
        return;
    }
    /* the same check with the same stacks again: counted, not printed */
    int is_new = 1;
    bs_logged_finding *e = findlog_add(&findlog, f, &is_new);
    if (!is_new) {
        nduplicates++;
        note_occurrence_locked(e, NULL, 1);
        pthread_mutex_unlock(&lock);
        return;
    }
    bs_rfinding r;
    resolve(f, &rs, &r);
    char fingerprint[17];
    rfinding_fingerprint(&r, fingerprint);
    strbuf loc = {0}, supp = {0};
    summary_location(f->nstacks ? &rs.shown[0] : &(shown_stack){0}, &loc);
    if (opts->gen_suppressions)
        suppression_line(&supp, &r);
    if (e) {
        memcpy(e->fingerprint, fingerprint, sizeof fingerprint);
        snprintf(e->location, sizeof e->location, "%s", loc.data ? loc.data : "");
        snprintf(e->test, sizeof e->test, "%s", test_of_locked(f));
    }
    strbuf b = {0};
    if (opts->log_format == BS_LOG_FORMAT_JSON) {
        format_json(&b, f, rs.shown, fingerprint, supp.data);
    } else if (opts->log_format == BS_LOG_FORMAT_TEXT) {
        format_text(&b, f, rs.shown);
        if (supp.data)
            sb_printf(&b, "==%d==bufsan: to suppress this finding, add this line to the "
                          "suppressions file:\n%s\n\n", (int)getpid(), supp.data);
    } else if (supp.data) {
        /* SARIF is written at exit; the lines to paste go to stderr now */
        strbuf line = {0};
        sb_printf(&line, "%s\n", supp.data);
        if (write(2, line.data, line.len) < 0) {
            /* nothing left to tell */
        }
        sb_free(&line);
    }
    if (b.data)
        output_write(b.data, b.len);
    if (opts->log_format == BS_LOG_FORMAT_JSON) {
        note_occurrence_locked(e, b.data, 0);
    } else {
        strbuf j = {0};
        format_json(&j, f, rs.shown, fingerprint, supp.data);
        note_occurrence_locked(e, j.data, 0);
        sb_free(&j);
    }
    sb_free(&b);
    if (annotate) {
        github_annotation(&b, &r);
        if (write(2, b.data, b.len) < 0) {
            /* stderr is gone: the report itself is in the log */
        }
        sb_free(&b);
    }
    if (opts->run_dir && *opts->run_dir) {
        /* written now: a worker its pool SIGTERMs never reaches its summary */
        if (runrec_fd < 0)
            run_record_open();
        if (runrec_fd >= 0) {
            strbuf line = {0};
            runrec_finding_line(&line, &r, loc.data ? loc.data : "");
            if (runrec_append(runrec_fd, &line) < 0)
                run_record_failed(errno);
            sb_free(&line);
        }
    }
    sb_free(&loc);
    sb_free(&supp);
    count_by_check[f->check]++;
    if (f->severity == BS_SEV_ERROR)
        nerrors++;
    else
        nwarnings++;
    int halt = opts->halt_on_error && f->severity == BS_SEV_ERROR;
    pthread_mutex_unlock(&lock);
    if (halt) {
        report_summary();
        _exit((int)opts->exitcode);
    }
}

static void write_sarif(strbuf *b)
{
    static resolved_storage rs;
    sarif_begin(b, (int)getpid());
    for (size_t i = 0; i < findlog.n; i++) {
        const bs_logged_finding *e = &findlog.items[i];
        bs_rfinding r;
        resolve(&e->first, &rs, &r);
        r.occurrences = e->occurrences;
        r.count = e->count;
        r.bytes = e->bytes;
        r.test = e->test[0] ? e->test : NULL;
        sarif_result(b, &r, i == 0);
    }
    sarif_end(b);
}

static void read_command(char *cmd, size_t size)
{
    cmd[0] = '\0';
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, cmd, size - 1);
    close(fd);
    for (ssize_t i = 0; i < n; i++)
        if (cmd[i] == '\0')
            cmd[i] = ' ';
    while (n > 0 && cmd[n - 1] == ' ')
        n--;
    cmd[n > 0 ? n : 0] = '\0';
}

static void run_record_failed(int err)
{
    if (runrec_failed++)
        return;
    char msg[4400];
    int n = snprintf(msg, sizeof msg,
                     "==%d==WARNING: bufsan: cannot write the run record in run_dir=%s (%s)\n",
                     (int)getpid(), opts->run_dir, strerror(err));
    if (write(2, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1) < 0) {
        /* nothing left to tell */
    }
}

static void run_record_open(void)
{
    if (!opts->run_dir || !*opts->run_dir || runrec_fd >= 0)
        return;
    char cmd[1024];
    read_command(cmd, sizeof cmd);
    strbuf b = {0};
    runrec_start_lines(&b, (int)getpid(), (int)getppid(), cmd);
    runrec_fd = runrec_create(opts->run_dir, (int)getpid(), &b);
    if (runrec_fd < 0)
        run_record_failed(errno);
    sb_free(&b);
}

/* The end of the record: the counts and the de-duplicated findings. */
static void write_run_record(void)
{
    static resolved_storage rs;
    if (!opts->run_dir || !*opts->run_dir)
        return;
    run_record_open();
    if (runrec_fd < 0)
        return;
    char cmd[1024];
    read_command(cmd, sizeof cmd);
    strbuf b = {0};
    bs_runrec_process p = {(int)getpid(), (int)getppid(), nerrors, nwarnings, nsuppressed,
                           nduplicates, cmd};
    runrec_process_line(&b, &p);
    for (size_t i = 0; i < findlog.n; i++) {
        const bs_logged_finding *e = &findlog.items[i];
        bs_rfinding r;
        resolve(&e->first, &rs, &r);
        r.occurrences = e->occurrences;
        r.count = e->count;
        runrec_finding_line(&b, &r, e->location);
    }
    if (runrec_append(runrec_fd, &b) < 0)
        run_record_failed(errno);
    sb_free(&b);
    close(runrec_fd);
    runrec_fd = -1;
}

void report_summary(void)
{
    pthread_mutex_lock(&lock);
    if (summary_done) {
        pthread_mutex_unlock(&lock);
        return;
    }
    summary_done = 1;
    strbuf b = {0};
    if (opts->log_format == BS_LOG_FORMAT_SARIF) {
        write_sarif(&b);
    } else if (opts->log_format == BS_LOG_FORMAT_JSON) {
        sb_printf(&b,
                  "{\"bufsan\": 1, \"kind\": \"summary\", \"pid\": %d, \"errors\": %llu, "
                  "\"warnings\": %llu, \"suppressed\": %llu, \"by_check\": {",
                  report_pid(), (unsigned long long)nerrors, (unsigned long long)nwarnings,
                  (unsigned long long)nsuppressed);
        int first = 1;
        for (int i = 0; i < BS_CHECK_COUNT; i++)
            if (count_by_check[i]) {
                sb_printf(&b, "%s\"%s\": %llu", first ? "" : ", ", bs_checks[i].name,
                          (unsigned long long)count_by_check[i]);
                first = 0;
            }
        sb_puts(&b, "}, \"suppressions\": [");
        for (size_t i = 0; i < suppressions.n; i++) {
            sb_puts(&b, i ? ", {\"rule\": " : "{\"rule\": ");
            sb_json_str(&b, suppressions.rules[i].text);
            sb_printf(&b, ", \"line\": %d, \"count\": %llu}", suppressions.rules[i].line,
                      (unsigned long long)suppressions.rules[i].hits);
        }
        sb_printf(&b, "], \"duplicates\": %llu, \"repeated\": [", (unsigned long long)nduplicates);
        int first_rep = 1;
        for (size_t i = 0; i < findlog.n; i++) {
            const bs_logged_finding *e = &findlog.items[i];
            if (e->occurrences < 2)
                continue;
            sb_puts(&b, first_rep ? "{\"check\": " : ", {\"check\": ");
            sb_json_str(&b, bs_checks[e->first.check].name);
            sb_printf(&b, ", \"fingerprint\": \"%s\", \"occurrences\": %llu, \"count\": %llu, "
                          "\"bytes\": %lld}", e->fingerprint, (unsigned long long)e->occurrences,
                      (unsigned long long)e->count, (long long)e->bytes);
            first_rep = 0;
        }
        sb_puts(&b, "]}\n");
    } else if (nerrors || nwarnings || nsuppressed) {
        sb_printf(&b, "==%d==bufsan: %llu error%s, %llu warning%s, %llu suppressed", report_pid(),
                  (unsigned long long)nerrors, nerrors == 1 ? "" : "s",
                  (unsigned long long)nwarnings, nwarnings == 1 ? "" : "s",
                  (unsigned long long)nsuppressed);
        const char *sep = " (";
        for (int i = 0; i < BS_CHECK_COUNT; i++)
            if (count_by_check[i]) {
                sb_printf(&b, "%s%s: %llu", sep, bs_checks[i].name,
                          (unsigned long long)count_by_check[i]);
                sep = ", ";
            }
        sb_puts(&b, sep[0] == ',' ? ")\n" : "\n");
        for (size_t i = 0; i < suppressions.n; i++)
            sb_printf(&b, "==%d==bufsan: suppression %s:%d '%s' matched %llu finding%s%s\n",
                      report_pid(), suppressions.path, suppressions.rules[i].line,
                      suppressions.rules[i].text, (unsigned long long)suppressions.rules[i].hits,
                      suppressions.rules[i].hits == 1 ? "" : "s",
                      suppressions.rules[i].hits ? "" : " (unused)");
        for (size_t i = 0; i < findlog.n; i++) {
            const bs_logged_finding *e = &findlog.items[i];
            if (e->occurrences > 1)
                sb_printf(&b, "==%d==bufsan: %s %s reported %llu times (same stacks; printed "
                              "once, count %llu)\n", (int)getpid(),
                          bs_checks[e->first.check].name, e->location,
                          (unsigned long long)e->occurrences, (unsigned long long)e->count);
        }
    }
    if (b.data)
        output_write(b.data, b.len);
    sb_free(&b);
    write_run_record();
    pthread_mutex_unlock(&lock);
}

int report_summary_written(void)
{
    return __atomic_load_n(&summary_done, __ATOMIC_SEQ_CST);
}

uint64_t report_error_count(void)
{
    return nerrors;
}

void report_after_fork_child(void)
{
    pthread_mutex_init(&lock, NULL);
    memset(count_by_check, 0, sizeof count_by_check);
    nerrors = nwarnings = nsuppressed = nduplicates = 0;
    findlog_clear(&findlog);
    findlog_clear(&expected_log);
    for (size_t i = 0; i < entry_cap; i++)
        free(entry_json[i]);
    memset(entry_json, 0, entry_cap * sizeof *entry_json);
    memset(entry_gen, 0, entry_cap * sizeof *entry_gen);
    for (size_t i = 0; i < nocc; i++) {
        free(occs[i].context);
        free(occs[i].own_json);
    }
    nocc = 0;
    summary_done = 0;
    /* the parent's record is the parent's; the child creates its own at its
     * first finding or at its end (a child that execs gets one at start) */
    if (runrec_fd >= 0)
        close(runrec_fd);
    runrec_fd = -1;
    runrec_failed = 0;
    output_after_fork_child();
    symbolize_reset();
}

void report_set_pid(int pid)
{
    fixed_pid = pid;
}

void report_held(const bs_finding *f)
{
    static resolved_storage rs;
    pthread_mutex_lock(&lock);
    bs_rfinding r;
    resolve(f, &rs, &r);
    char fingerprint[17];
    rfinding_fingerprint(&r, fingerprint);
    strbuf b = {0};
    held_mode = 1;
    if (opts->log_format == BS_LOG_FORMAT_JSON)
        format_json(&b, f, rs.shown, fingerprint, NULL);
    else
        format_text(&b, f, rs.shown);
    held_mode = 0;
    if (b.data)
        output_write(b.data, b.len);
    sb_free(&b);
    pthread_mutex_unlock(&lock);
}

/* ---- stacks for other reports (the census) ------------------------------ */

void report_stack_location(uint32_t stack, strbuf *b)
{
    static shown_stack s;
    pthread_mutex_lock(&lock);
    collect(stack, &s);
    frame_location(&s, site_index(&s), b);
    pthread_mutex_unlock(&lock);
}

void report_stack_text(strbuf *b, const char *title, uint32_t thread, uint32_t stack)
{
    static shown_stack s;
    pthread_mutex_lock(&lock);
    collect(stack, &s);
    bs_finding_stack fs = {"", title, thread, stack};
    text_stack(b, &fs, &s);
    pthread_mutex_unlock(&lock);
}

void report_stack_json(strbuf *b, const char *role, uint32_t thread, uint32_t stack)
{
    static shown_stack s;
    pthread_mutex_lock(&lock);
    collect(stack, &s);
    bs_finding_stack fs = {role, "", thread, stack};
    json_stack(b, &fs, &s);
    pthread_mutex_unlock(&lock);
}

int report_current_pid(void)
{
    return report_pid();
}
