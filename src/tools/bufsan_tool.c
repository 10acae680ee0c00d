/* bufsan-tool: the launcher's helper. Validates options before the program
 * runs, prints help and the options table for the docs. No Python.
 *   bufsan-tool check-options [--flag=value...]   (BUFSAN_OPTIONS is read too)
 *       prints the merged BUFSAN_OPTIONS string, or one error line (exit 64)
 *   bufsan-tool option-value run_dir   (from BUFSAN_OPTIONS)
 *   bufsan-tool verdict RUN_DIR STATUS
 *       one summary for the process tree, exit status for the launcher
 *   bufsan-tool run RUN_DIR PRELOAD COMMAND [ARGS...]
 *       runs COMMAND with LD_PRELOAD=PRELOAD, waits for it and for every
 *       process of its tree (wait_timeout), then gives the verdict
 *   bufsan-tool help | options-markdown | checks-markdown DOCS_DIR | man */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/options.h"
#include "../common/strbuf.h"
#include "../report/suppress.h"
#include "docs.h"
#include "run.h"
#include "verdict.h"

static int check_options(int argc, char **argv)
{
    bs_options o;
    char err[512];
    bs_options_defaults(&o);
    const char *env = getenv("BUFSAN_OPTIONS");
    if (bs_options_parse(&o, env, "BUFSAN_OPTIONS", err, sizeof err) < 0) {
        fprintf(stderr, "bufsan: error: %s\n", err);
        return BS_OPTIONS_EXIT_STATUS;
    }
    strbuf merged = {0};
    if (env && *env)
        sb_puts(&merged, env);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) {
            char line[600];
            snprintf(line, sizeof line, "bufsan: error: '%s': expected --key=value", a);
            escape_message(line, sizeof line);
            fprintf(stderr, "%s\n", line);
            return BS_OPTIONS_EXIT_STATUS;
        }
        a += 2;
        const char *eq = strchr(a, '=');
        size_t klen = eq ? (size_t)(eq - a) : strlen(a);
        const char *value = eq ? eq + 1 : "1"; /* --halt-on-error means =1 */
        if (bs_options_set(&o, a, klen, value, "command line", err, sizeof err) < 0) {
            fprintf(stderr, "bufsan: error: %s\n", err);
            return BS_OPTIONS_EXIT_STATUS;
        }
        if (merged.len)
            sb_puts(&merged, ":");
        for (size_t k = 0; k < klen; k++)
            sb_printf(&merged, "%c", a[k] == '-' ? '_' : a[k]);
        /* quote so that ':' in a value survives the BUFSAN_OPTIONS syntax */
        sb_printf(&merged, "=%s%s%s", strchr(value, '"') ? "'" : "\"", value,
                  strchr(value, '"') ? "'" : "\"");
    }
    if (o.suppressions && *o.suppressions) {
        bs_suppressions s;
        if (suppressions_load(&s, o.suppressions, err, sizeof err) < 0) {
            fprintf(stderr, "bufsan: error: %s\n", err);
            return BS_OPTIONS_EXIT_STATUS;
        }
        suppressions_free(&s);
    }
    printf("%s\n", merged.data ? merged.data : "");
    sb_free(&merged);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "check-options"))
        return check_options(argc - 2, argv + 2);
    if (argc == 4 && !strcmp(argv[1], "verdict")) {
        bs_options o;
        char err[512];
        bs_options_defaults(&o);
        if (bs_options_parse(&o, getenv("BUFSAN_OPTIONS"), "BUFSAN_OPTIONS", err, sizeof err) < 0)
            o.exitcode = 66;
        char *end;
        long status = strtol(argv[3], &end, 10);
        if (*argv[3] == '\0' || *end != '\0' || status < 0 || status > 255) {
            fprintf(stderr, "bufsan-tool: verdict: status '%s': expected 0..255\n", argv[3]);
            return 2;
        }
        return verdict_print(stderr, argv[2], (int)status, (int)o.exitcode);
    }
    if (argc >= 5 && !strcmp(argv[1], "run")) {
        bs_options o;
        char err[512];
        bs_options_defaults(&o);
        if (bs_options_parse(&o, getenv("BUFSAN_OPTIONS"), "BUFSAN_OPTIONS", err, sizeof err) < 0) {
            fprintf(stderr, "bufsan: error: %s\n", err);
            return BS_OPTIONS_EXIT_STATUS;
        }
        int status = run_tree(argv + 4, argv[3], o.wait_timeout);
        return verdict_print(stderr, argv[2], status, (int)o.exitcode);
    }
    if (argc == 3 && !strcmp(argv[1], "option-value")) {
        /* one STRING option's value after BUFSAN_OPTIONS (already checked) */
        bs_options o;
        char err[512];
        bs_options_defaults(&o);
        if (bs_options_parse(&o, getenv("BUFSAN_OPTIONS"), "BUFSAN_OPTIONS", err, sizeof err) < 0) {
            fprintf(stderr, "bufsan: error: %s\n", err);
            return BS_OPTIONS_EXIT_STATUS;
        }
        if (!strcmp(argv[2], "run_dir")) {
            printf("%s\n", o.run_dir ? o.run_dir : "");
            return 0;
        }
        fprintf(stderr, "bufsan-tool: option-value: only run_dir\n");
        return 2;
    }
    if (argc == 3 && !strcmp(argv[1], "checks-markdown"))
        return docs_checks_markdown(stdout, argv[2]) < 0 ? 1 : 0;
    if (argc == 2 && !strcmp(argv[1], "man")) {
        docs_man_page(stdout);
        return 0;
    }
    if (argc == 2 && !strcmp(argv[1], "help")) {
        bs_options_print_help(stdout);
        return 0;
    }
    if (argc == 2 && !strcmp(argv[1], "options-markdown")) {
        bs_options_print_markdown(stdout);
        return 0;
    }
    fprintf(stderr, "usage: bufsan-tool check-options [--key=value...] | verdict RUN_DIR STATUS | "
                    "run RUN_DIR PRELOAD COMMAND... | "
                    "help | options-markdown | checks-markdown DOCS_DIR | man\n");
    return 2;
}
