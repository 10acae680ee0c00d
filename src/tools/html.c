/* See html.h. The page embeds its data as JSON and draws it with the
 * script and style compiled in from timeline.js and timeline.css; nothing
 * is fetched from the network. The page is a list of sections (one row of
 * a table each): another report section adds a row, its markup and data. */
#include "html.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/checks.h"
#include "../common/strbuf.h"
#include "html_census.h"
#include "../common/u64map.h"
#include "../stacks/depot.h"
#include "../stacks/symbolize.h"

typedef struct {
    uint32_t pid;
    uint64_t obj;
    char *type;
} lane;

typedef struct {
    int lane;
    uint64_t start, end; /* absolute ns; end 0 = still held */
    int open, held_at_end;
    int32_t flags;
    int readonly;
    uint32_t thread;
    int64_t len;
    uint64_t view, obj;
    uint32_t pid;
    int acq, rel; /* stack text indexes, -1 none */
    int test;     /* the test it was acquired in (index into tests), -1 none */
} hold;

typedef struct {
    int lane;
    uint64_t t;
    const char *check;
    const char *severity;
    char *message;
    char *type; /* exporter type, NULL: none */
    uint64_t count;
    int64_t bytes;
    int64_t thread; /* of the first stack, -1: none */
    int nstacks;
    char *titles[BS_MAX_FINDING_STACKS];
    int stacks[BS_MAX_FINDING_STACKS];
    uint32_t pid;
    int test; /* the test it belongs to (index into tests), -1 none */
} mark;

typedef struct {
    uint32_t pid, ppid;
    char *exe, *trace;
    uint64_t start, end;
    int died;
} proc;

struct html_doc {
    lane *lanes;
    size_t nlanes, caplanes;
    hold *holds;
    size_t nholds, capholds;
    mark *marks;
    size_t nmarks, capmarks;
    proc *procs;
    size_t nprocs, capprocs;
    char **texts;
    size_t ntexts, captexts;
    char **tests; /* pytest nodeids, in order of appearance */
    size_t ntests, captests;
    int cur_test; /* the test running now in the current process, -1 none */
    u64map lane_of;  /* mix(pid, obj) -> lane+1 */
    u64map text_of;  /* depot id -> text+1 (per process) */
    uint64_t t0;     /* current process start */
};

#define GROW(arr, n, cap)                                                                     \
    do {                                                                                      \
        if ((n) == (cap)) {                                                                   \
            size_t c_ = (cap) ? (cap) * 2 : 64;                                               \
            void *p_ = realloc((arr), c_ * sizeof *(arr));                                    \
            if (!p_)                                                                          \
                abort();                                                                      \
            (arr) = p_;                                                                       \
            (cap) = c_;                                                                       \
        }                                                                                     \
    } while (0)

html_doc *html_new(void)
{
    html_doc *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    u64map_init(&d->lane_of, 1024);
    u64map_init(&d->text_of, 1024);
    d->cur_test = -1;
    return d;
}

/* Index of test NAME in d->tests (added if new); -1 for none. A page has a
 * few thousand tests at most: a linear search is enough. */
static int test_index(html_doc *d, const char *name)
{
    if (!name || !*name)
        return -1;
    for (size_t i = 0; i < d->ntests; i++)
        if (!strcmp(d->tests[i], name))
            return (int)i;
    GROW(d->tests, d->ntests, d->captests);
    if (!(d->tests[d->ntests] = strdup(name)))
        return -1;
    return (int)d->ntests++;
}

void html_test(html_doc *d, const char *name)
{
    d->cur_test = test_index(d, name);
}

static uint64_t key(uint32_t pid, uint64_t obj)
{
    return u64_mix(obj ^ ((uint64_t)pid << 47)) | 1;
}

static proc *cur_proc(html_doc *d)
{
    return d->nprocs ? &d->procs[d->nprocs - 1] : NULL;
}

