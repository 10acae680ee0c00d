#!/usr/bin/python3.11
"""End-to-end checks of what a CI job reads from bufsan. Standard library
only (plus python3-jsonschema through validate_sarif.py).

Programs live in ci/*.py and mark the line of each expected finding with
`# FINDING: <check>`. Commands:
  reports   three different findings (one of them three times): text with
            three reports and a summary, JSON Lines with three findings and a
            summary, SARIF that validates and has stable fingerprints, GitHub
            annotations with file and line
  gensupp   gen_suppressions=1 lines pasted into a file silence every finding
  tree      scripts/bufsan gives one verdict for a process tree: a
            multiprocessing.Pool worker's leak and a subprocess's leak fail
            the run although their parents exit 0; the fixed pool passes
  tree_wait the launcher waits for every process of the tree and counts
            what killed processes reported: a Popen child that outlives its
            parent, a forkserver pool, workers Pool.terminate() SIGTERMs, a
            SIGKILLed child; one line names what still runs at wait_timeout
  man       docs/bufsan.1 names every option and every check
"""

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_scenario as rs  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TIMEOUT = 300


class Case:
    def __init__(self, args):
        self.build = os.path.abspath(args.build_dir)
        self.source = os.path.abspath(args.source_dir)
        self.python = args.python
        self.lib = os.path.join(self.build, "lib", "libbufsan.so")
        self.tool = os.path.join(self.build, "lib", "bufsan-tool")
        self.launcher = os.path.join(self.source, "scripts", "bufsan")
        self.tmp = tempfile.mkdtemp(prefix="bufsan-ci-")
        self.problems = []
        self.context = []

    def check(self, cond, msg):
        if not cond:
            self.problems.append(msg)
        return cond

    def env(self, options=None, preload=True, extra=None):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("PYTHON") and k not in ("LD_PRELOAD", "BUFSAN_OPTIONS", "GITHUB_ACTIONS")}
        env["PYTHONPATH"] = os.path.join(self.build, "tests", "ext")
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["BUFSAN_LIBDIR"] = os.path.join(self.build, "lib")
        if preload:
            env["LD_PRELOAD"] = self.lib
        if options:
            env["BUFSAN_OPTIONS"] = options
        if extra:
            env.update(extra)
        return env

    def run(self, label, cmd, env):
        p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=TIMEOUT, cwd=self.tmp)
        self.context.append(("%s: %s (status %d)" % (label, " ".join(cmd), p.returncode),
                             "stdout:\n" + p.stdout + "\nstderr:\n" + p.stderr))
        return p

    def finish(self, name):
        shutil.rmtree(self.tmp, ignore_errors=True)
        if not self.problems:
            print("PASS %s" % name)
            return 0
        for title, text in self.context:
            print("---- %s ----" % title)
            print(text[-8000:])
        for p in self.problems:
            print("FAIL: " + p)
        print("FAIL %s (%d problems)" % (name, len(self.problems)))
        return 1


def expected_findings(path):
    """line -> check, from the `# FINDING: <check>` comments."""
    out = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            m = re.search(r"# FINDING: ([a-z-]+)", line)
            if m:
                out[n] = m.group(1)
    return out


def only_file(case, pattern):
    files = glob.glob(pattern)
    case.check(len(files) == 1, "expected one file for %s, found %s" % (pattern, files))
    return files[0] if files else None


# ---------------------------------------------------------------------------


# Where a finding is located (SUMMARY, SARIF, annotations, verdicts): the
# innermost frame outside the interpreter. The test extension's functions
# carry their source lines, so a finding it made is located there.
TESTEXT_LOC = r"\S*/_bufsan_testext\.c:\d+ in testext_\w+"


def location_of(finding):
    """(file, line, function) a finding's reports name, from its JSON record:
    its first stack's extension frame (run_scenario.extension_location),
    else that stack's first Python frame."""
    if not finding.get("stacks"):
        return None, None, None
    stack = finding["stacks"][0]
    loc = rs.extension_location(stack)
    py = rs.python_frames(stack)
    return loc or ((py[0]["file"], py[0]["line"], py[0]["function"]) if py else (None, None, None))


