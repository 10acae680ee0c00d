/* Parser of the option table. Used by the injected core (before any Python
 * code runs), by bufsan-tool and by the launcher: no Python, messages are
 * single lines that name the key, the value and what was expected. */
#include "options.h"
#include "strbuf.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

enum { K_BOOL, K_INT, K_STRING, K_ENUM, K_CHECKS };

typedef struct {
    const char *name;
    int kind;
    const char *def;
    const char *constraint;
    const char *help;
    size_t offset;
} opt_row;

static const opt_row rows[] = {
#define BS_OPTION(kind, name, def, constraint, help) \
    {#name, K_##kind, def, constraint, help, offsetof(bs_options, name)},
#include "options.inc"
#undef BS_OPTION
};
#define NROWS (sizeof rows / sizeof rows[0])

static const opt_row *find_row(const char *name, size_t len)
{
    for (size_t i = 0; i < NROWS; i++) {
        const char *r = rows[i].name;
        if (strlen(r) != len)
            continue;
        size_t j = 0;
        for (; j < len; j++) {
            char c = name[j] == '-' ? '_' : name[j];
            if (c != r[j])
                break;
        }
        if (j == len)
            return &rows[i];
    }
    return NULL;
}

int bs_options_known(const char *name, size_t namelen)
{
    return find_row(name, namelen) != NULL;
}

/* Index of VALUE among the '|'-separated CHOICES, or -1. */
static int enum_index(const char *choices, const char *value)
{
    size_t vlen = strlen(value);
    int idx = 0;
    for (const char *p = choices; *p; idx++) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == vlen && memcmp(p, value, n) == 0)
            return idx;
        if (!bar)
            break;
        p = bar + 1;
    }
    return -1;
}

/* Validates a checks= list, returns 0 or -1 with ERR set. */
static int validate_checks(const char *value, const char *source, char *err, size_t errlen)
{
    const char *p = value;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        const char *item = p;
        size_t ilen = n;
        if (ilen && (item[0] == '+' || item[0] == '-')) {
            item++;
            ilen--;
        }
        int ok = (ilen == 3 && memcmp(item, "all", 3) == 0 && n == 3) ||
                 (ilen == 4 && memcmp(item, "none", 4) == 0 && n == 4) ||
                 (ilen > 0 && bs_check_by_name(item, ilen) >= 0);
        if (!ok) {
            snprintf(err, errlen,
                     "%s: checks='%s': unknown check '%.*s' (expected +name, -name, all or none; "
                     "see help=1)", source, value, (int)n, p);
            return -1;
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    return 0;
}

/* Applies checks= and strict= to the severity table. */
static void derive_severity(bs_options *o)
{
    for (int i = 0; i < BS_CHECK_COUNT; i++) {
        bs_severity s = bs_checks[i].default_severity;
        if (s == BS_SEV_OFF && o->strict)
            s = BS_SEV_ERROR;
        o->severity[i] = s;
    }
    const char *p = o->checks ? o->checks : "";
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char sign = (p[0] == '+' || p[0] == '-') ? p[0] : '+';
        const char *item = (p[0] == '+' || p[0] == '-') ? p + 1 : p;
        size_t ilen = n - (size_t)(item - p);
        if (ilen == 3 && memcmp(item, "all", 3) == 0) {
            for (int i = 0; i < BS_CHECK_COUNT; i++)
                o->severity[i] = sign == '+' ? (bs_checks[i].default_severity == BS_SEV_OFF
                                                    ? BS_SEV_ERROR : bs_checks[i].default_severity)
                                             : BS_SEV_OFF;
        } else if (ilen == 4 && memcmp(item, "none", 4) == 0) {
            for (int i = 0; i < BS_CHECK_COUNT; i++)
                o->severity[i] = BS_SEV_OFF;
        } else {
            int id = bs_check_by_name(item, ilen);
            if (id >= 0)
                o->severity[id] = sign == '-' ? BS_SEV_OFF
                                  : (bs_checks[id].default_severity == BS_SEV_OFF
                                         ? BS_SEV_ERROR : bs_checks[id].default_severity);
        }
        if (!comma)
            break;
        p = comma + 1;
    }
}

static int set_row(bs_options *o, const opt_row *r, const char *value, const char *source,
                   char *err, size_t errlen)
{
    char *field = (char *)o + r->offset;
    switch (r->kind) {
    case K_BOOL:
        if ((value[0] == '0' || value[0] == '1') && value[1] == '\0') {
            *(int *)field = value[0] - '0';
            break;
        }
        if (!strcmp(value, "true") || !strcmp(value, "false")) {
            *(int *)field = value[0] == 't';
            break;
        }
        snprintf(err, errlen, "%s: %s='%s': expected 0 or 1 (or true or false)", source, r->name,
                 value);
        return -1;
    case K_INT: {
        long lo = 0, hi = 0;
        sscanf(r->constraint, "%ld..%ld", &lo, &hi);
        char *end = NULL;
        errno = 0;
        long v = strtol(value, &end, 10);
        if (value[0] == '\0' || *end != '\0' || errno || v < lo || v > hi) {
            snprintf(err, errlen, "%s: %s='%s': expected an integer in %ld..%ld", source,
                     r->name, value, lo, hi);
            return -1;
        }
        *(long *)field = v;
        break;
    }
    case K_ENUM: {
        int idx = enum_index(r->constraint, value);
        if (idx < 0) {
            snprintf(err, errlen, "%s: %s='%s': expected one of %s", source, r->name, value,
                     r->constraint);
            return -1;
        }
        *(int *)field = idx;
        break;
    }
    case K_CHECKS:
        if (validate_checks(value, source, err, errlen) < 0)
            return -1;
        /* fallthrough */
    case K_STRING: {
        char *copy = strdup(value);
        if (!copy) {
            snprintf(err, errlen, "%s: out of memory", source);
            return -1;
        }
        free(*(char **)field);
        *(char **)field = copy;
        break;
    }
    }
    if (r->kind == K_CHECKS || !strcmp(r->name, "strict"))
        derive_severity(o);
    return 0;
}

