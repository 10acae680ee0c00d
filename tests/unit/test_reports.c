/* The Python-agnostic report pieces, fed with hand-built findings:
 * de-duplication, the SARIF writer, suppression lines (generated, loaded
 * back, matching), GitHub annotations, run records and the tree verdict.
 *   test_reports [SARIF_OUT]   also writes the SARIF log to SARIF_OUT for
 *                              the schema check. */
#include <stdlib.h>
#include <unistd.h>

#include "../../src/engine/view_check.h"
#include "../../src/report/ci_output.h"
#include "../../src/report/findlog.h"
#include "../../src/report/runrec.h"
#include "../../src/report/suppress.h"
#include "../../src/tools/verdict.h"
#include "check.h"

static bs_finding make_finding(bs_check_id check, uint32_t stack, const char *type)
{
    bs_finding f = {.check = check, .severity = BS_SEV_ERROR, .count = 1, .bytes = 8};
    snprintf(f.message, sizeof f.message, "a \"quoted\" message, with: punctuation\nand a newline");
    f.has_exporter = 1;
    f.exporter_type = type;
    f.exporter_len = 8;
    f.has_request = 1;
    f.flags = 0;
    f.nstacks = 1;
    f.stacks[0] = (bs_finding_stack){"acquire", "acquired by thread T0 with PyBUF_SIMPLE at:", 0, stack};
    return f;
}

static void test_dedupe(void)
{
    bs_finding_log log = {0};
    int is_new = 0;
    bs_finding a = make_finding(BS_CHECK_RELEASE_UNKNOWN, 7, "bytearray");
    CHECK(findlog_add(&log, &a, &is_new) && is_new);
    /* the same check and stacks: not new, counted */
    bs_logged_finding *e = findlog_add(&log, &a, &is_new);
    CHECK(e && !is_new && e->occurrences == 2 && e->count == 2 && e->bytes == 16);
    findlog_add(&log, &a, &is_new);
    CHECK(!is_new && log.items[0].occurrences == 3);
    /* another stack, another check, another exporter type: new each */
    bs_finding b = make_finding(BS_CHECK_RELEASE_UNKNOWN, 8, "bytearray");
    CHECK(findlog_add(&log, &b, &is_new) && is_new);
    bs_finding c = make_finding(BS_CHECK_LEAKED_EXPORT, 7, "bytearray");
    CHECK(findlog_add(&log, &c, &is_new) && is_new);
    bs_finding d = make_finding(BS_CHECK_RELEASE_UNKNOWN, 7, "bytes");
    CHECK(findlog_add(&log, &d, &is_new) && is_new);
    bs_finding r = make_finding(BS_CHECK_RELEASE_UNKNOWN, 7, "bytearray");
    r.stacks[0].role = "release"; /* same stack in another role */
    CHECK(findlog_add(&log, &r, &is_new) && is_new);
    CHECK(log.n == 5 && findlog_repeats(&log) == 2);
    /* the title is our own copy, not the emitted finding's buffer */
    CHECK(log.items[0].first.stacks[0].title != a.stacks[0].title);
    CHECK_STR(log.items[0].first.stacks[0].title, a.stacks[0].title);
    findlog_clear(&log);
    CHECK(log.n == 0);
}

/* A Python stack over a native frame, like the ones the report layer builds. */
static const bs_rframe frames_a[] = {
    {.python = 1, .file = "/src/app [1].py", .line = 12, .function = "parse"},
    {.python = 1, .file = "/src/app [1].py", .line = 30, .function = "<module>"},
    {.python = 0, .file = "/src/ext.c", .line = 44, .function = "ext_parse", .module = "/lib/ext.so",
     .pc = 0x7f0000001234, .offset = 0x1234},
};
static const bs_rframe frames_native[] = {
    {.python = 0, .function = "consume*", .module = "/lib/ext.so", .pc = 0x7f0000000100, .offset = 0x100},
    {.python = 0, .module = "/lib/other.so", .pc = 0x7f0000000200, .offset = 0x200},
};

