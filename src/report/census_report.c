/* See census_report.h. Runs at exit or offline: symbolizes, allocates. */
#include "census_report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/strbuf.h"
#include "output.h"
#include "report.h"

static int cmp_site(const void *a, const void *b)
{
    const census_site_row *x = a, *y = b;
    if (x->n.exports != y->n.exports)
        return x->n.exports < y->n.exports ? 1 : -1;
    return strcmp(x->site, y->site);
}

static int cmp_row(const void *a, const void *b)
{
    const census_row *x = a, *y = b;
    if (x->type->n.exports != y->type->n.exports)
        return x->type->n.exports < y->type->n.exports ? 1 : -1;
    return strcmp(x->type->name, y->type->name);
}

int census_table_build(const bs_census *c, census_table *out)
{
    memset(out, 0, sizeof *out);
    if (!c->ntypes)
        return 0;
    out->rows = calloc(c->ntypes, sizeof *out->rows);
    if (!out->rows)
        return -1;
    out->nrows = c->ntypes;
    for (size_t i = 0; i < c->ntypes; i++) {
        out->rows[i].type = &c->types[i];
        out->rows[i].sites = calloc(c->nsites ? c->nsites : 1, sizeof(census_site_row));
    }
    for (size_t i = 0; i < c->nsites; i++) {
        const census_site *s = &c->sites[i];
        census_row *r = &out->rows[s->type];
        if (!r->sites)
            continue;
        if (!s->n.exports)
            continue; /* counted in the parent of a forked child */
        const char *name = s->name ? s->name : "<unknown location>";
        size_t k;
        for (k = 0; k < r->nsites; k++)
            if (!strcmp(r->sites[k].site, name))
                break;
        if (k == r->nsites) {
            r->sites[k].site = strdup(name);
            if (!r->sites[k].site)
                continue;
            r->nsites++;
        }
        census_counts_add(&r->sites[k].n, &s->n);
    }
    for (size_t i = 0; i < out->nrows; i++)
        if (out->rows[i].nsites)
            qsort(out->rows[i].sites, out->rows[i].nsites, sizeof(census_site_row), cmp_site);
    qsort(out->rows, out->nrows, sizeof *out->rows, cmp_row);
    while (out->nrows && !out->rows[out->nrows - 1].type->n.exports) {
        free(out->rows[out->nrows - 1].sites);
        out->nrows--;
    }
    return 0;
}

void census_table_free(census_table *t)
{
    for (size_t i = 0; i < t->nrows; i++) {
        for (size_t k = 0; k < t->rows[i].nsites; k++)
            free(t->rows[i].sites[k].site);
        free(t->rows[i].sites);
    }
    free(t->rows);
    memset(t, 0, sizeof *t);
}

/* ---- text --------------------------------------------------------------- */

#define NAME_W 20     /* the narrowest name column */
#define NAME_W_MAX 48 /* a longer type name goes on a line of its own, as a long site does */

/* The name column: as wide as the longest type name that fits NAME_W_MAX. */
static int name_width(const census_table *t)
{
    size_t w = NAME_W;
    for (size_t i = 0; i < t->nrows; i++) {
        size_t n = strlen(t->rows[i].type->name);
        if (n > w && n <= NAME_W_MAX)
            w = n;
    }
    return (int)w;
}

static void text_numbers(strbuf *b, const census_counts *n)
{
    char imm[48];
    census_immutable_ready(n, imm, sizeof imm);
    sb_printf(b, " %8llu %12u %8llu %8llu %21llu  %-16s  %-16s %18llu\n",
              (unsigned long long)n->exports, n->max_holders, (unsigned long long)n->readers,
              (unsigned long long)n->writers, (unsigned long long)n->mutated,
              census_answers(n), imm, (unsigned long long)n->refusals);
}

static const char *const ev_what[CENSUS_EV_COUNT] = {
    "not IMMUTABLE-ready: the first hold whose bytes changed",
    "not IMMUTABLE-ready: the first export answered readonly=0",
    "IMMUTABLE-ready unknown: the first read-only hold not hashed at both ends",
    "EXCLUSIVE would refuse: the first acquisition while another holder was live",
};
static const char *const ev_reason[CENSUS_EV_COUNT] = {"mutated", "writable-answer", "unhashed",
                                                       "exclusive-refusal"};