def cmd_reports(case):
    prog = os.path.join(HERE, "ci", "three_checks.py")
    expect = expected_findings(prog)  # line -> check
    checks = sorted(expect.values())
    base = case.run("baseline", [case.python, prog], case.env(preload=False))
    case.check(base.returncode == 0, "without bufsan the program exits %d" % base.returncode)

    # JSON Lines: three findings and a summary counting the repeats
    j = case.run("json", [case.python, prog],
                 case.env("log_format=json:log_path=%s" % os.path.join(case.tmp, "j")))
    path = only_file(case, os.path.join(case.tmp, "j.*"))
    records = [json.loads(l) for l in open(path)] if path else []
    findings = [r for r in records if r.get("kind") == "finding"]
    case.check(sorted(f["check"] for f in findings) == checks,
               "json: findings %s, expected %s" % ([f["check"] for f in findings], checks))
    case.check(records and records[-1].get("kind") == "summary", "json: last line is not the summary")
    if records and records[-1].get("kind") == "summary":
        s = records[-1]
        case.check(s["errors"] == 3 and s["duplicates"] == 2, "json: summary %r" % s)
        rep = s.get("repeated", [])
        case.check(len(rep) == 1 and rep[0]["check"] == "release-unknown" and rep[0]["occurrences"] == 3
                   and rep[0]["count"] == 3, "json: repeated %r" % rep)
        by_fp = {f["fingerprint"]: f for f in findings}
        case.check(rep and rep[0]["fingerprint"] in by_fp, "json: repeated fingerprint names no finding")
    case.check(j.stderr == base.stderr, "json run: findings leaked onto stderr")

    # where each check's finding is located, and the program line it came from
    where = {}
    for f in findings:
        py = [fr for fr in f["stacks"][0]["frames"] if fr.get("kind") == "python"]
        if py and py[0]["line"] in expect:
            where[f["check"]] = location_of(f)
    case.check(sorted(where) == checks, "json: findings at the program's lines: %s" % sorted(where))

    # text: three reports, each SUMMARY at the expected line, one final summary
    t = case.run("text", [case.python, prog], case.env())
    case.check(t.returncode == 66, "text run: exit status %d, expected 66" % t.returncode)
    headers = re.findall(r"^==\d+==ERROR: bufsan: ([a-z-]+):", t.stderr, re.M)
    case.check(sorted(headers) == checks, "text: report headers %s, expected %s" % (headers, checks))
    for check, (wfile, wline, wfunc) in where.items():
        want = "SUMMARY: bufsan: %s %s:%s in %s\n" % (check, wfile, wline, wfunc)
        case.check(t.stderr.count(want) == 1, "text: expected exactly one %r" % want)
    case.check(re.search(r"^==\d+==bufsan: 3 errors, 0 warnings, 0 suppressed \(", t.stderr, re.M),
               "text: no final summary with 3 errors")
    ru = where.get("release-unknown", (None, None, None))
    case.check(("bufsan: release-unknown %s:%s in %s reported 3 times" % ru) in t.stderr,
               "text: the repeated release-unknown is not counted in the summary")
    case.check("::error" not in t.stderr, "text: annotations without GITHUB_ACTIONS")

    # SARIF: valid, three results, locations at the bug lines, stable fingerprints
    fps = []
    for run in (1, 2):
        d = os.path.join(case.tmp, "s%d" % run)
        os.mkdir(d)
        s = case.run("sarif %d" % run, [case.python, prog],
                     case.env("log_format=sarif:log_path=%s" % os.path.join(d, "log.sarif")))
        case.check(s.returncode == 66, "sarif run: exit status %d" % s.returncode)
        path = only_file(case, os.path.join(d, "log.sarif.*"))
        if not path:
            continue
        v = case.run("validate", [sys.executable, os.path.join(HERE, "validate_sarif.py"), path], os.environ.copy())
        case.check(v.returncode == 0, "sarif: does not validate against the schema:\n" + v.stdout)
        log = json.load(open(path))
        run0 = log["runs"][0]
        rules = [r["id"] for r in run0["tool"]["driver"]["rules"]]
        results = run0["results"]
        case.check(sorted(r["ruleId"] for r in results) == checks, "sarif: results %s" % [r["ruleId"] for r in results])
        for r in results:
            case.check(rules[r["ruleIndex"]] == r["ruleId"], "sarif: ruleIndex of %s" % r["ruleId"])
            loc = r["locations"][0]["physicalLocation"]
            line = loc["region"]["startLine"]
            wfile, wline, _ = where.get(r["ruleId"], (None, None, None))
            case.check(loc["artifactLocation"]["uri"] == "file://%s" % wfile and line == wline,
                       "sarif: %s located at %s:%s, expected %s:%s"
                       % (r["ruleId"], loc["artifactLocation"]["uri"], line, wfile, wline))
            case.check(r["stacks"] and r["codeFlows"], "sarif: %s has no stacks/codeFlows" % r["ruleId"])
            if r["ruleId"] == "release-unknown":
                case.check(r["occurrenceCount"] == 3, "sarif: occurrenceCount %r" % r.get("occurrenceCount"))
        fps.append(sorted((r["ruleId"], r["partialFingerprints"]["bufsanStack/v1"]) for r in results))
    case.check(len(fps) == 2 and fps[0] == fps[1], "sarif: fingerprints differ between runs: %s" % fps)

    # GitHub Actions annotations: file and line of each finding
    g = case.run("github", [case.python, prog], case.env(extra={"GITHUB_ACTIONS": "true"}))
    ann = re.findall(r"^::error file=([^,]+),line=(\d+),title=bufsan ([a-z-]+)::(.+)$", g.stderr, re.M)
    case.check(sorted(a[2] for a in ann) == checks, "github: annotations %s" % ann)
    for f, line, check, msg in ann:
        wfile, wline, _ = where.get(check, (None, None, None))
        case.check(f == wfile and int(line) == wline, "github: %s at %s:%s, expected %s:%s"
                   % (check, f, line, wfile, wline))
    off = case.run("github off", [case.python, prog],
                   case.env("github_annotations=0", extra={"GITHUB_ACTIONS": "true"}))
    case.check("::error" not in off.stderr, "github_annotations=0 still annotates")
    on = case.run("github on", [case.python, prog], case.env("github_annotations=1"))
    case.check(len(re.findall(r"^::error ", on.stderr, re.M)) == 3, "github_annotations=1: expected 3 annotations")