void html_begin_process(html_doc *d, uint32_t pid, const char *trace_path)
{
    GROW(d->procs, d->nprocs, d->capprocs);
    proc *p = &d->procs[d->nprocs++];
    memset(p, 0, sizeof *p);
    p->pid = pid;
    p->trace = strdup(trace_path);
    p->exe = strdup("");
    u64map_destroy(&d->text_of);
    u64map_init(&d->text_of, 1024);
    d->t0 = 0;
    d->cur_test = -1;
}

void html_process_info(html_doc *d, uint32_t pid, uint32_t ppid, const char *exe, uint64_t start)
{
    proc *p = cur_proc(d);
    if (!p)
        return;
    p->pid = pid;
    p->ppid = ppid;
    free(p->exe);
    p->exe = strdup(exe);
    p->start = p->end = start;
    d->t0 = start;
}

static int stack_text(html_doc *d, uint32_t id)
{
    if (!id)
        return -1;
    uintptr_t t = (uintptr_t)u64map_get(&d->text_of, id);
    if (t)
        return (int)t - 1;
    bs_stack st;
    if (depot_get(id, &st) < 0)
        return -1;
    strbuf b = {0};
    int k = 0;
    /* innermost first, as the reports: the extension's frames, then Python */
    for (uint32_t i = 0; i < st.nnative && k < 64; i++, k++) {
        bs_native_frame f;
        if (symbolize_pc(st.pcs[i], &f) < 0) {
            sb_printf(&b, "#%d 0x%llx\n", k, (unsigned long long)st.pcs[i]);
            continue;
        }
        sb_printf(&b, "#%d 0x%llx in %s (%s+0x%llx)", k, (unsigned long long)st.pcs[i],
                  f.function ? f.function : "??", f.module, (unsigned long long)f.offset);
        if (f.file)
            sb_printf(&b, " %s:%d", f.file, f.line);
        sb_puts(&b, "\n");
    }
    for (uint32_t i = 0; i < st.npy && k < 64; i++, k++)
        sb_printf(&b, "#%d %s:%d in %s\n", k, st.py[i]->file, st.py[i]->line, st.py[i]->function);
    GROW(d->texts, d->ntexts, d->captexts);
    d->texts[d->ntexts] = b.data ? b.data : strdup("<no frames>");
    u64map_put(&d->text_of, id, (void *)(uintptr_t)(d->ntexts + 1));
    return (int)d->ntexts++;
}

static int lane_for(html_doc *d, uint32_t pid, uint64_t obj, const char *type, int create)
{
    uintptr_t l = (uintptr_t)u64map_get(&d->lane_of, key(pid, obj));
    if (l || !create)
        return (int)l - 1;
    GROW(d->lanes, d->nlanes, d->caplanes);
    d->lanes[d->nlanes] = (lane){pid, obj, strdup(type && *type ? type : "?")};
    u64map_put(&d->lane_of, key(pid, obj), (void *)(uintptr_t)(d->nlanes + 1));
    return (int)d->nlanes++;
}

void html_event_before(html_doc *d, uint32_t pid, uint64_t now, const bs_event *ev, bs_engine *e)
{
    (void)d, (void)pid, (void)now, (void)ev, (void)e;
}

static void close_holds(html_doc *d, uint32_t pid, uint64_t t, const bs_event *ev, bs_engine *e)
{
    for (size_t i = 0; i < d->nholds; i++) {
        hold *h = &d->holds[i];
        if (!h->open || h->pid != pid || h->obj != ev->obj)
            continue;
        if (ev->kind == BS_EV_RELEASE && engine_has_live_view(e, h->view, h->obj))
            continue;
        h->open = 0;
        h->end = t;
        h->rel = stack_text(d, ev->stack);
    }
}