static const char *const ev_acquire_title[CENSUS_EV_COUNT] = {
    "acquired by thread T%u with %s at:", "acquired by thread T%u with %s at:",
    "acquired by thread T%u with %s at:", "refused acquisition by thread T%u with %s at:",
};
static const char *const ev_other_title[CENSUS_EV_COUNT] = {
    "the change was seen by thread T%u at:", NULL, NULL,
    "the other holder, live, acquired by thread T%u with %s at:",
};
static const char *const ev_other_role[CENSUS_EV_COUNT] = {"observe", NULL, NULL, "other"};

static void render_evidence(census_type *ty, int k)
{
    const census_evidence *ev = &ty->ev[k];
    strbuf t = {0}, j = {0};
    char title[256], fl[128];
    sb_printf(&t, "  %s\n", ev_what[k]);
    bs_flag_names(ev->flags, fl, sizeof fl);
    snprintf(title, sizeof title, ev_acquire_title[k], ev->acquire_thread, fl);
    report_stack_text(&t, title, ev->acquire_thread, ev->acquire);
    sb_puts(&j, "{\"reason\": ");
    sb_json_str(&j, ev_reason[k]);
    sb_puts(&j, ", \"stacks\": [");
    report_stack_json(&j, "acquire", ev->acquire_thread, ev->acquire);
    if (ev->other && ev_other_title[k]) {
        bs_flag_names(ev->other_flags, fl, sizeof fl);
        snprintf(title, sizeof title, ev_other_title[k], ev->other_thread, fl);
        report_stack_text(&t, title, ev->other_thread, ev->other);
        sb_puts(&j, ", ");
        report_stack_json(&j, ev_other_role[k], ev->other_thread, ev->other);
    }
    sb_puts(&j, "]}");
    ty->ev_text[k] = t.data;
    ty->ev_json[k] = j.data;
}

void census_resolve(bs_census *c)
{
    for (size_t i = 0; i < c->nsites; i++)
        if (!c->sites[i].name && c->sites[i].n.exports) {
            strbuf b = {0};
            report_stack_location(c->sites[i].stack, &b);
            c->sites[i].name = b.data;
        }
    for (size_t i = 0; i < c->ntypes; i++)
        for (int k = 0; k < CENSUS_EV_COUNT; k++)
            if (!c->types[i].ev_text[k] && (c->types[i].ev[k].acquire || c->types[i].ev[k].other))
                render_evidence(&c->types[i], k);
}

/* Which evidence explains the type's IMMUTABLE-ready answer. */
static int immutable_evidence(const census_counts *n)
{
    return n->mutated ? CENSUS_EV_MUTATED : n->rw ? CENSUS_EV_RW
                                        : n->unknown ? CENSUS_EV_UNKNOWN : -1;
}

static void write_text(strbuf *b, const census_table *t)
{
    int pid = report_current_pid();
    sb_printf(b, "==%d==bufsan: exporter census (what PyBUF_IMMUTABLE and PyBUF_EXCLUSIVE would "
                 "mean here; see docs/census.md)\n", pid);
    int w = name_width(t);
    sb_printf(b, "%-*s %8s %12s %8s %8s %21s  %-16s  %-16s %18s\n", w, "exporter type",
              "exports", "max holders", "readers", "writers", "mutated while shared",
              "readonly answers", "IMMUTABLE-ready", "EXCLUSIVE refusals");
    if (!t->nrows)
        sb_puts(b, "(no exports seen)\n");
    for (size_t i = 0; i < t->nrows; i++) {
        const census_row *r = &t->rows[i];
        if (strlen(r->type->name) > (size_t)w)
            sb_printf(b, "%s\n%-*s", r->type->name, w, "");
        else
            sb_printf(b, "%-*s", w, r->type->name);
        text_numbers(b, &r->type->n);
        for (size_t k = 0; k < r->nsites; k++) {
            const census_site_row *s = &r->sites[k];
            if (strlen(s->site) + 5 > (size_t)w)
                sb_printf(b, "  at %s\n%-*s", s->site, w, "");
            else
                sb_printf(b, "  at %-*s", w - 5, s->site);
            text_numbers(b, &s->n);
        }
    }
    for (size_t i = 0; i < t->nrows; i++) {
        const census_type *ty = t->rows[i].type;
        int k = immutable_evidence(&ty->n);
        const char *a = k >= 0 ? ty->ev_text[k] : NULL;
        const char *x = ty->n.refusals ? ty->ev_text[CENSUS_EV_REFUSAL] : NULL;
        if (!a && !x)
            continue;
        sb_printf(b, "\n%s:\n", ty->name);
        if (a)
            sb_puts(b, a);
        if (x)
            sb_puts(b, x);
    }
}