def cmd_gensupp(case):
    prog = os.path.join(HERE, "ci", "three_checks.py")
    g = case.run("gen", [case.python, prog], case.env("gen_suppressions=1"))
    lines = re.findall(r"add this line to the suppressions file:\n(.+)\n", g.stderr)
    case.check(len(lines) == 3, "gen_suppressions=1: expected 3 lines, got %s" % lines)
    # the JSON form carries the same lines
    jpath = os.path.join(case.tmp, "g")
    case.run("gen json", [case.python, prog], case.env("gen_suppressions=1:log_format=json:log_path=" + jpath))
    path = only_file(case, jpath + ".*")
    jl = [json.loads(l).get("suppression") for l in open(path)] if path else []
    case.check(sorted(x for x in jl if x) == sorted(lines), "json suppression fields %s vs %s" % (jl, lines))
    supp = os.path.join(case.tmp, "bufsan.supp")
    with open(supp, "w") as f:
        f.write("# pasted from gen_suppressions=1\n" + "\n".join(lines) + "\n")
    s = case.run("suppressed", [case.python, prog], case.env("suppressions=" + supp))
    case.check(s.returncode == 0, "with the generated suppressions: exit status %d, expected 0" % s.returncode)
    case.check("ERROR: bufsan" not in s.stderr, "with the generated suppressions: findings still reported")
    case.check(re.search(r"bufsan: 0 errors, 0 warnings, 5 suppressed", s.stderr),
               "with the generated suppressions: summary should count 5 suppressed")
    for i in range(3):
        case.check(re.search(r"suppression %s:%d '[^']+' matched \d+ finding" % (re.escape(supp), i + 2), s.stderr)
                   and "(unused)" not in s.stderr, "rule on line %d: no count or unused" % (i + 2))


def verdict_lines(text):
    return [l for l in text.splitlines() if l.startswith("==bufsan==") or l.startswith("SUMMARY: bufsan:")]


