/* The options parser: defaults, every kind of value, and the one-line
 * errors that name the key, the value and what was expected. */
#include "../../src/common/options.h"
#include "check.h"

static int parse(bs_options *o, const char *s, char *err)
{
    static int used;
    if (used)
        bs_options_free(o);
    used = 1;
    bs_options_defaults(o);
    return bs_options_parse(o, s, "BUFSAN_OPTIONS", err, 512);
}

int main(void)
{
    bs_options o;
    char err[512];

    CHECK(parse(&o, NULL, err) == 0);
    CHECK(o.exitcode == 66 && o.log_format == BS_LOG_FORMAT_TEXT && !o.halt_on_error);
    CHECK(o.stack_depth == 32 && o.python_stacks && o.native_stacks);
    CHECK(o.severity[BS_CHECK_LEAKED_EXPORT] == BS_SEV_ERROR);

    CHECK(parse(&o, "exitcode=7:log_format=json:halt_on_error=1", err) == 0);
    CHECK(o.exitcode == 7 && o.log_format == BS_LOG_FORMAT_JSON && o.halt_on_error);

    CHECK(parse(&o, "log_path='/tmp/a:b %p'", err) == 0);
    CHECK_STR(o.log_path, "/tmp/a:b %p");
    CHECK(parse(&o, " log_path=/x  stack_depth=4 ", err) == 0);
    CHECK(o.stack_depth == 4);

    CHECK(parse(&o, "bogus=1", err) < 0);
    CHECK(strstr(err, "unknown option 'bogus'") != NULL);
    CHECK(parse(&o, "exitcode=abc", err) < 0);
    CHECK(strstr(err, "exitcode='abc'") && strstr(err, "0..255"));
    CHECK(parse(&o, "exitcode=300", err) < 0);
    CHECK(parse(&o, "exitcode=", err) < 0);
    CHECK(parse(&o, "log_format=xml", err) < 0);
    CHECK(strstr(err, "log_format='xml'") && strstr(err, "text|json"));
    CHECK(parse(&o, "halt_on_error=yes", err) < 0);
    CHECK(parse(&o, "strict", err) < 0);
    CHECK(strstr(err, "expected key=value") != NULL);
    CHECK(parse(&o, "log_path='unterminated", err) < 0);

    CHECK(parse(&o, "checks=-leaked-export", err) == 0);
    CHECK(o.severity[BS_CHECK_LEAKED_EXPORT] == BS_SEV_OFF);
    CHECK(o.severity[BS_CHECK_RELEASE_UNKNOWN] == BS_SEV_ERROR);
    CHECK(parse(&o, "checks=none,+release-unknown", err) == 0);
    CHECK(o.severity[BS_CHECK_LEAKED_EXPORT] == BS_SEV_OFF);
    CHECK(o.severity[BS_CHECK_RELEASE_UNKNOWN] == BS_SEV_ERROR);
    CHECK(parse(&o, "checks=+no-such-check", err) < 0);
    CHECK(strstr(err, "no-such-check") != NULL);

    /* dashes work like underscores (the launcher's --log-format=json) */
    bs_options_free(&o);
    bs_options_defaults(&o);
    CHECK(bs_options_set(&o, "log-format", 10, "json", "cli", err, sizeof err) == 0);
    CHECK(o.log_format == BS_LOG_FORMAT_JSON);
    bs_options_free(&o);
    return checks_report();
}
