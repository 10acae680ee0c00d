/* See resolved.h and ci_output.h: what is derived from a resolved finding
 * alone (location, fingerprint, suppression line, GitHub annotation). */
#include "resolved.h"
#include "ci_output.h"

#include <stdio.h>
#include <string.h>

#include "../engine/view_check.h"

void finding_json_fields(strbuf *b, const bs_finding *f)
{
    if (!f->fields)
        return;
    sb_puts(b, ", \"fields\": [");
    const char *sep = "";
    for (int i = 0; i < BS_FIELD_COUNT; i++)
        if (f->fields & (1u << i)) {
            sb_puts(b, sep);
            sb_json_str(b, view_field_name(i));
            sep = ", ";
        }
    sb_puts(b, "]");
}

const bs_rframe *rfinding_location(const bs_rfinding *r)
{
    if (r->nstacks < 1)
        return NULL;
    const bs_rstack *s = &r->stacks[0];
    if (s->location >= 0 && s->location < s->nframes)
        return &s->frames[s->location];
    return s->nframes ? &s->frames[0] : NULL;
}

static const char *base_name(const char *path)
{
    if (!path)
        return "";
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static void fnv(uint64_t *h, const char *s)
{
    for (; s && *s; s++) {
        *h ^= (unsigned char)*s;
        *h *= 0x100000001b3ULL;
    }
    *h ^= 0xff; /* field separator */
    *h *= 0x100000001b3ULL;
}

void rfinding_fingerprint(const bs_rfinding *r, char *out)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    fnv(&h, bs_checks[r->f->check].name);
    for (int i = 0; i < r->nstacks; i++) {
        const bs_rstack *s = &r->stacks[i];
        fnv(&h, s->role);
        /* Python frames, then native ones, whatever order reports show them
         * in: fingerprints made before native frames came first still hold */
        for (int python = 1; python >= 0; python--)
            for (int k = 0; k < s->nframes; k++) {
                const bs_rframe *f = &s->frames[k];
                if (f->python != python)
                    continue;
                fnv(&h, f->python ? base_name(f->file) : base_name(f->module));
                fnv(&h, f->function ? f->function : "");
            }
    }
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* Escapes the glob metacharacters of S (fnmatch without FNM_NOESCAPE). */
static void glob_escape(strbuf *b, const char *s)
{
    for (; *s; s++) {
        if (strchr("*?[]\\", *s))
            sb_puts(b, "\\");
        sb_printf(b, "%c", *s);
    }
}

void suppression_line(strbuf *b, const bs_rfinding *r)
{
    sb_printf(b, "%s:", bs_checks[r->f->check].name);
    const bs_rframe *loc = rfinding_location(r);
    if (loc && loc->python && loc->file)
        glob_escape(b, loc->file);
    else if (loc && !loc->python && loc->function)
        glob_escape(b, loc->function);
    else if (loc && !loc->python && loc->module)
        glob_escape(b, loc->module);
    else if (r->f->has_exporter && r->f->exporter_type && *r->f->exporter_type) {
        sb_puts(b, "type:");
        glob_escape(b, r->f->exporter_type);
    } else {
        sb_puts(b, "*");
    }
}

/* Workflow command escaping: data escapes %, CR, LF; properties also : and ,. */
static void gh_escape(strbuf *b, const char *s, int property)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '%': sb_puts(b, "%25"); break;
        case '\r': sb_puts(b, "%0D"); break;
        case '\n': sb_puts(b, "%0A"); break;
        case ':': sb_puts(b, property ? "%3A" : ":"); break;
        case ',': sb_puts(b, property ? "%2C" : ","); break;
        default: sb_printf(b, "%c", *s);
        }
    }
}

void github_annotation(strbuf *b, const bs_rfinding *r)
{
    const char *check = bs_checks[r->f->check].name;
    sb_puts(b, r->f->severity == BS_SEV_ERROR ? "::error " : "::warning ");
    const bs_rframe *loc = rfinding_location(r);
    if (loc && loc->file) {
        sb_puts(b, "file=");
        gh_escape(b, loc->file, 1);
        sb_printf(b, ",line=%d,", loc->line);
    }
    sb_puts(b, "title=");
    strbuf title = {0};
    sb_printf(&title, "bufsan %s", check);
    gh_escape(b, title.data, 1);
    sb_free(&title);
    sb_puts(b, "::");
    strbuf msg = {0};
    sb_puts(&msg, r->f->message);
    if (r->occurrences > 1)
        sb_printf(&msg, " (reported %llu times)", (unsigned long long)r->occurrences);
    if (loc && loc->function)
        sb_printf(&msg, " in %s", loc->function);
    gh_escape(b, msg.data, 0);
    sb_free(&msg);
    sb_puts(b, "\n");
}
