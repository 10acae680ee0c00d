/* See html.h. The page embeds its data as JSON and draws it with a few
 * lines of script; nothing is fetched from the network. */
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
} hold;

typedef struct {
    int lane;
    uint64_t t;
    const char *check;
    char *message;
    int nstacks;
    char *titles[BS_MAX_FINDING_STACKS];
    int stacks[BS_MAX_FINDING_STACKS];
    uint32_t pid;
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
    return d;
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
    for (uint32_t i = 0; i < st.npy && k < 64; i++, k++)
        sb_printf(&b, "#%d %s:%d in %s\n", k, st.py[i]->file, st.py[i]->line, st.py[i]->function);
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
    m->message = strdup(f->message);
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

static const char page_head[] =
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>bufsan timeline</title>\n"
    "<style>\n"
    "body{font:13px sans-serif;margin:12px;color:#222}\n"
    "#summary span{display:inline-block;margin-right:18px}\n"
    "#summary b{font-size:16px}\n"
    ".legend i{display:inline-block;width:14px;height:10px;margin:0 4px 0 12px}\n"
    "#timeline{border:1px solid #bbb;margin-top:8px;max-height:70vh;overflow:auto}\n"
    ".lane{display:flex;height:20px;border-bottom:1px solid #eee}\n"
    ".label{width:320px;flex:none;overflow:hidden;white-space:nowrap;text-overflow:ellipsis;"
    "font:11px monospace;padding:3px}\n"
    ".track{position:relative;flex:1}\n"
    ".bar{position:absolute;top:4px;height:12px;min-width:2px;cursor:pointer;opacity:.85}\n"
    ".bar.writer{background:#e8743b}.bar.reader{background:#3b7de8}.bar.read-only{background:#3ba55c}\n"
    ".bar.held{outline:2px dashed #000}\n"
    ".mark{position:absolute;top:1px;width:0;height:0;border-left:7px solid transparent;"
    "border-right:7px solid transparent;border-top:16px solid #d00;margin-left:-7px;cursor:pointer}\n"
    "#details{white-space:pre;font:12px monospace;background:#f6f6f6;padding:8px;margin-top:8px;"
    "min-height:60px}\n"
    "</style></head><body>\n<h2>bufsan timeline</h2>\n<div id=\"summary\"></div>\n"
    "<div class=\"legend\">bars:<i style=\"background:#e8743b\"></i>writer"
    "<i style=\"background:#3b7de8\"></i>reader<i style=\"background:#3ba55c\"></i>read-only"
    "<i style=\"outline:2px dashed #000\"></i>held at end of trace"
    "<i style=\"background:#d00\"></i>finding</div>\n"
    "<div id=\"timeline\"></div>\n<div id=\"details\">click a bar or a mark</div>\n"
    "<script id=\"data\" type=\"application/json\">";

static const char page_tail[] =
    "</script>\n<script>\n"
    "const D=JSON.parse(document.getElementById('data').textContent);\n"
    "let t0=Infinity,t1=0;for(const p of D.processes){t0=Math.min(t0,p.start);"
    "t1=Math.max(t1,p.end);}\n"
    "for(const h of D.holds){t0=Math.min(t0,h.start);t1=Math.max(t1,h.end);}\n"
    "for(const m of D.marks){t0=Math.min(t0,m.t);t1=Math.max(t1,m.t);}\n"
    "if(!(t1>t0)){t0=0;t1=1;}\n"
    "const pct=t=>(100*(t-t0)/(t1-t0)).toFixed(4)+'%';\n"
    "const S=document.getElementById('summary');\n"
    "const count=(a,f)=>a.filter(f).length;\n"
    "const byCheck={};for(const m of D.marks)byCheck[m.check]=(byCheck[m.check]||0)+1;\n"
    "const items=[['processes',D.processes.length],['exporters',D.lanes.length],"
    "['holds',D.holds.length],['findings',D.marks.length],"
    "['held at end',count(D.holds,h=>h.held)]];\n"
    "for(const k in byCheck)items.push([k,byCheck[k]]);\n"
    "for(const [k,v] of items){const s=document.createElement('span');s.className='count';"
    "s.dataset.name=k;s.innerHTML='<b>'+v+'</b> '+k;S.appendChild(s);}\n"
    "const T=document.getElementById('timeline'),det=document.getElementById('details');\n"
    "const tracks=[];\n"
    "D.lanes.forEach((l,i)=>{const row=document.createElement('div');row.className='lane';"
    "const lab=document.createElement('div');lab.className='label';"
    "lab.textContent='pid '+l.pid+' '+l.type+' @'+l.obj;lab.title=lab.textContent;"
    "const tr=document.createElement('div');tr.className='track';row.appendChild(lab);"
    "row.appendChild(tr);T.appendChild(row);tracks.push(tr);});\n"
    "const st=i=>i>=0?D.stacks[i]:'<no stack>\\n';\n"
    "D.holds.forEach(h=>{const b=document.createElement('div');"
    "b.className='bar '+h.kind+(h.held?' held':'');b.style.left=pct(h.start);"
    "b.style.width='calc('+pct(h.end)+' - '+pct(h.start)+')';"
    "b.title=h.kind+' '+h.flags+' len '+h.len;"
    "b.onclick=()=>{det.textContent=(h.held?'HELD AT END OF TRACE\\n':'')+h.kind+' export, '"
    "+h.flags+', '+h.len+' bytes, view '+h.view+', thread T'+h.thread+'\\nacquired at:\\n'"
    "+st(h.acq)+(h.held?'':'released at:\\n'+st(h.rel));};"
    "if(tracks[h.lane])tracks[h.lane].appendChild(b);});\n"
    "D.marks.forEach(m=>{const k=document.createElement('div');k.className='mark';"
    "k.style.left=pct(m.t);k.title=m.check;"
    "k.onclick=()=>{let s=m.check+': '+m.message+'\\n';m.stacks.forEach(x=>{s+=x.title+'\\n'"
    "+st(x.stack);});det.textContent=s;};"
    "if(m.lane>=0&&tracks[m.lane])tracks[m.lane].appendChild(k);"
    "else if(tracks.length)tracks[0].appendChild(k);});\n"
    /* #selftest: click the first mark and the first bar, note what showed */
    "if(location.hash==='#selftest'){const r={};const m=document.querySelector('.mark');"
    "if(m){m.click();r.mark=det.textContent;}const b=document.querySelector('.bar');"
    "if(b){b.click();r.bar=det.textContent;}if(m)m.click();"
    "document.body.setAttribute('data-selftest',JSON.stringify(r));}\n"
    "</script></body></html>\n";

static void flag_text(int32_t flags, char *buf, size_t len)
{
    bs_flag_names(flags, buf, len);
}

int html_write(html_doc *d, const char *path, char *err, size_t errlen)
{
    strbuf j = {0};
    sb_puts(&j, "{\"processes\": [");
    for (size_t i = 0; i < d->nprocs; i++) {
        proc *p = &d->procs[i];
        sb_printf(&j, "%s{\"pid\": %u, \"ppid\": %u, \"start\": %llu, \"end\": %llu, \"died\": %s, "
                      "\"exe\": ",
                  i ? ", " : "", p->pid, p->ppid, (unsigned long long)p->start,
                  (unsigned long long)p->end, p->died ? "true" : "false");
        sb_json_str(&j, p->exe);
        sb_puts(&j, ", \"trace\": ");
        sb_json_str(&j, p->trace);
        sb_puts(&j, "}");
    }
    sb_puts(&j, "], \"lanes\": [");
    for (size_t i = 0; i < d->nlanes; i++) {
        sb_printf(&j, "%s{\"pid\": %u, \"obj\": \"0x%llx\", \"type\": ", i ? ", " : "",
                  d->lanes[i].pid, (unsigned long long)d->lanes[i].obj);
        sb_json_str(&j, d->lanes[i].type);
        sb_puts(&j, "}");
    }
    sb_puts(&j, "], \"holds\": [");
    for (size_t i = 0; i < d->nholds; i++) {
        hold *h = &d->holds[i];
        char fl[128];
        flag_text(h->flags, fl, sizeof fl);
        uint64_t end = h->open ? h->start : h->end;
        sb_printf(&j,
                  "%s{\"lane\": %d, \"start\": %llu, \"end\": %llu, \"held\": %s, \"kind\": \"%s\", "
                  "\"flags\": \"%s\", \"len\": %lld, \"view\": \"0x%llx\", \"thread\": %u, "
                  "\"acq\": %d, \"rel\": %d}",
                  i ? ", " : "", h->lane, (unsigned long long)h->start, (unsigned long long)end,
                  h->held_at_end ? "true" : "false", access_kind(h), fl, (long long)h->len,
                  (unsigned long long)h->view, h->thread, h->acq, h->rel);
    }
    sb_puts(&j, "], \"marks\": [");
    for (size_t i = 0; i < d->nmarks; i++) {
        mark *m = &d->marks[i];
        sb_printf(&j, "%s{\"lane\": %d, \"t\": %llu, \"pid\": %u, \"check\": \"%s\", \"message\": ",
                  i ? ", " : "", m->lane, (unsigned long long)m->t, m->pid, m->check);
        sb_json_str(&j, m->message);
        sb_puts(&j, ", \"stacks\": [");
        for (int k = 0; k < m->nstacks; k++) {
            sb_puts(&j, k ? ", {\"title\": " : "{\"title\": ");
            sb_json_str(&j, m->titles[k]);
            sb_printf(&j, ", \"stack\": %d}", m->stacks[k]);
        }
        sb_puts(&j, "]}");
    }
    sb_puts(&j, "], \"stacks\": [");
    for (size_t i = 0; i < d->ntexts; i++) {
        sb_puts(&j, i ? ", " : "");
        sb_json_str(&j, d->texts[i]);
    }
    sb_puts(&j, "]}");
    FILE *out = fopen(path, "w");
    if (!out) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        sb_free(&j);
        return -1;
    }
    fputs(page_head, out);
    /* '<' only occurs inside JSON strings: escaped, it cannot end the script */
    for (size_t i = 0; i < j.len; i++) {
        if (j.data[i] == '<')
            fputs("\\u003c", out);
        else
            fputc(j.data[i], out);
    }
    fputs(page_tail, out);
    html_census_write(out);
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
        for (int k = 0; k < d->marks[i].nstacks; k++)
            free(d->marks[i].titles[k]);
    }
    for (size_t i = 0; i < d->nprocs; i++) {
        free(d->procs[i].exe);
        free(d->procs[i].trace);
    }
    for (size_t i = 0; i < d->ntexts; i++)
        free(d->texts[i]);
    free(d->lanes);
    free(d->holds);
    free(d->marks);
    free(d->procs);
    free(d->texts);
    u64map_destroy(&d->lane_of);
    u64map_destroy(&d->text_of);
    free(d);
}
