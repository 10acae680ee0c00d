/* See html_census.h. A static table (no script): readable when the page's
 * script is blocked; the evidence stacks are the text report's. */
#include "html_census.h"

#include "../report/census_report.h"

static bs_census *census;

void html_census_attach(bs_census *c)
{
    census = c;
}

static void put_escaped(FILE *out, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '&': fputs("&amp;", out); break;
        case '"': fputs("&quot;", out); break;
        default: fputc(*s, out);
        }
    }
}

static void put_cells(FILE *out, const census_counts *n)
{
    char imm[48];
    census_immutable_ready(n, imm, sizeof imm);
    fprintf(out, "<td>%llu</td><td>%u</td><td>%llu</td><td>%llu</td><td>%llu</td><td>%s</td>"
                 "<td class=\"%s\">%s</td><td>%llu</td></tr>\n",
            (unsigned long long)n->exports, n->max_holders, (unsigned long long)n->readers,
            (unsigned long long)n->writers, (unsigned long long)n->mutated, census_answers(n),
            imm[0] == 'y' ? "yes" : imm[0] == 'n' ? "no" : "unknown", imm,
            (unsigned long long)n->refusals);
}

void html_census_write(FILE *out)
{
    if (!census)
        return;
    census_resolve(census);
    census_table t;
    if (census_table_build(census, &t) < 0)
        return;
    fputs("<section id=\"census\"><h2>exporter census</h2>\n"
          "<p>What the proposed PyBUF_IMMUTABLE and PyBUF_EXCLUSIVE request flags would mean "
          "for the exports seen (docs/census.md).</p>\n"
          "<style>#census table{border-collapse:collapse;font:12px sans-serif}"
          "#census td,#census th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
          "#census td:first-child,#census th:first-child{text-align:left}"
          "#census tr.site td:first-child{padding-left:24px;font:11px monospace}"
          "#census .no{color:#b00}#census .yes{color:#070}#census .unknown{color:#a60}"
          "#census pre{font:11px monospace;background:#f6f6f6;padding:6px}</style>\n"
          "<table><tr><th>exporter type / consumer site</th><th>exports</th><th>max holders</th>"
          "<th>readers</th><th>writers</th><th>mutated while shared</th>"
          "<th>readonly answers</th><th>IMMUTABLE-ready</th><th>EXCLUSIVE refusals</th></tr>\n",
          out);
    for (size_t i = 0; i < t.nrows; i++) {
        const census_row *r = &t.rows[i];
        fputs("<tr class=\"type\"><td><b>", out);
        put_escaped(out, r->type->name);
        fputs("</b></td>", out);
        put_cells(out, &r->type->n);
        for (size_t k = 0; k < r->nsites; k++) {
            fputs("<tr class=\"site\"><td>", out);
            put_escaped(out, r->sites[k].site);
            fputs("</td>", out);
            put_cells(out, &r->sites[k].n);
        }
    }
    fputs("</table>\n", out);
    for (size_t i = 0; i < t.nrows; i++) {
        const census_type *ty = t.rows[i].type;
        const char *ev[2] = {NULL, NULL};
        int k = ty->n.mutated ? CENSUS_EV_MUTATED : ty->n.rw ? CENSUS_EV_RW
                                                  : ty->n.unknown ? CENSUS_EV_UNKNOWN : -1;
        if (k >= 0)
            ev[0] = ty->ev_text[k];
        if (ty->n.refusals)
            ev[1] = ty->ev_text[CENSUS_EV_REFUSAL];
        if (!ev[0] && !ev[1])
            continue;
        fputs("<details><summary>", out);
        put_escaped(out, ty->name);
        fputs(": the first disqualifying stacks</summary><pre>", out);
        for (int j = 0; j < 2; j++)
            put_escaped(out, ev[j]);
        fputs("</pre></details>\n", out);
    }
    fputs("</section>\n", out);
    census_table_free(&t);
}
