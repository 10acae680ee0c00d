"""Findings replayed from a trace name the same test as the live run
(issue 16): a pytest session under the launcher with trace= and JSON
findings; `bufsan report --log-format=json` and `--log-format=sarif` of its
trace must give every finding the "test" the live JSON gave it: the test
running when it fired, and for a leak the test that acquired the export
(the leak of a fixture's setup, which no checkpoint reports and which is
found at exit, included).

    test_trace_tests.py BUILD_DIR SOURCE_DIR PYTHON"""
import json
import os
import subprocess
import sys
import tempfile

SUITE = '''\
import _bufsan_testext as ext
import pytest


@pytest.fixture
def held():
    ext.leak(bytearray(b"fixture!!"))  # FIXTURE-LEAK


def test_clean():
    assert ext.acquire_release(bytearray(b"abcd")) == 4


def test_leaky():
    ext.leak(bytearray(b"abcdefgh"))  # LEAK


def test_release_unknown():
    ext.release_twice_via_copy(ext.Exporter(8))  # RELEASE


def test_fixture_leak(held):
    pass
'''
LINES = {tag: i + 1 for i, l in enumerate(SUITE.splitlines())
         for tag in ("FIXTURE-LEAK", "LEAK", "RELEASE") if l.endswith("# " + tag)}
WANT = {LINES["LEAK"]: "tests/test_codec.py::test_leaky",
        LINES["RELEASE"]: "tests/test_codec.py::test_release_unknown",
        LINES["FIXTURE-LEAK"]: "tests/test_codec.py::test_fixture_leak"}


def fail(msg, out=""):
    print(out)
    print("FAIL: " + msg)
    sys.exit(1)


def suite_line(frames):
    """The line of the suite's innermost frame in a JSON stack."""
    for fr in frames:
        if fr.get("kind") == "python" and fr.get("file", "").endswith("test_codec.py"):
            return fr["line"]
    return None


def by_line(recs):
    got = {}
    for r in recs:
        if r.get("kind") == "finding":
            got[(r["check"], suite_line(r["stacks"][0]["frames"]))] = r.get("test")
    return got


def main():
    build, src, python = (os.path.realpath(a) for a in sys.argv[1:4])
    work = tempfile.mkdtemp(prefix="bufsan-trace-tests-")
    os.makedirs(os.path.join(work, "tests"))
    with open(os.path.join(work, "tests", "test_codec.py"), "w") as f:
        f.write(SUITE)
    logs, traces = os.path.join(work, "logs"), os.path.join(work, "traces")
    os.makedirs(logs)
    os.makedirs(traces)
    env = dict(os.environ, PYTHONPATH=os.path.join(build, "tests", "ext"),
               BUFSAN_OPTIONS="log_format=json:log_path=%s/l:trace=%s/t" % (logs, traces))
    launcher = os.path.join(src, "scripts", "bufsan")
    proc = subprocess.run([launcher, python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "tests"], cwd=work, env=env, capture_output=True, text=True,
                          timeout=300)
    out = proc.stdout + proc.stderr
    live = []
    for name in os.listdir(logs):
        with open(os.path.join(logs, name)) as f:
            live += [json.loads(l) for l in f if l.startswith("{")]
    live = by_line(live)
    want = {k: WANT[k[1]] for k in live if k[1] in WANT}
    if sorted(k[1] for k in want) != sorted(WANT):
        fail("live findings %r, expected one at each of lines %r" % (live, sorted(WANT)), out)
    if {k: live[k] for k in want} != want:
        fail("live JSON tests %r, expected %r" % (live, want), out)

    files = [os.path.join(traces, n) for n in os.listdir(traces)]
    rep = subprocess.run([launcher, "report", "--log-format=json"] + files,
                         capture_output=True, text=True, timeout=300)
    replayed = by_line([json.loads(l) for l in rep.stdout.splitlines() if l.startswith("{")])
    got = {k: replayed.get(k) for k in want}
    if got != want:
        fail("report JSON from the trace: tests %r, the live run's %r" % (got, want),
             rep.stdout + rep.stderr)
    if any(t for k, t in replayed.items() if k not in want):
        fail("report JSON: findings outside the suite name a test: %r" % replayed)

    rep = subprocess.run([launcher, "report", "--log-format=sarif"] + files,
                         capture_output=True, text=True, timeout=300)
    sarif = json.loads(rep.stdout)
    got = {}
    for r in sarif["runs"][0]["results"]:
        lines = [fr["location"]["physicalLocation"]["region"]["startLine"]
                 for fr in r["stacks"][0]["frames"]
                 if fr["location"].get("physicalLocation", {}).get("artifactLocation", {})
                 .get("uri", "").endswith("test_codec.py")]
        for ln in lines[:1]:
            got[(r["ruleId"], ln)] = r.get("properties", {}).get("test")
        # the type name outlives the replay's engine (it once printed freed memory)
        want_type = "Exporter" if r["ruleId"] == "release-unknown" else "bytearray"
        if not r["properties"]["exporter"]["type"].endswith(want_type):
            fail("SARIF exporter type %r" % r["properties"]["exporter"]["type"])
    if {k: got.get(k) for k in want} != want:
        fail("report SARIF from the trace: tests %r, the live run's %r" % (got, want),
             rep.stdout[-3000:] + rep.stderr)
    print("live and replayed findings name the same tests: %r" % want)
    return 0


if __name__ == "__main__":
    sys.exit(main())