void html_event_after(html_doc *d, uint32_t pid, uint64_t now, const bs_event *ev, bs_engine *e)
{
    uint64_t t = d->t0 + now;
    proc *p = cur_proc(d);
    if (p && t > p->end)
        p->end = t;
    if (ev->kind == BS_EV_EXPORT) {
        GROW(d->holds, d->nholds, d->capholds);
        hold *h = &d->holds[d->nholds++];
        memset(h, 0, sizeof *h);
        h->lane = lane_for(d, pid, ev->obj, engine_string(e, ev->type_name), 1);
        h->start = t;
        h->open = 1;
        h->flags = ev->flags;
        h->readonly = ev->v.readonly;
        h->thread = ev->thread;
        h->len = ev->v.len;
        h->view = ev->view;
        h->obj = ev->obj;
        h->pid = pid;
        h->acq = stack_text(d, ev->stack);
        h->rel = -1;
        h->test = d->cur_test;
    } else if (ev->kind == BS_EV_RELEASE) {
        close_holds(d, pid, t, ev, e);
    } else if (ev->kind == BS_EV_DEALLOC) {
        close_holds(d, pid, t, ev, e);
        /* the address may be reused by another exporter: a new lane then */
        u64map_del(&d->lane_of, key(pid, ev->obj));
    }
}

void html_finding(html_doc *d, uint32_t pid, uint64_t now, const bs_finding *f)
{
    GROW(d->marks, d->nmarks, d->capmarks);
    mark *m = &d->marks[d->nmarks++];
    memset(m, 0, sizeof *m);
    m->t = d->t0 + now;
    m->pid = pid;
    m->lane = f->has_exporter ? lane_for(d, pid, f->exporter_addr, f->exporter_type, 1) : -1;
    m->check = bs_checks[f->check].name;
    m->severity = bs_severity_name(f->severity);
    m->message = strdup(f->message);
    m->type = f->has_exporter && f->exporter_type ? strdup(f->exporter_type) : NULL;
    m->count = f->count;
    m->bytes = f->bytes;
    m->thread = f->nstacks ? (int64_t)f->stacks[0].thread : -1;
    /* a leak names the test that acquired it; the rest, the one running */
    m->test = f->test ? test_index(d, f->test) : d->cur_test;
    m->nstacks = f->nstacks;
    for (int i = 0; i < f->nstacks; i++) {
        m->titles[i] = strdup(f->stacks[i].title);
        m->stacks[i] = stack_text(d, f->stacks[i].stack);
    }
}

void html_end_process(html_doc *d, uint32_t pid, uint64_t now, bs_engine *e, int died)
{
    (void)e;
    proc *p = cur_proc(d);
    uint64_t t = d->t0 + now;
    if (p) {
        if (t > p->end)
            p->end = t;
        p->died = died;
    }
    for (size_t i = 0; i < d->nholds; i++)
        if (d->holds[i].open && d->holds[i].pid == pid) {
            d->holds[i].open = 0;
            d->holds[i].held_at_end = 1;
            d->holds[i].end = p ? p->end : t;
        }
    /* lanes of this process end with it */
    for (size_t i = 0; i < d->nlanes; i++)
        if (d->lanes[i].pid == pid)
            u64map_del(&d->lane_of, key(pid, d->lanes[i].obj));
}

static const char *access_kind(const hold *h)
{
    if (h->flags & 1)
        return "writer";
    return h->readonly ? "read-only" : "reader";
}

#include "timeline_css.h" /* generated from timeline.css */
#include "timeline_js.h"  /* generated from timeline.js */

static const char timeline_markup[] =
    "<h2>bufsan timeline</h2>\n<div id=\"summary\"></div>\n"
    "<h3 id=\"findings-title\">Findings</h3><div id=\"findings\"></div>\n"
    "<h3>Details<span id=\"details-tools\">"
    "<button id=\"zoom-finding\">zoom to the selected finding</button>"
    "<button id=\"zoom-reset\">whole run</button></span></h3>"
    "<div id=\"details\">click a finding, a bar or a mark</div>\n"
    "<div id=\"filters\">filter: <label>type <select id=\"f-type\"></select></label>"
    "<label>thread <select id=\"f-thread\"></select></label>"
    "<label>process <select id=\"f-pid\"></select></label>"
    "<label id=\"f-test-box\">test <select id=\"f-test\"></select></label></div>\n"
    "<div class=\"legend\">bars:<i style=\"background:#e8743b\"></i>writer"
    "<i style=\"background:#3b7de8\"></i>reader<i style=\"background:#3ba55c\"></i>read-only"
    "<i style=\"outline:2px dashed #000\"></i>held at end of trace"
    "<i style=\"outline:2px solid #d00\"></i>involved in the selected finding"
    "<i style=\"background:#d00\"></i>finding</div>\n"
    "<h3 id=\"timeline-title\">Exporters</h3><div id=\"timeline\"></div>\n";

