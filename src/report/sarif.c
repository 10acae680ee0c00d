/* See ci_output.h: the SARIF 2.1.0 writer. Rules come from the check
 * table; each result's location is the innermost frame outside the
 * interpreter, its stacks go to `stacks` (innermost first, as SARIF wants)
 * and to `codeFlows` (one thread flow per stack, outermost first, the order
 * in which the code ran), its fingerprint to `partialFingerprints`, the
 * test it was first reported in (a pytest nodeid, as JSON's "test") to
 * its properties. */
#include "ci_output.h"

#include <stdio.h>
#include <string.h>

#ifndef BUFSAN_VERSION
#define BUFSAN_VERSION "0"
#endif

static const char *level_of(bs_severity s)
{
    return s == BS_SEV_ERROR ? "error" : s == BS_SEV_WARNING ? "warning" : "none";
}

/* A file path as a URI reference: absolute paths become file:// URIs;
 * anything but unreserved characters and '/' is percent-encoded. */
static void uri_of(strbuf *b, const char *path)
{
    strbuf u = {0};
    if (path[0] == '/')
        sb_puts(&u, "file://");
    for (const unsigned char *s = (const unsigned char *)path; *s; s++) {
        if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
            strchr("-._~/", *s))
            sb_printf(&u, "%c", *s);
        else
            sb_printf(&u, "%%%02X", *s);
    }
    sb_json_str(b, u.data ? u.data : "");
    sb_free(&u);
}

static void location(strbuf *b, const bs_rframe *f)
{
    sb_puts(b, "{");
    int any = 0;
    if (f->file) {
        sb_puts(b, "\"physicalLocation\": {\"artifactLocation\": {\"uri\": ");
        uri_of(b, f->file);
        sb_puts(b, "}");
        if (f->line > 0)
            sb_printf(b, ", \"region\": {\"startLine\": %d}", f->line);
        sb_puts(b, "}");
        any = 1;
    } else if (f->module) {
        sb_puts(b, "\"physicalLocation\": {\"artifactLocation\": {\"uri\": ");
        uri_of(b, f->module);
        sb_printf(b, "}, \"address\": {\"relativeAddress\": %llu}}",
                  (unsigned long long)f->offset);
        any = 1;
    }
    if (f->function) {
        sb_puts(b, any ? ", " : "");
        sb_puts(b, "\"logicalLocations\": [{\"name\": ");
        sb_json_str(b, f->function);
        sb_puts(b, ", \"kind\": \"function\"}]");
    }
    sb_puts(b, "}");
}

static void stack_frames(strbuf *b, const bs_rstack *s)
{
    for (int k = 0; k < s->nframes; k++) {
        const bs_rframe *f = &s->frames[k];
        sb_puts(b, k ? ", {\"location\": " : "{\"location\": ");
        location(b, f);
        if (!f->python && f->module) {
            sb_puts(b, ", \"module\": ");
            sb_json_str(b, f->module);
        }
        sb_printf(b, ", \"threadId\": %u", s->thread);
        if (!f->python)
            sb_printf(b, ", \"properties\": {\"pc\": \"0x%llx\"}", (unsigned long long)f->pc);
        sb_puts(b, "}");
    }
}