static void test_fingerprint(void)
{
    bs_finding f = make_finding(BS_CHECK_LEAKED_EXPORT, 1, "bytes");
    bs_rstack s = {"acquire", "t", 0, 3, frames_a, 0};
    bs_rfinding r = {&f, 1, 1, 8, 1, &s};
    char a[17], b[17];
    rfinding_fingerprint(&r, a);
    CHECK(strlen(a) == 16);
    /* other addresses and lines, same bug: same fingerprint */
    bs_rframe moved[3];
    memcpy(moved, frames_a, sizeof moved);
    moved[0].line = 99;
    moved[2].pc = 0x5555;
    moved[2].module = "/other/prefix/ext.so";
    bs_rstack s2 = {"acquire", "t", 3, 3, moved, 0};
    bs_rfinding r2 = {&f, 1, 1, 8, 1, &s2};
    rfinding_fingerprint(&r2, b);
    CHECK_STR(a, b);
    /* another function or check: another fingerprint */
    moved[0].function = "parse2";
    rfinding_fingerprint(&r2, b);
    CHECK(strcmp(a, b) != 0);
    bs_finding g = make_finding(BS_CHECK_RELEASE_UNKNOWN, 1, "bytes");
    bs_rfinding r3 = {&g, 1, 1, 8, 1, &s};
    rfinding_fingerprint(&r3, b);
    CHECK(strcmp(a, b) != 0);
}

/* The generated rule, loaded back from a file, suppresses the finding (and
 * not one elsewhere). */
static void test_suppression_lines(void)
{
    bs_finding f = make_finding(BS_CHECK_LEAKED_EXPORT, 1, "bytes");
    bs_rstack s = {"acquire", "t", 0, 3, frames_a, 0};
    bs_rfinding r = {&f, 1, 1, 8, 1, &s};
    strbuf b = {0};
    suppression_line(&b, &r);
    CHECK_STR(b.data, "leaked-export:/src/app \\[1\\].py");
    bs_finding n = make_finding(BS_CHECK_RELEASE_UNKNOWN, 2, "my.Type[int]");
    bs_rstack sn = {"release", "t", 0, 2, frames_native, 0};
    bs_rfinding rn = {&n, 1, 1, 8, 1, &sn};
    strbuf c = {0};
    suppression_line(&c, &rn);
    CHECK_STR(c.data, "release-unknown:consume\\*");
    bs_rstack empty = {"release", "t", 0, 0, NULL, -1};
    bs_rfinding re = {&n, 1, 1, 8, 1, &empty};
    strbuf t = {0};
    suppression_line(&t, &re);
    CHECK_STR(t.data, "release-unknown:type:my.Type\\[int\\]");

    char path[] = "/tmp/bufsan-test-supp-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    FILE *fp = fdopen(fd, "w");
    fprintf(fp, "# generated\n%s\n%s\n%s\n", b.data, c.data, t.data);
    fclose(fp);
    bs_suppressions sup;
    char err[256];
    CHECK(suppressions_load(&sup, path, err, sizeof err) == 0);
    CHECK(sup.n == 3);
    const char *strs_a[] = {"parse", "/src/app [1].py", "<module>", "/src/app [1].py"};
    bs_match_subject sa = {strs_a, 4, "bytes"};
    CHECK(suppressions_match(&sup, BS_CHECK_LEAKED_EXPORT, &sa) == &sup.rules[0]);
    const char *strs_other[] = {"parse", "/src/app 1.py"};
    bs_match_subject so = {strs_other, 2, "bytes"};
    CHECK(suppressions_match(&sup, BS_CHECK_LEAKED_EXPORT, &so) == NULL);
    const char *strs_n[] = {"consume*", "/lib/ext.so"};
    bs_match_subject sn2 = {strs_n, 2, "x"};
    CHECK(suppressions_match(&sup, BS_CHECK_RELEASE_UNKNOWN, &sn2) == &sup.rules[1]);
    const char *strs_consumer[] = {"consumeX", "/lib/ext.so"};
    bs_match_subject sx = {strs_consumer, 2, "x"};
    CHECK(suppressions_match(&sup, BS_CHECK_RELEASE_UNKNOWN, &sx) == NULL);
    bs_match_subject st = {NULL, 0, "my.Type[int]"};
    CHECK(suppressions_match(&sup, BS_CHECK_RELEASE_UNKNOWN, &st) == &sup.rules[2]);
    CHECK(sup.rules[0].hits == 1 && sup.rules[1].hits == 1 && sup.rules[2].hits == 1);
    suppressions_free(&sup);
    unlink(path);
    sb_free(&b);
    sb_free(&c);
    sb_free(&t);
}

