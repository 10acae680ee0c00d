/* Options (options.inc): parsed from BUFSAN_OPTIONS ("key=value:key=value")
 * and from the launcher's --key=value flags. A bad key or value is an error
 * naming both, never a silent default. Pure C, no Python, no allocation
 * beyond the STRING values (strdup). */
#ifndef BUFSAN_COMMON_OPTIONS_H
#define BUFSAN_COMMON_OPTIONS_H

#include <stddef.h>
#include <stdio.h>

#include "checks.h"

typedef struct {
#define BS_OPT_FIELD_BOOL(name) int name;
#define BS_OPT_FIELD_INT(name) long name;
#define BS_OPT_FIELD_STRING(name) char *name;
#define BS_OPT_FIELD_ENUM(name) int name;
#define BS_OPT_FIELD_CHECKS(name) char *name;
#define BS_OPTION(kind, name, def, constraint, help) BS_OPT_FIELD_##kind(name)
#include "options.inc"
#undef BS_OPTION
    /* Derived from checks= and strict=: the severity each check reports at. */
    bs_severity severity[BS_CHECK_COUNT];
} bs_options;

enum { BS_LOG_FORMAT_TEXT = 0, BS_LOG_FORMAT_JSON = 1, BS_LOG_FORMAT_SARIF = 2 };
enum { BS_GITHUB_AUTO = 0, BS_GITHUB_OFF = 1, BS_GITHUB_ON = 2 };
enum { BS_WRITABLE_POLICY_CONSISTENT = 0, BS_WRITABLE_POLICY_STRICT = 1 };

/* Exit status used when the options themselves are bad. */
#define BS_OPTIONS_EXIT_STATUS 64

/* Fills OPTS with the defaults. */
void bs_options_defaults(bs_options *opts);

/* Frees the STRING values. */
void bs_options_free(bs_options *opts);

/* Parses S ("k=v:k=v", values may be quoted with ' or ") on top of OPTS.
 * SOURCE names where S came from, for messages. Returns 0, or -1 with a
 * one-line message in ERR. */
int bs_options_parse(bs_options *opts, const char *s, const char *source,
                     char *err, size_t errlen);

/* Sets one option; NAME may use dashes for underscores. */
int bs_options_set(bs_options *opts, const char *name, size_t namelen,
                   const char *value, const char *source, char *err, size_t errlen);

/* Writes every option, its default and help to F (help=1). */
void bs_options_print_help(FILE *f);

/* Writes the options table as Markdown (docs/options.md). */
void bs_options_print_markdown(FILE *f);

/* Row I of the option table, for generated docs; -1 past the end. */
typedef struct {
    const char *name, *kind, *def, *constraint, *help;
} bs_option_desc;
int bs_option_info(size_t i, bs_option_desc *out);

/* Is NAME (with dashes or underscores) an option? */
int bs_options_known(const char *name, size_t namelen);

#endif