static void timeline_data(html_doc *d, strbuf *j);

/* The page's sections, top to bottom. DATA writes the value of D[KEY] (the
 * embedded JSON object) for SCRIPT, which runs after D is parsed. */
typedef struct {
    const char *markup;
    const char *key;
    void (*data)(html_doc *d, strbuf *j);
    const char *style, *script;
} html_section;

static const html_section sections[] = {
    {timeline_markup, NULL, timeline_data, timeline_css, timeline_js},
};

static void flag_text(int32_t flags, char *buf, size_t len)
{
    bs_flag_names(flags, buf, len);
}

/* The members processes, lanes, holds, marks and stacks of D. */
static void timeline_data(html_doc *d, strbuf *j)
{
    sb_puts(j, "\"processes\": [");
    for (size_t i = 0; i < d->nprocs; i++) {
        proc *p = &d->procs[i];
        sb_printf(j, "%s{\"pid\": %u, \"ppid\": %u, \"start\": %llu, \"end\": %llu, \"died\": %s, "
                      "\"exe\": ",
                  i ? ", " : "", p->pid, p->ppid, (unsigned long long)p->start,
                  (unsigned long long)p->end, p->died ? "true" : "false");
        sb_json_str(j, p->exe);
        sb_puts(j, ", \"trace\": ");
        sb_json_str(j, p->trace);
        sb_puts(j, "}");
    }
    sb_puts(j, "], \"lanes\": [");
    for (size_t i = 0; i < d->nlanes; i++) {
        sb_printf(j, "%s{\"pid\": %u, \"obj\": \"0x%llx\", \"type\": ", i ? ", " : "",
                  d->lanes[i].pid, (unsigned long long)d->lanes[i].obj);
        sb_json_str(j, d->lanes[i].type);
        sb_puts(j, "}");
    }
    sb_puts(j, "], \"holds\": [");
    for (size_t i = 0; i < d->nholds; i++) {
        hold *h = &d->holds[i];
        char fl[128];
        flag_text(h->flags, fl, sizeof fl);
        uint64_t end = h->open ? h->start : h->end;
        sb_printf(j,
                  "%s{\"lane\": %d, \"start\": %llu, \"end\": %llu, \"held\": %s, \"kind\": \"%s\", "
                  "\"flags\": \"%s\", \"len\": %lld, \"view\": \"0x%llx\", \"pid\": %u, \"thread\": %u, "
                  "\"acq\": %d, \"rel\": %d",
                  i ? ", " : "", h->lane, (unsigned long long)h->start, (unsigned long long)end,
                  h->held_at_end ? "true" : "false", access_kind(h), fl, (long long)h->len,
                  (unsigned long long)h->view, h->pid, h->thread, h->acq, h->rel);
        if (h->test >= 0)
            sb_printf(j, ", \"test\": %d", h->test);
        sb_puts(j, "}");
    }
    sb_puts(j, "], \"marks\": [");
    for (size_t i = 0; i < d->nmarks; i++) {
        mark *m = &d->marks[i];
        sb_printf(j,
                  "%s{\"lane\": %d, \"t\": %llu, \"pid\": %u, \"thread\": %lld, \"check\": \"%s\", "
                  "\"severity\": \"%s\", \"count\": %llu, \"bytes\": %lld, \"type\": ",
                  i ? ", " : "", m->lane, (unsigned long long)m->t, m->pid, (long long)m->thread,
                  m->check, m->severity, (unsigned long long)m->count, (long long)m->bytes);
        sb_json_str(j, m->type ? m->type : "");
        if (m->test >= 0) {
            sb_puts(j, ", \"test\": ");
            sb_json_str(j, d->tests[m->test]);
        }
        sb_puts(j, ", \"message\": ");
        sb_json_str(j, m->message);
        sb_puts(j, ", \"stacks\": [");
        for (int k = 0; k < m->nstacks; k++) {
            sb_puts(j, k ? ", {\"title\": " : "{\"title\": ");
            sb_json_str(j, m->titles[k]);
            sb_printf(j, ", \"stack\": %d}", m->stacks[k]);
        }
        sb_puts(j, "]}");
    }
    sb_puts(j, "], \"stacks\": [");
    for (size_t i = 0; i < d->ntexts; i++) {
        sb_puts(j, i ? ", " : "");
        sb_json_str(j, d->texts[i]);
    }
    sb_puts(j, "], \"tests\": [");
    for (size_t i = 0; i < d->ntests; i++) {
        sb_puts(j, i ? ", " : "");
        sb_json_str(j, d->tests[i]);
    }
    sb_puts(j, "]");
}

