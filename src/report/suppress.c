/* See suppress.h. */
#include "suppress.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/strbuf.h"

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
        *--e = '\0';
    return s;
}

int suppressions_load(bs_suppressions *s, const char *path, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "suppressions='%s': cannot open (%s)", path, strerror(errno));
        escape_message(err, errlen);
        return -1;
    }
    /* fopen opens a directory for reading; only the first read fails */
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "suppressions='%s': is a directory (expected a file of "
                 "check:pattern lines)", path);
        escape_message(err, errlen);
        fclose(f);
        return -1;
    }
    int rc = suppressions_read(s, f, path, err, errlen);
    fclose(f);
    return rc;
}

int suppressions_read(bs_suppressions *s, FILE *f, const char *path, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->path = strdup(path);
    /* lines of any length: a fixed buffer would split a long line in two rules */
    char *line = NULL;
    size_t linecap = 0;
    int lineno = 0;
    size_t cap = 0;
    int rc = 0;
    while (getline(&line, &linecap, f) >= 0) {
        lineno++;
        char *t = trim(line);
        if (!*t || *t == '#')
            continue;
        char *colon = strchr(t, ':');
        int id = colon ? bs_check_by_name(t, (unsigned long)(colon - t)) : -1;
        if (id < 0) {
            snprintf(err, errlen, "suppressions %s:%d: '%.200s%s': expected <check>:<pattern> "
                     "with a known check name", path, lineno, t, strlen(t) > 200 ? "..." : "");
            rc = -1;
            break;
        }
        char *pattern = trim(colon + 1);
        int is_type = 0;
        if (!strncmp(pattern, "type:", 5)) {
            is_type = 1;
            pattern = trim(pattern + 5);
        }
        if (!*pattern) {
            snprintf(err, errlen, "suppressions %s:%d: '%s': empty pattern", path, lineno, t);
            rc = -1;
            break;
        }
        if (s->n == cap) {
            cap = cap ? cap * 2 : 16;
            bs_suppression *n = realloc(s->rules, cap * sizeof *n);
            if (!n) {
                snprintf(err, errlen, "suppressions %s:%d: out of memory", path, lineno);
                rc = -1;
                break;
            }
            s->rules = n;
        }
        bs_suppression *r = &s->rules[s->n++];
        r->check = (bs_check_id)id;
        r->is_type = is_type;
        r->pattern = strdup(pattern);
        r->text = strdup(t);
        r->line = lineno;
        r->hits = 0;
    }
    if (rc == 0 && ferror(f)) {
        snprintf(err, errlen, "suppressions='%s': cannot read (%s)", path, strerror(errno));
        rc = -1;
    }
    free(line);
    if (rc < 0) {
        escape_message(err, errlen); /* the line may hold any bytes */
        suppressions_free(s);
    }
    return rc;
}

void suppressions_free(bs_suppressions *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->rules[i].pattern);
        free(s->rules[i].text);
    }
    free(s->rules);
    free(s->path);
    memset(s, 0, sizeof *s);
}

bs_suppression *suppressions_match(bs_suppressions *s, bs_check_id check,
                                   const bs_match_subject *subj)
{
    for (size_t i = 0; i < s->n; i++) {
        bs_suppression *r = &s->rules[i];
        if (r->check != check)
            continue;
        int hit = 0;
        if (r->is_type)
            hit = subj->type_name && fnmatch(r->pattern, subj->type_name, 0) == 0;
        for (size_t k = 0; !hit && !r->is_type && k < subj->nstrings; k++)
            hit = subj->strings[k] && fnmatch(r->pattern, subj->strings[k], 0) == 0;
        if (hit) {
            r->hits++;
            return r;
        }
    }
    return NULL;
}