/* ---- JSON Lines ------------------------------------------------------------ */

static void json_counts(strbuf *b, const census_counts *n)
{
    char imm[48];
    census_immutable_ready(n, imm, sizeof imm);
    const char *ready = n->mutated || n->rw ? "no" : n->unknown ? "unknown" : n->exports ? "yes"
                                                                              : "unknown";
    sb_printf(b, ", \"exports\": %llu, \"max_holders\": %u, \"readers\": %llu, \"writers\": %llu, "
                 "\"mutated_while_shared\": %llu, \"readonly_answers\": \"%s\", "
                 "\"answers\": {\"readonly\": %llu, \"writable\": %llu}, \"flipped\": %s, "
                 "\"immutable_ready\": \"%s\", \"immutable_ready_text\": ",
              (unsigned long long)n->exports, n->max_holders, (unsigned long long)n->readers,
              (unsigned long long)n->writers, (unsigned long long)n->mutated, census_answers(n),
              (unsigned long long)n->ro, (unsigned long long)n->rw,
              n->flipped ? "true" : "false", ready);
    sb_json_str(b, imm);
    sb_printf(b, ", \"unhashed\": %llu, \"sampled\": %llu, \"exclusive_refusals\": %llu",
              (unsigned long long)n->unknown, (unsigned long long)n->sampled,
              (unsigned long long)n->refusals);
}

static void write_json(strbuf *b, const census_table *t)
{
    int pid = report_current_pid();
    for (size_t i = 0; i < t->nrows; i++) {
        const census_row *r = &t->rows[i];
        const census_type *ty = r->type;
        sb_printf(b, "{\"bufsan\": 1, \"kind\": \"census\", \"pid\": %d, \"type\": ", pid);
        sb_json_str(b, ty->name);
        sb_puts(b, ", \"site\": null");
        json_counts(b, &ty->n);
        sb_puts(b, ", \"evidence\": [");
        int k = immutable_evidence(&ty->n);
        const char *a = k >= 0 ? ty->ev_json[k] : NULL;
        const char *x = ty->n.refusals ? ty->ev_json[CENSUS_EV_REFUSAL] : NULL;
        if (a)
            sb_puts(b, a);
        if (x)
            sb_printf(b, "%s%s", a ? ", " : "", x);
        sb_puts(b, "]}\n");
        for (size_t k = 0; k < r->nsites; k++) {
            sb_printf(b, "{\"bufsan\": 1, \"kind\": \"census\", \"pid\": %d, \"type\": ", pid);
            sb_json_str(b, ty->name);
            sb_puts(b, ", \"site\": ");
            sb_json_str(b, r->sites[k].site);
            json_counts(b, &r->sites[k].n);
            sb_puts(b, "}\n");
        }
    }
}

void census_report_write(bs_census *c, const bs_options *opts)
{
    if (!c)
        return;
    census_resolve(c);
    census_table t;
    if (census_table_build(c, &t) < 0)
        return;
    strbuf b = {0};
    if (opts->log_format == BS_LOG_FORMAT_JSON)
        write_json(&b, &t);
    else
        write_text(&b, &t);
    if (b.data && opts->log_format == BS_LOG_FORMAT_SARIF) {
        /* the SARIF log holds findings only */
        fwrite(b.data, 1, b.len, stderr);
        fflush(stderr);
    } else if (b.data) {
        output_write(b.data, b.len);
    }
    sb_free(&b);
    census_table_free(&t);
}