int html_write(html_doc *d, const char *path, char *err, size_t errlen)
{
    const size_t nsections = sizeof sections / sizeof sections[0];
    strbuf j = {0};
    sb_puts(&j, "{");
    int members = 0;
    for (size_t i = 0; i < nsections; i++) {
        if (!sections[i].data)
            continue;
        if (members++)
            sb_puts(&j, ", ");
        if (sections[i].key) {
            sb_json_str(&j, sections[i].key);
            sb_puts(&j, ": ");
        }
        sections[i].data(d, &j);
    }
    sb_puts(&j, "}");
    FILE *out = fopen(path, "w");
    if (!out) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        sb_free(&j);
        return -1;
    }
    fputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>bufsan timeline</title>\n"
          "<style>\n",
          out);
    for (size_t i = 0; i < nsections; i++)
        if (sections[i].style)
            fputs(sections[i].style, out);
    fputs("</style></head><body>\n", out);
    for (size_t i = 0; i < nsections; i++)
        fputs(sections[i].markup, out);
    fputs("<script id=\"data\" type=\"application/json\">", out);
    /* '<' only occurs inside JSON strings: escaped, it cannot end the script */
    for (size_t i = 0; i < j.len; i++) {
        if (j.data[i] == '<')
            fputs("\\u003c", out);
        else
            fputc(j.data[i], out);
    }
    fputs("</script>\n", out);
    for (size_t i = 0; i < nsections; i++)
        if (sections[i].script) {
            fputs("<script>\n", out);
            fputs(sections[i].script, out);
            fputs("</script>\n", out);
        }
    html_census_write(out);
    fputs("</body></html>\n", out);
    int bad = ferror(out);
    if (fclose(out) != 0 || bad) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        sb_free(&j);
        return -1;
    }
    sb_free(&j);
    return 0;
}

void html_free(html_doc *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->nlanes; i++)
        free(d->lanes[i].type);
    for (size_t i = 0; i < d->nmarks; i++) {
        free(d->marks[i].message);
        free(d->marks[i].type);
        for (int k = 0; k < d->marks[i].nstacks; k++)
            free(d->marks[i].titles[k]);
    }
    for (size_t i = 0; i < d->nprocs; i++) {
        free(d->procs[i].exe);
        free(d->procs[i].trace);
    }
    for (size_t i = 0; i < d->ntexts; i++)
        free(d->texts[i]);
    for (size_t i = 0; i < d->ntests; i++)
        free(d->tests[i]);
    free(d->tests);
    free(d->lanes);
    free(d->holds);
    free(d->marks);
    free(d->procs);
    free(d->texts);
    u64map_destroy(&d->lane_of);
    u64map_destroy(&d->text_of);
    free(d);
}