static void test_annotation(void)
{
    bs_finding f = make_finding(BS_CHECK_LEAKED_EXPORT, 1, "bytes");
    bs_rframe fr[] = {{.python = 1, .file = "/w/a,b:c%.py", .line = 7, .function = "f"}};
    bs_rstack s = {"acquire", "t", 0, 1, fr, 0};
    bs_rfinding r = {&f, 3, 3, 24, 1, &s};
    strbuf b = {0};
    github_annotation(&b, &r);
    CHECK_STR(b.data, "::error file=/w/a%2Cb%3Ac%25.py,line=7,title=bufsan leaked-export::a \"quoted\" "
                      "message, with: punctuation%0Aand a newline (reported 3 times) in f\n");
    sb_free(&b);
    f.severity = BS_SEV_WARNING;
    bs_rstack none = {"acquire", "t", 0, 0, NULL, -1};
    bs_rfinding rw = {&f, 1, 1, 8, 1, &none};
    github_annotation(&b, &rw);
    CHECK(strncmp(b.data, "::warning title=bufsan leaked-export::", 38) == 0);
    sb_free(&b);
}

static void test_sarif(const char *out)
{
    bs_finding f1 = make_finding(BS_CHECK_FIELD_NOT_REQUESTED, 1, "zmq.sugar.frame.Frame");
    f1.fields = BS_FIELD_FORMAT | BS_FIELD_STRIDES;
    bs_finding f2 = make_finding(BS_CHECK_RELEASE_UNKNOWN, 2, "my.Type");
    f2.has_exporter = 0;
    f2.has_request = 0;
    f2.nstacks = 3;
    f2.stacks[1] = (bs_finding_stack){"earlier-release", "released before at:", 1, 3};
    f2.stacks[2] = (bs_finding_stack){"acquire", "acquired at:", 1, 0};
    bs_rstack s1 = {"acquire", "acquired at:", 0, 3, frames_a, 0};
    bs_rstack s2[3] = {{"release", "released at:", 1, 2, frames_native, 0},
                       {"earlier-release", "released before at:", 1, 3, frames_a, 2},
                       {"acquire", "acquired at:", 1, 0, NULL, -1}};
    bs_rfinding r[2] = {{&f1, 1, 1, 8, 1, &s1, "tests/test_x.py::test_a[1-2]"},
                        {&f2, 4, 4, 0, 3, s2, NULL}};
    strbuf b = {0};
    sarif_write(&b, r, 2, 4242);
    /* the test it was first reported in (JSON's "test"), only where there was one */
    const char *test = strstr(b.data, ", \"test\": \"tests/test_x.py::test_a[1-2]\"");
    CHECK(test != NULL);
    CHECK(test && strstr(test + strlen(", \"test\": "), "\"test\": ") == NULL);
    CHECK(strstr(b.data, "\"version\": \"2.1.0\"") != NULL);
    char rule[128];
    snprintf(rule, sizeof rule, "\"ruleId\": \"field-not-requested\", \"ruleIndex\": %d",
             (int)BS_CHECK_FIELD_NOT_REQUESTED);
    CHECK(strstr(b.data, rule) != NULL);
    CHECK(strstr(b.data, "\"type\": \"zmq.sugar.frame.Frame\"") != NULL);
    CHECK(strstr(b.data, "\"fields\": [\"format\", \"strides\"]") != NULL);
    CHECK(strstr(b.data, "\"uri\": \"file:///src/app%20%5B1%5D.py\"}, \"region\": {\"startLine\": 12}") != NULL);
    CHECK(strstr(b.data, "\"occurrenceCount\": 4") != NULL);
    CHECK(strstr(b.data, "\"partialFingerprints\": {\"bufsanStack/v1\": \"") != NULL);
    CHECK(strstr(b.data, "\"address\": {\"relativeAddress\": 256}") != NULL);
    CHECK(strstr(b.data, "\"processId\": 4242") != NULL);
    /* every check is a rule */
    for (int i = 0; i < BS_CHECK_COUNT; i++) {
        char id[128];
        snprintf(id, sizeof id, "{\"id\": \"%s\"", bs_checks[i].name);
        CHECK(strstr(b.data, id) != NULL);
    }
    /* no results: still a complete log */
    strbuf e = {0};
    sarif_write(&e, NULL, 0, 1);
    CHECK(strstr(e.data, "\"results\": []}]}") != NULL);
    if (out) {
        FILE *fp = fopen(out, "w");
        CHECK(fp != NULL);
        if (fp) {
            fwrite(b.data, 1, b.len, fp);
            fclose(fp);
        }
    }
    sb_free(&b);
    sb_free(&e);
}

/* Writes a record the way a process does: start lines, then B. */
static void write_record(const char *dir, int pid, int ppid, const strbuf *b)
{
    strbuf start = {0};
    runrec_start_lines(&start, pid, ppid, "python3 app.py");
    int fd = runrec_create(dir, pid, &start);
    CHECK(fd >= 0);
    if (fd >= 0) {
        CHECK(runrec_append(fd, b) == 0);
        close(fd);
    }
    sb_free(&start);
}