def cmd_tree(case):
    pool = os.path.join(HERE, "ci", "pool_leak.py")
    (leak_line,) = expected_findings(pool).keys()
    # under the launcher: the workers' leaks fail the run
    t = case.run("pool", [case.launcher, case.python, pool], case.env(preload=False))
    case.check(t.returncode == 66, "pool via launcher: exit status %d, expected 66" % t.returncode)
    case.check("pool_leak sum 18" in t.stdout, "pool: the program did not run to the end")
    v = verdict_lines(t.stderr)
    case.check(any(re.match(r"==bufsan== verdict for \d+ processes: [12] with errors", l) for l in v),
               "pool: no verdict line")
    case.check(any(re.search(r"pid \d+: error: leaked-export bytearray %s:%d in work" % (re.escape(pool), leak_line), l)
                   for l in v), "pool: the worker's finding is not in the verdict")
    case.check(any(re.match(r"SUMMARY: bufsan: [12] errors?, 0 warnings, 0 suppressed in \d+ processes "
                            r"\(leaked-export: [12]\)", l) for l in v), "pool: no combined SUMMARY")
    # the fixed pool: every process clean, status 0
    f = case.run("pool fixed", [case.launcher, case.python, pool, "--fixed"], case.env(preload=False))
    case.check(f.returncode == 0, "fixed pool via launcher: exit status %d, expected 0" % f.returncode)
    case.check("ERROR: bufsan" not in f.stderr, "fixed pool: findings reported")
    case.check(any(re.match(r"SUMMARY: bufsan: 0 errors, 0 warnings, 0 suppressed in [3-9] processes", l)
                   for l in verdict_lines(f.stderr)), "fixed pool: no clean verdict over the tree")
    # plain LD_PRELOAD keeps its behaviour: the parent's own status, no verdict
    p = case.run("pool preload", [case.python, pool], case.env())
    case.check(p.returncode == 0, "pool with LD_PRELOAD: exit status %d, expected the parent's 0" % p.returncode)
    case.check("==bufsan== verdict" not in p.stderr, "pool with LD_PRELOAD: a verdict without the launcher")
    case.check(re.search(r"SUMMARY: bufsan: leaked-export %s:%d in work" % (re.escape(pool), leak_line), p.stderr),
               "pool with LD_PRELOAD: the workers still report their own leaks")
    # a subprocess whose status the parent ignores
    child = os.path.join(HERE, "ci", "child_leak.py")
    (cline,) = expected_findings(child).keys()
    c = case.run("subprocess", [case.launcher, case.python, child], case.env(preload=False))
    case.check(c.returncode == 66, "subprocess via launcher: exit status %d, expected 66" % c.returncode)
    case.check("child_leak child status 66" in c.stdout, "subprocess: the child did not fail on its own")
    # (testext.leak made it: located at the test extension's line)
    case.check(any(re.search(r"error: leaked-export __main__.Payload " + TESTEXT_LOC, l)
                   for l in verdict_lines(c.stderr)), "subprocess: the child's finding is not in the verdict")
    # the launcher's run directory is removed; a given run_dir is kept
    rd = os.path.join(case.tmp, "rundir")
    k = case.run("run_dir", [case.launcher, "--run-dir=" + rd, case.python, child], case.env(preload=False))
    case.check(k.returncode == 66 and len(glob.glob(os.path.join(rd, "*.rec"))) == 2,
               "run_dir given: expected 2 records kept in %s" % rd)
    # the program's own failure wins over the verdict
    e = case.run("own status", [case.launcher, case.python, "-c", "import sys; sys.exit(3)"],
                 case.env(preload=False))
    case.check(e.returncode == 3, "own status: %d, expected 3" % e.returncode)


