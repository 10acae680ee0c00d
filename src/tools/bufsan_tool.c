/* bufsan-tool: the launcher's helper. Validates options before the program
 * runs, prints help and the options table for the docs. No Python.
 *   bufsan-tool check-options [--flag=value...]   (BUFSAN_OPTIONS is read too)
 *       prints the merged BUFSAN_OPTIONS string, or one error line (exit 64)
 *   bufsan-tool help | options-markdown */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/options.h"
#include "../common/strbuf.h"
#include "../report/suppress.h"

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
            fprintf(stderr, "bufsan: error: '%s': expected --key=value\n", a);
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
    if (argc == 2 && !strcmp(argv[1], "help")) {
        bs_options_print_help(stdout);
        return 0;
    }
    if (argc == 2 && !strcmp(argv[1], "options-markdown")) {
        bs_options_print_markdown(stdout);
        return 0;
    }
    fprintf(stderr, "usage: bufsan-tool check-options [--key=value...] | help | options-markdown\n");
    return 2;
}