static void test_verdict(void)
{
    char dir[] = "/tmp/bufsan-test-run-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    /* parent clean, worker with an error its parent never saw */
    strbuf p = {0}, w = {0}, k = {0};
    bs_runrec_process pp = {100, 1, 0, 0, 0, 0, "python3 app.py"};
    runrec_process_line(&p, &pp);
    write_record(dir, 100, 1, &p);
    FILE *out = tmpfile();
    CHECK(verdict_print(out, dir, 0, 66) == 0); /* one clean process */
    bs_finding f = make_finding(BS_CHECK_LEAKED_EXPORT, 1, "bytes");
    /* the worker's finding as it happened, then its end with the totals */
    bs_rfinding once = {&f, 1, 1, 8, 0, NULL};
    runrec_finding_line(&w, &once, "/src/app.py:12 in work");
    bs_runrec_process pw = {101, 100, 1, 0, 0, 2, "python3\tapp.py"};
    runrec_process_line(&w, &pw);
    bs_rfinding r = {&f, 3, 5, 8, 0, NULL};
    runrec_finding_line(&w, &r, "/src/app.py:12 in work");
    bs_finding u = make_finding(BS_CHECK_RELEASE_UNKNOWN, 2, NULL);
    u.has_exporter = 0;
    bs_rfinding ru = {&u, 1, 1, 0, 0, NULL};
    runrec_finding_line(&w, &ru, "/src/app.py:20 in twice");
    write_record(dir, 101, 100, &w);
    CHECK(verdict_print(out, dir, 0, 66) == 66);
    CHECK(verdict_print(out, dir, 3, 66) == 3); /* the command's own failure wins */
    rewind(out);
    char text[8192] = "";
    size_t n = fread(text, 1, sizeof text - 1, out);
    text[n] = '\0';
    CHECK(strstr(text, "verdict for 2 processes: 1 with errors") != NULL);
    CHECK(strstr(text, "pid 101: error: leaked-export bytes /src/app.py:12 in work (count 5, reported 3)") != NULL);
    /* a finding that names no exporter: no type */
    CHECK(strstr(text, "pid 101: error: release-unknown /src/app.py:20 in twice (count 1)") != NULL);
    CHECK(strstr(text, "SUMMARY: bufsan: 1 error, 0 warnings, 0 suppressed in 2 processes (leaked-export: 3, release-unknown: 1)") != NULL);
    fclose(out);

    /* a worker killed (SIGTERM, SIGKILL) after two findings: they count */
    bs_finding g = make_finding(BS_CHECK_RELEASE_UNKNOWN, 1, "bytearray");
    bs_rfinding one = {&g, 1, 1, 0, 0, NULL};
    runrec_finding_line(&k, &one, "/src/app.py:20 in task");
    runrec_finding_line(&k, &once, "/src/app.py:12 in work");
    write_record(dir, 102, 100, &k);
    out = tmpfile();
    CHECK(verdict_print(out, dir, 0, 66) == 66);
    rewind(out);
    n = fread(text, 1, sizeof text - 1, out);
    text[n] = '\0';
    CHECK(strstr(text, "verdict for 3 processes: 2 with errors") != NULL);
    CHECK(strstr(text, "pid 102 (parent 100): 2 errors, 0 warnings, 0 suppressed (killed before its "
                       "summary: what it reported until then)") != NULL);
    CHECK(strstr(text, "pid 102: error: release-unknown bytearray /src/app.py:20 in task (count 1)") != NULL);
    CHECK(strstr(text, "SUMMARY: bufsan: 3 errors, 0 warnings, 0 suppressed in 3 processes "
                       "(leaked-export: 4, release-unknown: 2)") != NULL);
    fclose(out);

    /* the same pid again (reused, or exec'd after a fork): a record of its own */
    strbuf start = {0};
    runrec_start_lines(&start, 100, 1, "python3 other.py");
    int fd = runrec_create(dir, 100, &start);
    CHECK(fd >= 0);
    if (fd >= 0)
        close(fd);
    sb_free(&start);
    char path[256];
    snprintf(path, sizeof path, "%s/100.1.rec", dir);
    CHECK(access(path, F_OK) == 0);
    unlink(path);
    static const int pids[] = {100, 101, 102};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%d.rec", dir, pids[i]);
        unlink(path);
    }
    rmdir(dir);
    sb_free(&p);
    sb_free(&w);
    sb_free(&k);
}

int main(int argc, char **argv)
{
    test_dedupe();
    test_fingerprint();
    test_suppression_lines();
    test_annotation();
    test_sarif(argc > 1 ? argv[1] : NULL);
    test_verdict();
    return checks_report();
}
