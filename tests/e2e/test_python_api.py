"""The bufsan package's API and the folding of test-runner frames (issue 16):
bufsan.active(), findings(), expect_no_findings(), the markers' skip=, and
python -m bufsan run SCRIPT.py; text reports fold pytest/pluggy frames by
default and show them with fold_frames=0 (the plugin's bufsan-report.txt
too), JSON keeps them; SARIF names each result's test.

    test_python_api.py BUILD_DIR SOURCE_DIR PYTHON"""
import json
import os
import subprocess
import sys
import tempfile

SCRIPT = r'''
import json, sys
import bufsan
import _bufsan_testext as ext
assert bufsan.active() is True
assert bufsan.findings() == []
with bufsan.expect_no_findings():
    ext.acquire_release(bytearray(4))          # clean: no error
try:
    with bufsan.expect_no_findings():
        ext.leak(bytearray(5))                 # LEAK
except bufsan.FindingsError as e:
    caught = e
else:
    sys.exit("expect_no_findings did not raise")
assert len(caught.findings) == 1, caught.findings
f = caught.findings[0]
assert f["check"] == "leaked-export" and f["bytes"] == 5, f
assert "api.py:%d in <module>" % LEAK in str(caught), str(caught)
assert [x["check"] for x in bufsan.findings()] == ["leaked-export"]
print("API-OK")
'''

SUITE = '''\
import _bufsan_testext as ext
import pytest


@pytest.mark.bufsan(skip="leaked-export")
def test_skipped_check():
    ext.leak(bytearray(3))


def test_leaky():
    ext.leak(bytearray(7))
'''


def fail(msg, out=""):
    print(out)
    print("FAIL: " + msg)
    sys.exit(1)


def main():
    build, src, python = (os.path.realpath(a) for a in sys.argv[1:4])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(src, "python"),
                                                       os.path.join(build, "tests", "ext")]),
               BUFSAN_LIBDIR=os.path.join(build, "lib"))
    for k in ("LD_PRELOAD", "BUFSAN_OPTIONS", "BUFSAN_PYTEST_REEXEC", "PYTEST_ADDOPTS"):
        env.pop(k, None)
    with tempfile.TemporaryDirectory() as work:
        script = os.path.join(work, "api.py")
        leak = next(i + 2 for i, l in enumerate(SCRIPT.splitlines()) if "# LEAK" in l)
        with open(script, "w") as f:
            f.write("LEAK = %d\n" % leak + SCRIPT)
        # without bufsan: inactive, nothing found, the block checks nothing
        p = subprocess.run([python, "-c", "import bufsan; assert not bufsan.active(); "
                            "assert bufsan.findings() == []\nwith bufsan.expect_no_findings(): "
                            "pass"], env=env, capture_output=True, text=True)
        if p.returncode:
            fail("bufsan without the core", p.stdout + p.stderr)
        p = subprocess.run([python, "-m", "bufsan", "run", script], env=env, cwd=work,
                           capture_output=True, text=True)
        if "API-OK" not in p.stdout or p.returncode != 66:
            fail("python -m bufsan run api.py: status %d" % p.returncode, p.stdout + p.stderr)

        os.mkdir(os.path.join(work, "tests"))
        with open(os.path.join(work, "tests", "test_fold.py"), "w") as f:
            f.write(SUITE)
        base = [python, "-m", "pytest", "-p", "bufsan.pytest_plugin", "--bufsan",
                "-p", "no:cacheprovider", "-rA", "tests"]
        for fold in (1, 0):
            log = os.path.join(work, "text%d" % fold)
            p = subprocess.run(base + ["--bufsan-options=fold_frames=%d:log_path=%s" % (fold, log)],
                               env=env, cwd=work, capture_output=True, text=True)
            out = p.stdout + p.stderr
            if "PASSED tests/test_fold.py::test_skipped_check" not in out or \
                    "FAILED tests/test_fold.py::test_leaky" not in out:
                fail("skip= marker: wrong outcomes", out)
            text = "".join(open(os.path.join(work, n)).read() for n in os.listdir(work)
                           if n.startswith("text%d." % fold))
            folded = " frames of pytest, pluggy ..." in text
            shown = "/_pytest/python.py:" in text
            if (folded, shown) != ((True, False) if fold else (False, True)):
                fail("fold_frames=%d: folded %s, pytest frames shown %s" % (fold, folded, shown),
                     text)
            # the plugin's bufsan-report.txt follows the same option
            with open(os.path.join(work, "bufsan-report.txt")) as f:
                text = f.read()
            folded = " frames of the test runner and import system ..." in text
            shown = "/_pytest/python.py:" in text
            if (folded, shown) != ((True, False) if fold else (False, True)):
                fail("bufsan-report.txt with fold_frames=%d: folded %s, pytest frames shown %s"
                     % (fold, folded, shown), text)
        log = os.path.join(work, "json")
        subprocess.run(base + ["--bufsan-options=log_format=json:log_path=" + log], env=env,
                       cwd=work, capture_output=True, text=True)
        recs = [json.loads(l) for n in os.listdir(work) if n.startswith("json.")
                for l in open(os.path.join(work, n)) if l.startswith("{")]
        frames = [fr for r in recs if r["kind"] == "finding"
                  for st in r["stacks"] for fr in st["frames"]]
        pytest_frames = [fr for fr in frames if "/_pytest/" in fr.get("file", "")]
        if not pytest_frames:
            fail("JSON findings lost the pytest frames", json.dumps(recs)[:2000])
        if any(fr.get("runner") != "pytest" for fr in pytest_frames) or \
                any(fr.get("runner") for fr in frames if fr.get("function") == "test_leaky"):
            fail("JSON frames: wrong \"runner\" marks", json.dumps(frames)[:2000])
        # SARIF: each result names the test it was first reported in, and
        # the log still validates against the schema
        log = os.path.join(work, "sarif")
        subprocess.run(base + ["--bufsan-options=log_format=sarif:log_path=" + log], env=env,
                       cwd=work, capture_output=True, text=True)
        paths = [os.path.join(work, n) for n in os.listdir(work) if n.startswith("sarif.")]
        results = [r for p in paths for run in json.load(open(p))["runs"] for r in run["results"]]
        tests = [(r["ruleId"], r["properties"].get("test")) for r in results]
        if tests != [("leaked-export", "tests/test_fold.py::test_leaky")]:
            fail("SARIF results (check, test): %r" % tests)
        v = subprocess.run(["/usr/bin/python3", os.path.join(src, "tests", "e2e",
                                                             "validate_sarif.py")] + paths,
                           capture_output=True, text=True)
        if v.returncode == 1:
            fail("the SARIF log does not validate", v.stdout + v.stderr)
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
