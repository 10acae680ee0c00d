#!/usr/bin/python3.11
"""Trace files end to end (standard library only).

  scenario NAME   runs scenarios/NAME.py under bufsan with trace= and JSON
                  logs, then `bufsan report` on the traces: the set of
                  findings (pid, check, innermost frame of the main stack)
                  must equal the live run's, in json and in text format.
  killed [HOW]    a program holding three exports dies (HOW: kill9, a
                  SIGKILL; _exit, os._exit; segv, a segmentation fault):
                  `bufsan report` lists the three as held at end of trace,
                  each with its acquiring Python line.
  fork_inherited  a forked child releases an export it inherited.
  options         checks=, suppressions=, exitcode= apply to the replay.
  html            `bufsan report --html` of a scenario's traces, loaded in
                  headless Chromium: lanes and marks exist; a screenshot is
                  saved next to the page (--out-dir).
"""

import argparse
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_scenario as rs  # noqa: E402

KEEP_FOR_REPORT = ("checks", "strict", "suppressions", "stack_depth", "exitcode")


def innermost(f):
    stacks = f.get("stacks") or []
    if not stacks or not stacks[0]["frames"]:
        return "<none>"
    fr = stacks[0]["frames"][0]
    if fr["kind"] == "python":
        return "%s:%d" % (fr["file"], fr["line"])
    return "native:%s" % (fr.get("function") or fr.get("offset"))


def json_findings(text, kind="finding"):
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        rec = json.loads(line)
        if rec.get("kind") == kind:
            out.append(rec)
    return out


def key_set(findings):
    return sorted((f["pid"], f["check"], innermost(f)) for f in findings)


def text_keys(text):
    """(pid, check, SUMMARY location) of each text report."""
    keys = []
    for m in re.finditer(r"^==(\d+)==(?:ERROR|WARNING): bufsan: ([a-z-]+):", text, re.M):
        keys.append((int(m.group(1)), m.group(2)))
    summaries = re.findall(r"^SUMMARY: bufsan: ([a-z-]+) (.*)$", text, re.M)
    return sorted(keys), sorted(summaries)


def report_tool(env):
    return os.path.join(env.build, "lib", "bufsan-report")


def run_traced(env, script, tmp, options, fmt):
    logdir = os.path.join(tmp, fmt)
    os.makedirs(logdir, exist_ok=True)
    opts = dict(options)
    opts.pop("log_path", None)
    opts["trace"] = os.path.join(logdir, "trace")
    if fmt == "json":
        opts["log_format"] = "json"
        opts["log_path"] = os.path.join(logdir, "log")
    environ = env.base_environ({"LD_PRELOAD": env.loader,
                                "BUFSAN_OPTIONS": ":".join("%s=%s" % kv for kv in opts.items())})
    p = subprocess.run([env.python, script], env=environ, cwd=tmp, capture_output=True, text=True,
                       timeout=rs.TIMEOUT)
    traces = sorted(glob.glob(os.path.join(logdir, "trace.*")))
    live = ""
    for log in sorted(glob.glob(os.path.join(logdir, "log.*"))):
        live += rs.read_text(log)
    return p, traces, live


def cmd_scenario(args):
    env = rs.Env(args)
    fails = rs.Failures()
    script = os.path.join(env.scenarios, args.name + ".py")
    _, meta, bugs = rs.parse_scenario(script)
    if "numpy" in meta.get("needs", "") and subprocess.run(
            [env.python, "-c", "import numpy"], capture_output=True).returncode:
        print("SKIP %s: no numpy" % args.name)
        return 0
    options = rs.parse_options(meta.get("options"))
    report_opts = ["--%s=%s" % (k, v) for k, v in options.items() if k in KEEP_FOR_REPORT]
    tmp = tempfile.mkdtemp(prefix="bufsan-trace-")
    try:
        # JSON: findings compared field by field
        p, traces, live = run_traced(env, script, tmp, options, "json")
        fails.add_context("live json", live)
        fails.add_context("program stderr", p.stderr)
        if fails.check(traces, "no trace file written"):
            r = subprocess.run([report_tool(env), "report", "--log-format=json"] + report_opts + traces,
                               capture_output=True, text=True, timeout=rs.TIMEOUT)
            fails.add_context("report json", r.stdout + r.stderr)
            fails.check(r.returncode < 128, "bufsan report died: status %d" % r.returncode)
            live_keys = key_set(json_findings(live))
            replay_keys = key_set(json_findings(r.stdout))
            fails.check(live_keys == replay_keys,
                        "findings differ:\n  live   %r\n  replay %r" % (live_keys, replay_keys))
            fails.check(len(live_keys) == len(bugs) or meta.get("halts"),
                        "live run found %d findings, the scenario has %d BUG lines"
                        % (len(live_keys), len(bugs)))
            live_status = 66 if any(f["severity"] == "error" for f in json_findings(live)) else 0
            if live_status and "exitcode" not in options:
                fails.check(r.returncode == 66, "report exit status %d, expected 66" % r.returncode)
            if not live_keys:
                fails.check(r.returncode == 0, "report exit status %d on a clean trace" % r.returncode)
        # text: the same headers and SUMMARY lines
        p, traces, _ = run_traced(env, script, tmp, options, "text")
        if fails.check(traces, "no trace file written (text run)"):
            r = subprocess.run([report_tool(env), "report"] + report_opts + traces,
                               capture_output=True, text=True, timeout=rs.TIMEOUT)
            live_text = p.stderr
            fails.add_context("live text", live_text)
            fails.add_context("report text", r.stdout + r.stderr)
            lk, ls_ = text_keys(live_text)
            rk, rs_ = text_keys(r.stdout)
            fails.check(lk == rk, "text headers differ: live %r, replay %r" % (lk, rk))
            fails.check(ls_ == rs_, "SUMMARY lines differ: live %r, replay %r" % (ls_, rs_))
    finally:
        if not args.keep:
            shutil.rmtree(tmp, True)
    return fails.finish("trace %s under %s" % (args.name, env.python))