void bs_options_defaults(bs_options *o)
{
    char err[256];
    memset(o, 0, sizeof *o);
    for (size_t i = 0; i < NROWS; i++)
        set_row(o, &rows[i], rows[i].def, "defaults", err, sizeof err);
    derive_severity(o);
}

void bs_options_free(bs_options *o)
{
    for (size_t i = 0; i < NROWS; i++)
        if (rows[i].kind == K_STRING || rows[i].kind == K_CHECKS) {
            char **field = (char **)((char *)o + rows[i].offset);
            free(*field);
            *field = NULL;
        }
}

int bs_options_set(bs_options *o, const char *name, size_t namelen, const char *value,
                   const char *source, char *err, size_t errlen)
{
    const opt_row *r = find_row(name, namelen);
    if (!r) {
        snprintf(err, errlen, "%s: unknown option '%.*s' (help=1 lists the options)", source,
                 (int)namelen, name);
        escape_message(err, errlen);
        return -1;
    }
    if (set_row(o, r, value, source, err, errlen) < 0) {
        /* the value may hold any bytes: the message stays one line of text */
        escape_message(err, errlen);
        return -1;
    }
    return 0;
}

static int is_sep(char c)
{
    return c == ':' || c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int bs_options_parse(bs_options *o, const char *s, const char *source, char *err, size_t errlen)
{
    const char *p = s ? s : "";
    char value[4096];
    for (;;) {
        while (is_sep(*p))
            p++;
        if (!*p)
            return 0;
        const char *key = p;
        while (*p && *p != '=' && !is_sep(*p))
            p++;
        size_t keylen = (size_t)(p - key);
        if (*p != '=') {
            snprintf(err, errlen, "%s: '%.*s': expected key=value", source, (int)keylen, key);
            escape_message(err, errlen);
            return -1;
        }
        p++;
        size_t n = 0;
        if (*p == '\'' || *p == '"') {
            char q = *p++;
            while (*p && *p != q) {
                if (n + 1 < sizeof value)
                    value[n++] = *p;
                p++;
            }
            if (*p != q) {
                snprintf(err, errlen, "%s: %.*s: unterminated quoted value", source,
                         (int)keylen, key);
                escape_message(err, errlen);
                return -1;
            }
            p++;
        } else {
            while (*p && !is_sep(*p)) {
                if (n + 1 < sizeof value)
                    value[n++] = *p;
                p++;
            }
        }
        value[n] = '\0';
        if (bs_options_set(o, key, keylen, value, source, err, errlen) < 0)
            return -1;
    }
}

static const char *kind_name(const opt_row *r)
{
    switch (r->kind) {
    case K_BOOL: return "bool";
    case K_INT: return "int";
    case K_ENUM: return "enum";
    case K_CHECKS: return "checks";
    default: return "string";
    }
}

void bs_options_print_help(FILE *f)
{
    fprintf(f, "bufsan options (BUFSAN_OPTIONS=key=value:key=value, or the launcher's --key=value):\n");
    for (size_t i = 0; i < NROWS; i++) {
        const opt_row *r = &rows[i];
        fprintf(f, "  %-14s %-7s default: %-8s %s", r->name, kind_name(r),
                r->def[0] ? r->def : "\"\"", r->help);
        if (r->kind == K_ENUM || r->kind == K_INT)
            fprintf(f, " [%s]", r->constraint);
        fputc('\n', f);
    }
    fprintf(f, "checks:");
    for (int i = 0; i < BS_CHECK_COUNT; i++)
        fprintf(f, " %s(%s)", bs_checks[i].name, bs_severity_name(bs_checks[i].default_severity));
    fputc('\n', f);
}

/* Markdown table cells: a '|' would end the cell. */
static void md_cell(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputc('\\', f);
        fputc(*s, f);
    }
}

void bs_options_print_markdown(FILE *f)
{
    fprintf(f, "| key | type | default | meaning |\n|---|---|---|---|\n");
    for (size_t i = 0; i < NROWS; i++) {
        const opt_row *r = &rows[i];
        fprintf(f, "| `%s` | %s", r->name, kind_name(r));
        if (r->constraint[0]) {
            fputs(" (", f);
            md_cell(f, r->constraint);
            fputs(")", f);
        }
        if (r->def[0])
            fprintf(f, " | `%s` | ", r->def);
        else
            fprintf(f, " | (empty) | ");
        md_cell(f, r->help);
        fputs(" |\n", f);
    }
}

int bs_option_info(size_t i, bs_option_desc *out)
{
    if (i >= NROWS)
        return -1;
    out->name = rows[i].name;
    out->kind = kind_name(&rows[i]);
    out->def = rows[i].def;
    out->constraint = rows[i].constraint;
    out->help = rows[i].help;
    return 0;
}