static void result(strbuf *b, const bs_rfinding *r)
{
    const bs_finding *f = r->f;
    sb_puts(b, "{\"ruleId\": ");
    sb_json_str(b, bs_checks[f->check].name);
    sb_printf(b, ", \"ruleIndex\": %d, \"level\": \"%s\", \"message\": {\"text\": ", (int)f->check,
              level_of(f->severity));
    sb_json_str(b, f->message);
    sb_puts(b, "}, \"locations\": [");
    const bs_rframe *loc = rfinding_location(r);
    if (loc)
        location(b, loc);
    char fp[17];
    rfinding_fingerprint(r, fp);
    sb_printf(b, "], \"partialFingerprints\": {\"bufsanStack/v1\": \"%s\"}", fp);
    sb_printf(b, ", \"occurrenceCount\": %llu", (unsigned long long)r->occurrences);
    /* stacks: every stack with at least one frame (a stack needs frames) */
    int nonempty = 0;
    for (int i = 0; i < r->nstacks; i++)
        nonempty += r->stacks[i].nframes > 0;
    if (nonempty) {
        sb_puts(b, ", \"stacks\": [");
        int first = 1;
        for (int i = 0; i < r->nstacks; i++) {
            const bs_rstack *s = &r->stacks[i];
            if (!s->nframes)
                continue;
            sb_puts(b, first ? "{\"message\": {\"text\": " : ", {\"message\": {\"text\": ");
            sb_json_str(b, s->title ? s->title : s->role);
            sb_puts(b, "}, \"frames\": [");
            stack_frames(b, s);
            sb_puts(b, "]}");
            first = 0;
        }
        sb_puts(b, "], \"codeFlows\": [{\"threadFlows\": [");
        first = 1;
        for (int i = 0; i < r->nstacks; i++) {
            const bs_rstack *s = &r->stacks[i];
            if (!s->nframes)
                continue;
            sb_puts(b, first ? "{\"id\": " : ", {\"id\": ");
            sb_json_str(b, s->role);
            sb_puts(b, ", \"message\": {\"text\": ");
            sb_json_str(b, s->title ? s->title : s->role);
            sb_puts(b, "}, \"locations\": [");
            for (int k = s->nframes - 1; k >= 0; k--) {
                sb_puts(b, k == s->nframes - 1 ? "{\"location\": " : ", {\"location\": ");
                location(b, &s->frames[k]);
                sb_printf(b, ", \"nestingLevel\": %d, \"executionOrder\": %d}", s->nframes - 1 - k,
                          s->nframes - k);
            }
            sb_puts(b, "]}");
            first = 0;
        }
        sb_puts(b, "]}]");
    }
    sb_printf(b, ", \"properties\": {\"count\": %llu, \"bytes\": %lld, \"exporter\": ",
              (unsigned long long)r->count, (long long)r->bytes);
    if (f->has_exporter) {
        sb_puts(b, "{\"type\": ");
        sb_json_str(b, f->exporter_type ? f->exporter_type : "");
        sb_printf(b, ", \"len\": %lld, \"readonly\": %s}", (long long)f->exporter_len,
                  f->exporter_readonly ? "true" : "false");
    } else {
        sb_puts(b, "null");
    }
    if (f->has_request) {
        char names[256];
        bs_flag_names(f->flags, names, sizeof names);
        sb_printf(b, ", \"request\": {\"flags\": %d, \"flag_names\": ", (int)f->flags);
        sb_json_str(b, names);
        sb_puts(b, "}");
    }
    finding_json_fields(b, f);
    if (r->test) {
        sb_puts(b, ", \"test\": ");
        sb_json_str(b, r->test);
    }
    sb_puts(b, "}}");
}

void sarif_begin(strbuf *b, int pid)
{
    sb_puts(b, "{\"$schema\": \"https://json.schemastore.org/sarif-2.1.0.json\", "
               "\"version\": \"2.1.0\", \"runs\": [{\"tool\": {\"driver\": {\"name\": \"bufsan\", "
               "\"version\": \"" BUFSAN_VERSION "\", \"informationUri\": ");
    sb_json_str(b, bs_checks_doc_url());
    sb_puts(b, ", \"rules\": [");
    for (int i = 0; i < BS_CHECK_COUNT; i++) {
        const bs_check_info *c = &bs_checks[i];
        sb_puts(b, i ? ", {\"id\": " : "{\"id\": ");
        sb_json_str(b, c->name);
        sb_puts(b, ", \"shortDescription\": {\"text\": ");
        sb_json_str(b, c->description);
        sb_puts(b, "}, \"helpUri\": ");
        strbuf url = {0};
        sb_printf(&url, "%s#%s", bs_checks_doc_url(), c->name);
        sb_json_str(b, url.data);
        sb_free(&url);
        sb_printf(b, ", \"defaultConfiguration\": {\"enabled\": %s, \"level\": \"%s\"}}",
                  c->default_severity == BS_SEV_OFF ? "false" : "true",
                  level_of(c->default_severity == BS_SEV_OFF ? BS_SEV_ERROR : c->default_severity));
    }
    sb_printf(b, "]}}, \"invocations\": [{\"executionSuccessful\": true, \"processId\": %d}], "
                 "\"results\": [", pid);
}

void sarif_result(strbuf *b, const bs_rfinding *r, int first)
{
    sb_puts(b, first ? "\n  " : ",\n  ");
    result(b, r);
}

void sarif_end(strbuf *b)
{
    sb_puts(b, "]}]}\n");
}

void sarif_write(strbuf *b, const bs_rfinding *results, size_t n, int pid)
{
    sarif_begin(b, pid);
    for (size_t i = 0; i < n; i++)
        sarif_result(b, &results[i], i == 0);
    sarif_end(b);
}