KILLED = '''
import sys, time
import _bufsan_testext as testext
keep = []
e1 = testext.Exporter(11)
keep.append(testext.acquire(e1))  # HOLD 1
e2 = testext.Exporter(22)
keep.append(testext.acquire(e2))  # HOLD 2
ba = bytearray(b"held-three")
keep.append(memoryview(ba))  # HOLD 3
print("ready", flush=True)
if sys.argv[1] == "_exit":
    import os
    os._exit(3)
if sys.argv[1] == "segv":
    import ctypes
    ctypes.string_at(0)
time.sleep(60)
'''


def cmd_killed(args):
    env = rs.Env(args)
    fails = rs.Failures()
    tmp = tempfile.mkdtemp(prefix="bufsan-trace-killed-")
    try:
        script = os.path.join(tmp, "killed.py")
        with open(script, "w") as f:
            f.write(KILLED)
        hold_lines = [i for i, t in enumerate(KILLED.splitlines(), 1) if "# HOLD" in t]
        environ = env.base_environ({"LD_PRELOAD": env.loader,
                                    "BUFSAN_OPTIONS": "trace=%s" % os.path.join(tmp, "trace")})
        p = subprocess.Popen([env.python, script, args.how], env=environ, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        line = p.stdout.readline()
        fails.check(line.strip() == "ready", "program did not get ready: %r" % line)
        expect = {"kill9": -signal.SIGKILL, "_exit": 3, "segv": -signal.SIGSEGV}[args.how]
        if args.how == "kill9":
            os.kill(p.pid, signal.SIGKILL)
        p.wait(timeout=30)
        fails.check(p.returncode == expect, "status %r, expected %r" % (p.returncode, expect))
        traces = glob.glob(os.path.join(tmp, "trace.*"))
        if fails.check(len(traces) == 1, "traces: %r" % traces):
            r = subprocess.run([report_tool(env), "report", "--log-format=json", traces[0]],
                               capture_output=True, text=True, timeout=rs.TIMEOUT)
            fails.add_context("report", r.stdout + r.stderr)
            fails.check("no end record" in r.stderr, "the reader does not say the trace stops")
            # (the interpreter may hold exports of its own, e.g. print's)
            # (an extension's frames come first: the Python frame that called it)
            def py0(h):
                py = [fr for fr in h["stacks"][0]["frames"] if fr.get("kind") == "python"]
                return py[0] if py else {}
            held = [h for h in json_findings(r.stdout, "held")
                    if py0(h).get("file") == script and py0(h).get("line") in hold_lines]
            got = sorted(py0(h)["line"] for h in held)
            fails.check(got == hold_lines, "held exports at lines %r, expected %r" % (got, hold_lines))
            types = sorted(h["exporter"]["type"] for h in held)
            fails.check(types == sorted(["_bufsan_testext.Exporter"] * 2 + ["bytearray"]),
                        "types %r" % types)
            t = subprocess.run([report_tool(env), "report", traces[0]], capture_output=True,
                               text=True, timeout=rs.TIMEOUT)
            fails.check(t.stdout.count("held at end of trace") >= 3, "text report lacks the held list")
            for ln in hold_lines:
                fails.check("%s:%d in <module>" % (script, ln) in t.stdout,
                            "text report lacks the frame %s:%d" % (script, ln))
    finally:
        if not args.keep:
            shutil.rmtree(tmp, True)
    return fails.finish("process ended by %s under %s" % (args.how, env.python))


FORKED = '''
import os, sys
import _bufsan_testext as testext
e = testext.Exporter(8)
h = testext.acquire(e)
kept = testext.acquire(e)
sys.stdout.flush()
pid = os.fork()
if pid == 0:
    testext.release(h)          # an export inherited from the parent
    testext.leak(bytearray(b"c"))  # the child's own leak
    sys.exit(0)
os.waitpid(pid, 0)
testext.release(h)
testext.release(kept)
'''


def cmd_fork_inherited(args):
    """A child releases an export it inherited: its trace starts with the
    exports live at fork, so the replay matches that release as the live run
    did (no release-unknown), and finds the child's own leak plus the kept
    export the child never released."""
    env = rs.Env(args)
    fails = rs.Failures()
    tmp = tempfile.mkdtemp(prefix="bufsan-trace-fork-")
    try:
        script = os.path.join(tmp, "forked.py")
        with open(script, "w") as f:
            f.write(FORKED)
        p, traces, live = run_traced(env, script, tmp, {}, "json")
        fails.add_context("live", live + p.stderr)
        fails.check(len(traces) == 2, "traces %r" % traces)
        r = subprocess.run([report_tool(env), "report", "--log-format=json"] + traces,
                           capture_output=True, text=True, timeout=rs.TIMEOUT)
        fails.add_context("report", r.stdout + r.stderr)
        lk, rk = key_set(json_findings(live)), key_set(json_findings(r.stdout))
        fails.check(lk == rk, "findings differ:\n  live   %r\n  replay %r" % (lk, rk))
        fails.check(not any(k[1] == "release-unknown" for k in rk), "release-unknown in %r" % rk)
        d = subprocess.run([report_tool(env), "dump"] + traces, capture_output=True, text=True)
        fails.check(" inherited from pid " in d.stdout, "no inherited record in the child's trace")
    finally:
        if not args.keep:
            shutil.rmtree(tmp, True)
    return fails.finish("fork with inherited exports under %s" % env.python)


def cmd_options(args):
    """checks= and suppressions= apply to the replay, not to the recording."""
    env = rs.Env(args)
    fails = rs.Failures()
    tmp = tempfile.mkdtemp(prefix="bufsan-trace-opts-")
    try:
        script = os.path.join(env.scenarios, "leak_three.py")
        _, traces, live = run_traced(env, script, tmp, {}, "json")
        fails.check(len(json_findings(live)) == 3, "live run: %r" % live)

        def report(*opts):
            r = subprocess.run([report_tool(env), "report", "--log-format=json"] + list(opts) + traces,
                               capture_output=True, text=True, timeout=rs.TIMEOUT)
            fails.add_context("report %s" % " ".join(opts), r.stdout + r.stderr)
            return r, json_findings(r.stdout), json_findings(r.stdout, "summary")

        r, found, summ = report("--checks=-leaked-export")
        fails.check(not found and r.returncode == 0,
                    "checks=-leaked-export: %d findings, status %d" % (len(found), r.returncode))
        supp = os.path.join(tmp, "supp.txt")
        with open(supp, "w") as f:
            f.write("leaked-export:testext_leak_buffer\n")
        r, found, summ = report("--suppressions=" + supp)
        fails.check(len(found) == 1 and found[0]["exporter"]["type"] == "_bufsan_testext.Exporter",
                    "suppressions: %r" % [f["exporter"]["type"] for f in found])
        fails.check(summ and summ[0]["suppressed"] == 2, "summary %r" % summ)
        r, found, _ = report("--exitcode=7")
        fails.check(r.returncode == 7, "exitcode=7: status %d" % r.returncode)
        r = subprocess.run([report_tool(env), "report", "--no-such-option=1"] + traces,
                           capture_output=True, text=True)
        fails.check(r.returncode == 64 and "no_such_option" in r.stderr.replace("-", "_"),
                    "bad option: %d %r" % (r.returncode, r.stderr))
        r = subprocess.run([report_tool(env), "report", os.path.join(tmp, "missing")],
                           capture_output=True, text=True)
        fails.check(r.returncode == 64 and r.stderr.count("\n") == 1 and "missing" in r.stderr,
                    "missing file: %d %r" % (r.returncode, r.stderr))
        d = subprocess.run([env.launcher, "dump"] + traces, capture_output=True, text=True)
        events = [l for l in d.stdout.splitlines() if " event " in l]
        fails.check(d.returncode == 0 and events and "trace complete" in d.stdout,
                    "dump through the launcher: %d, %d events" % (d.returncode, len(events)))
    finally:
        if not args.keep:
            shutil.rmtree(tmp, True)
    return fails.finish("report options")


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--virtual-time-budget=10000"]


def chromium(out_dir, *args):
    profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=out_dir)
    try:
        return subprocess.run(["chromium"] + CHROMIUM_FLAGS + ["--user-data-dir=" + profile] + list(args),
                              capture_output=True, text=True, timeout=180)
    finally:
        shutil.rmtree(profile, True)


