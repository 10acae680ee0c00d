"""The pytest plugin (issue 16): a suite of one leaky test, one clean test and
one test marked to expect its leak, run with --bufsan, must fail exactly the
leaky test, with the check and the leak's first frame in its failure message,
name the test in the JSON finding, and pass the others.

    test_pytest_plugin.py MODE BUILD_DIR SOURCE_DIR PYTHON

MODE: checkout (pytest -p bufsan.pytest_plugin --bufsan, re-executed under
the launcher), launcher (python3 -m bufsan run python3 -m pytest --bufsan),
launcher_auto (the checkout's scripts/bufsan python3 -m pytest: no -p, no
--bufsan, python/ not on PYTHONPATH; the launcher makes the plugin
loadable and it is on because the core is), launcher_optout (the same with
-p no:bufsan: no plugin, every test passes, the launcher's exit status 66
for the leaks at exit), xdist (-n 2; exit 77 when pytest-xdist is missing), pip (pip install
--no-build-isolation of a copy of the checkout into a scratch venv, then
python -m pytest --bufsan through the pytest11 entry point; 77 when venv
or pip is missing). Exit 77 means skipped."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

SUITE = '''\
import _bufsan_testext as ext
import pytest


def test_clean():
    assert ext.acquire_release(bytearray(b"abcd")) == 4


def test_leaky():
    data = bytearray(b"abcdefgh")
    ext.leak(data)  # LEAK-LINE


@pytest.mark.bufsan(expect="leaked-export")
def test_expected_leak():
    ext.leak(bytearray(b"xy"))
'''
LEAK_LINE = next(i + 1 for i, l in enumerate(SUITE.splitlines()) if "LEAK-LINE" in l)
NODE = "tests/test_codec.py::test_leaky"


def fail(msg, out=""):
    print(out)
    print("FAIL: " + msg)
    sys.exit(1)


def outcomes(junit):
    res = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = case.get("name")
        bad = case.find("failure")
        if bad is None:
            bad = case.find("error")
        res[name] = ("passed" if bad is None and case.find("skipped") is None else
                     "skipped" if bad is None else bad.tag), (bad.get("message", "") + "\n" +
                                                               (bad.text or "")) if bad is not None else ""
    return res


def check(work, proc, logdir, workers=False):
    out = proc.stdout + proc.stderr
    if proc.returncode == 0:
        fail("pytest succeeded with a leaky test", out)
    if not os.path.exists(os.path.join(work, "junit.xml")):
        fail("pytest wrote no junit.xml (status %d)" % proc.returncode, out)
    res = outcomes(os.path.join(work, "junit.xml"))
    want = {"test_clean": "passed", "test_leaky": "failure", "test_expected_leak": "passed"}
    got = {k: v[0] for k, v in res.items()}
    if got != want:
        fail("outcomes %r, expected %r" % (got, want), out)
    msg = res["test_leaky"][1]
    first = "%s:%d in test_leaky" % (os.path.join(work, "tests", "test_codec.py"), LEAK_LINE)
    if "bufsan: leaked-export: 1 export of bytearray (8 bytes) never released" not in msg:
        fail("the failure message does not name the leak: %r" % msg, out)
    if "at " + first not in msg:
        fail("the failure message does not give the first frame %s: %r" % (first, msg), out)
    if "native: _bufsan_testext.c:" not in msg or "in testext_leak_buffer" not in msg:
        fail("the failure message does not name the native frame: %r" % msg, out)
    # pytest's short test summary (-r) names the finding after the nodeid
    if not re.search(r"^FAILED %s - bufsan: leaked-export: 1 export of bytearray \(8 bytes\) "
                     r"never released\b.*$" % re.escape(NODE), out, re.M):
        fail("the short test summary line does not name the finding", out)
    # the terminal section and its closing line
    if not re.search(r"=+ bufsan =+", out):
        fail("no bufsan section in the terminal summary", out)
    row = re.search(r"^%s +leaked-export +_bufsan_testext\.c:\d+ in testext_leak_buffer +"
                    r"\(acquired at test_codec\.py:%d\)$" % (re.escape(NODE), LEAK_LINE), out, re.M)
    if not row:
        fail("no summary row for %s" % NODE, out)
    if "1 error in 1 test, 1 expected; full reports: bufsan-report.txt" not in out:
        fail("wrong closing line of the bufsan section", out)
    with open(os.path.join(work, "bufsan-report.txt")) as f:
        report = f.read()
    if "during test %s (call)" % NODE not in report or "frames of the test runner" not in report:
        fail("bufsan-report.txt lacks the test or the folded runner frames", report)
    # the core's own JSON findings name the test; leaks of the expected test
    # are not errors
    recs = []
    for name in os.listdir(logdir):
        with open(os.path.join(logdir, name)) as f:
            recs += [json.loads(l) for l in f if l.startswith("{")]
    finds = [r for r in recs if r.get("kind") == "finding"]
    errors = [r for r in finds if r["severity"] == "error"]
    if len(errors) != 1:
        fail("%d error findings in the JSON logs, expected 1: %r" % (len(errors), errors), out)
    e = errors[0]
    if e["check"] != "leaked-export" or e.get("test") != NODE:
        fail("JSON finding: check %r test %r" % (e["check"], e.get("test")), out)
    # innermost first: the extension's frame, then the test's line
    frames = e["stacks"][0]["frames"]
    fr = frames[0]
    if (fr["kind"], fr.get("function")) != ("native", "testext_leak_buffer"):
        fail("JSON first frame %r, expected the extension's testext_leak_buffer" % fr, out)
    py = [f for f in frames if f["kind"] == "python"]
    if not py or (py[0]["file"], py[0]["line"], py[0]["function"]) != (
            os.path.join(work, "tests", "test_codec.py"), LEAK_LINE, "test_leaky"):
        fail("JSON first Python frame %r" % (py[:1],), out)
    summaries = [r for r in recs if r.get("kind") == "summary"]
    if sum(s["errors"] for s in summaries) != 1 or sum(s["suppressed"] for s in summaries) != 1:
        fail("JSON summaries %r: expected 1 error and 1 suppressed in all" % summaries, out)
    print("ok: %s failed alone, first frame %s" % (NODE, first))


def check_optout(work, proc, logdir):
    out = proc.stdout + proc.stderr
    if proc.returncode != 66:
        fail("-p no:bufsan under the launcher: status %d, expected 66 (leaks at exit)"
             % proc.returncode, out)
    got = {k: v[0] for k, v in outcomes(os.path.join(work, "junit.xml")).items()}
    if set(got.values()) != {"passed"} or len(got) != 3:
        fail("-p no:bufsan: outcomes %r, expected all passed" % got, out)
    if re.search(r"=+ bufsan =+", out) or "bufsan: on" in out:
        fail("-p no:bufsan: the plugin ran", out)
    recs = [json.loads(l) for n in os.listdir(logdir) for l in open(os.path.join(logdir, n))
            if l.startswith("{")]
    leaks = [r for r in recs if r.get("kind") == "finding" and r["check"] == "leaked-export"]
    if len(leaks) != 2 or any(r.get("test") for r in leaks):
        fail("-p no:bufsan: leaks at exit %r, expected 2 naming no test" % leaks, out)
    print("ok: -p no:bufsan turns the plugin off under the launcher")


def run(cmd, work, env):
    return subprocess.run(cmd, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=600)


def main():
    mode, build, src, python = sys.argv[1:5]
    build, src = os.path.realpath(build), os.path.realpath(src)
    python = os.path.realpath(python)
    ext = os.path.join(build, "tests", "ext")
    with tempfile.TemporaryDirectory() as work:
        os.mkdir(os.path.join(work, "tests"))
        with open(os.path.join(work, "tests", "test_codec.py"), "w") as f:
            f.write(SUITE)
        logdir = os.path.join(work, "logs")
        os.mkdir(logdir)
        # wide enough for pytest's short summary lines not to be cut
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(src, "python"), ext]),
                   COLUMNS="200")
        for k in ("LD_PRELOAD", "BUFSAN_OPTIONS", "BUFSAN_LIBDIR", "BUFSAN_PYTEST_REEXEC",
                  "PYTEST_ADDOPTS"):
            env.pop(k, None)
        opts = "log_format=json:log_path=%s/log" % logdir
        common = ["-p", "no:cacheprovider", "--junitxml=junit.xml", "tests"]
        if mode == "checkout":
            env["BUFSAN_LIBDIR"] = os.path.join(build, "lib")
            cmd = [python, "-m", "pytest", "-p", "bufsan.pytest_plugin", "--bufsan",
                   "--bufsan-options=" + opts] + common
        elif mode == "launcher":
            env["BUFSAN_LIBDIR"] = os.path.join(build, "lib")
            cmd = [python, "-m", "bufsan", "run", "--log-format=json",
                   "--log-path=%s/log" % logdir, python, "-m", "pytest", "-p",
                   "bufsan.pytest_plugin", "--bufsan"] + common
        elif mode in ("launcher_auto", "launcher_optout"):
            env["BUFSAN_LIBDIR"] = os.path.join(build, "lib")
            env["PYTHONPATH"] = ext  # the launcher adds the package
            cmd = [os.path.join(src, "scripts", "bufsan"), "--log-format=json",
                   "--log-path=%s/log" % logdir, python, "-m", "pytest"] + (
                       ["-p", "no:bufsan"] if mode == "launcher_optout" else []) + common
            if mode == "launcher_optout":
                check_optout(work, run(cmd, work, env), logdir)
                return 0
        elif mode == "xdist":
            if subprocess.run([python, "-c", "import xdist"], stderr=subprocess.DEVNULL).returncode:
                print("SKIP: pytest-xdist is not installed")
                return 77
            env["BUFSAN_LIBDIR"] = os.path.join(build, "lib")
            cmd = [python, "-m", "pytest", "-p", "bufsan.pytest_plugin", "--bufsan",
                   "--bufsan-options=" + opts, "-n", "2"] + common
        elif mode == "pip":
            if subprocess.run([python, "-c", "import venv, ensurepip"],
                              stderr=subprocess.DEVNULL).returncode:
                print("SKIP: venv/ensurepip missing (Debian: python3-venv)")
                return 77
            venv = os.path.join(work, "venv")
            subprocess.check_call([python, "-m", "venv", "--system-site-packages", venv])
            vpy = os.path.join(venv, "bin", "python")
            if subprocess.run([vpy, "-m", "pip", "--version"], stdout=subprocess.DEVNULL).returncode:
                print("SKIP: pip missing in the venv")
                return 77
            # a copy of the sources: a new machine's checkout, no build/ in it
            copy = os.path.join(work, "src")
            shutil.copytree(src, copy, ignore=shutil.ignore_patterns(
                "build", "build-*", ".git", "__pycache__", "*.egg-info"))
            p = run([vpy, "-m", "pip", "install", "--no-build-isolation", "--no-index", copy],
                    work, env)
            if p.returncode:
                fail("pip install failed", p.stdout + p.stderr)
            env["PYTHONPATH"] = ext  # the installed package only
            where = run([vpy, "-c", "import bufsan; print(bufsan.__file__); print(bufsan.libdir())"],
                        work, env).stdout.split()
            if len(where) != 2 or not where[0].startswith(venv) or not where[1].startswith(venv):
                fail("the installed package or its libraries are not in the venv: %r" % where)
            # the console script is the launcher
            p = run([os.path.join(venv, "bin", "bufsan"), "run", vpy, "-c",
                     "import bufsan; assert bufsan.active()"], work, env)
            if p.returncode:
                fail("venv/bin/bufsan run: status %d" % p.returncode, p.stdout + p.stderr)
            cmd = [vpy, "-m", "pytest", "--bufsan", "--bufsan-options=" + opts] + common
        else:
            fail("unknown mode " + mode)
        p = run(cmd, work, env)
        check(work, p, logdir)
        if mode == "launcher_auto" and "bufsan: on, the process runs under bufsan" not in p.stdout:
            fail("the header does not say the plugin is on", p.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