def cmd_tree_wait(case):
    prog = os.path.join(HERE, "ci", "tree_wait.py")
    lines = expected_findings(prog)
    leak_line = [l for l, c in lines.items() if c == "leaked-export"][0]
    unknown_line = [l for l, c in lines.items() if c == "release-unknown"][0]

    def verdict(label, *args, options=()):
        return case.run(label, [case.launcher] + list(options) + [case.python, prog] + list(args),
                        case.env(preload=False))

    # a child that outlives the launched command: waited for, its leak counted
    o = verdict("outlive", "outlive")
    case.check(o.returncode == 66, "outlive: exit status %d, expected 66" % o.returncode)
    case.check("cannot write the run record" not in o.stderr, "outlive: the child's record was lost")
    case.check(any(re.search(r"pid \d+: error: leaked-export bytearray " + TESTEXT_LOC, l)
                   for l in verdict_lines(o.stderr)), "outlive: the child's leak is not in the verdict")
    # forkserver: main, the resource tracker, the forkserver and three workers,
    # every time (the forkserver and the tracker end after main)
    for i in range(2):
        f = verdict("forkserver %d" % i, "forkserver")
        case.check("tree_wait workers 3" in f.stdout, "forkserver: not three workers")
        case.check(any(re.match(r"SUMMARY: bufsan: 3 errors, 0 warnings, 0 suppressed in 6 processes "
                                r"\(leaked-export: 3\)", l) for l in verdict_lines(f.stderr)),
                   "forkserver run %d: the verdict does not count 6 processes and 3 leaks" % i)
        case.check(f.returncode == 66, "forkserver: exit status %d, expected 66" % f.returncode)
    # workers SIGTERMed by Pool.terminate(): their findings count
    t = verdict("terminate", "terminate")
    v = verdict_lines(t.stderr)
    case.check(t.returncode == 66 and "tree_wait terminated" in t.stdout,
               "terminate: exit status %d, expected 66" % t.returncode)
    killed = [l for l in v if "killed before its summary" in l]
    case.check(len(killed) == 2, "terminate: expected 2 workers killed before their summary, got %d" % len(killed))
    case.check(len([l for l in v if re.search(r"error: release-unknown \S+ " + TESTEXT_LOC, l)]) == 2,
               "terminate: the workers' findings are not in the verdict")
    # a SIGKILLed child: its finding counts although its parent got -9
    k = verdict("sigkill", "sigkill")
    case.check(k.returncode == 66 and "tree_wait child status -9" in k.stdout,
               "sigkill: exit status %d, expected 66" % k.returncode)
    case.check(any("killed before its summary" in l for l in verdict_lines(k.stderr)),
               "sigkill: the killed child is not named in the verdict")
    # a process still running at wait_timeout: named in one line, not waited for
    start = time.time()
    g = verdict("linger", "linger", "30", options=["--wait-timeout=1"])
    took = time.time() - start
    case.check(g.returncode == 0 and took < 20, "linger: status %d after %.1fs, expected 0 at once"
               % (g.returncode, took))
    case.check(any("(still running: what it reported so far)" in l for l in verdict_lines(g.stderr)),
               "linger: the process still running is not named so in the verdict")
    names = [l for l in g.stderr.splitlines() if "not waiting for" in l]
    case.check(len(names) == 1 and re.search(r"not waiting for 1 process still running 1 s after the "
                                             r"command ended \(wait_timeout=1;.*pid \d+ \(\S*python\S* "
                                             r"\S*tree_wait.py linger-child 30\)", names[0]),
               "linger: no line naming the process still running: %s" % names)
    for pid in re.findall(r"pid (\d+) \(", names[0] if names else ""):
        try:
            os.kill(int(pid), 9)
        except OSError:
            pass


def cmd_man(case):
    page = open(os.path.join(case.source, "docs", "bufsan.1")).read()
    h = case.run("help", [case.tool, "help"], os.environ.copy())
    names = re.findall(r"^  ([a-z_]+) ", h.stdout, re.M)
    case.check(len(names) >= 12, "help lists %d options" % len(names))
    for n in names:
        case.check((".BI \\-\\-%s=" % n) in page, "docs/bufsan.1 does not document option %s" % n)
    checks = re.findall(r" ([a-z-]+)\((?:error|warning|off)\)", h.stdout)
    case.check(checks, "help lists no checks")
    for c in checks:
        case.check((".B %s\n" % c) in page, "docs/bufsan.1 does not document check %s" % c)
    if shutil.which("groff"):
        g = case.run("groff", ["groff", "-man", "-Tutf8", "-ww", "-z",
                               os.path.join(case.source, "docs", "bufsan.1")], os.environ.copy())
        case.check(g.returncode == 0 and not g.stderr.strip(), "groff warnings: " + g.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--source-dir", required=True)
    ap.add_argument("--python", default="/usr/bin/python3.11")
    ap.add_argument("command", choices=["reports", "gensupp", "tree", "tree_wait", "man"])
    args = ap.parse_args()
    case = Case(args)
    globals()["cmd_" + args.command](case)
    return case.finish("%s under %s" % (args.command, args.python))


if __name__ == "__main__":
    sys.exit(main())