def cmd_html(args):
    """Traces of a real run (CPython's test_memoryview) plus two scenarios with
    findings, merged into one page; rendered in headless Chromium."""
    env = rs.Env(args)
    fails = rs.Failures()
    if not shutil.which("chromium"):
        print("SKIP html: no chromium")
        return 77
    out = os.path.abspath(args.out_dir or tempfile.mkdtemp(prefix="bufsan-html-"))
    os.makedirs(out, exist_ok=True)
    tdir = os.path.join(out, "traces")
    shutil.rmtree(tdir, True)
    os.makedirs(tdir)
    environ = env.base_environ({"LD_PRELOAD": env.loader,
                                "BUFSAN_OPTIONS": "trace=%s" % os.path.join(tdir, "trace")})
    runs = [[env.python, "-m", "unittest", "-q", "test.test_memoryview"]]
    for name in ("leak_three", "release_unknown"):
        runs.append([env.python, os.path.join(env.scenarios, name + ".py")])
    for cmd in runs:
        p = subprocess.run(cmd, env=environ, cwd=out, capture_output=True, text=True,
                           timeout=rs.TIMEOUT)
        fails.add_context(" ".join(cmd[1:]), p.stderr[-3000:])
    traces = sorted(glob.glob(os.path.join(tdir, "trace.*")))
    fails.check(len(traces) >= 3, "traces: %r" % traces)
    page = os.path.join(out, "timeline.html")
    r = subprocess.run([report_tool(env), "report", "--html=" + page] + traces,
                       capture_output=True, text=True, timeout=rs.TIMEOUT)
    fails.add_context("report", r.stdout[-4000:] + r.stderr[-4000:])
    if not fails.check(os.path.exists(page), "no page written"):
        return fails.finish("html")
    with open(page) as f:
        html = f.read()
    fails.check("http://" not in html and "https://" not in html, "the page refers to the network")
    dom = chromium(out, "--dump-dom", "file://" + page + "#selftest")
    fails.add_context("chromium stderr", dom.stderr[-3000:])
    groups = len(re.findall(r'class="group[ "]', dom.stdout))
    lanes = len(re.findall(r'class="lane[ "]', dom.stdout))
    rows = len(re.findall(r'class="finding[ "]', dom.stdout))
    bars = len(re.findall(r'class="bar ', dom.stdout))
    counts = dict(re.findall(r'data-name="([^"]+)"><b>(\d+)</b>', dom.stdout))
    print("html: %d groups, %d open lanes, %d bars, %d findings, summary %r" % (groups, lanes, bars, rows, counts))
    fails.check(groups >= 10, "only %d groups of lanes rendered" % groups)
    fails.check(bars >= groups, "%d bars for %d groups" % (bars, groups))
    fails.check(rows >= 4, "only %d findings listed (leak_three: 3, release_unknown: 1)" % rows)
    fails.check(counts.get("findings") == str(rows), "summary counts %r" % counts)
    fails.check(counts.get("processes") == str(len(traces)), "summary counts %r" % counts)
    m = re.search(r"data-selftest=\"([^\"]*)\"", dom.stdout)
    if fails.check(m, "the page's click self-test did not run"):
        import html as htmlmod
        clicked = json.loads(htmlmod.unescape(m.group(1)))
        fails.check("acquired" in clicked.get("bar", ""), "clicking a bar shows %r" % clicked.get("bar"))
        fails.check(re.search(r"^[a-z-]+ \[\w+\]: .*\n.*:\n#0 ", clicked.get("mark", ""), re.S),
                    "clicking a finding shows %r" % clicked.get("mark"))
    shot = os.path.join(out, "timeline.png")
    # the screenshot shows the details of the first finding (clicked by #selftest)
    chromium(out, "--screenshot=" + shot, "--window-size=1400,1000", "file://" + page + "#selftest")
    fails.check(os.path.exists(shot) and os.path.getsize(shot) > 10000, "no screenshot")
    print("page %s, screenshot %s" % (page, shot))
    return fails.finish("html timeline under %s" % env.python)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--source-dir", required=True)
    ap.add_argument("--python")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--out-dir")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("scenario")
    p.add_argument("name")
    p = sub.add_parser("killed", help="three exports held when the process dies")
    p.add_argument("how", nargs="?", default="kill9", choices=("kill9", "_exit", "segv"))
    sub.add_parser("html")
    sub.add_parser("options")
    sub.add_parser("fork_inherited")
    args = ap.parse_args()
    args.via = "preload"
    return {"scenario": cmd_scenario, "killed": cmd_killed, "html": cmd_html,
            "options": cmd_options, "fork_inherited": cmd_fork_inherited}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
