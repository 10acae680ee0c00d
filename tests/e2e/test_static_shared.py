#!/usr/bin/python3.11
"""Every end-to-end scenario on both kinds of interpreter, compared:
  test_static_shared.py BUILD_DIR SOURCE_DIR

Debian's /usr/bin/python3.11 links the interpreter into its executable (its
PyBuffer_Release calls cannot be interposed: bufsan sees releases at slots,
extensions' call sites and view objects' release paths); pyenv's 3.11 uses
a shared libpython where every call is seen. Each scenario of
tests/e2e/scenarios (those needing numpy left out: pyenv's 3.11 has none)
runs under both with its own options and JSON logs, and the findings of the
two runs must be the same: the same checks, severities, exporter types and
first Python frames of the main stack (file and line), as many times each.
A difference names the scenario and the findings only one kind reported.
"""

import collections
import concurrent.futures
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_scenario as rs  # noqa: E402

STATIC = rs.INTERPRETERS["debian"]
SHARED = rs.INTERPRETERS["pyenv"]


def findings(build, source, python, path, meta, tmp):
    logdir = tempfile.mkdtemp(dir=tmp)
    options = {"log_format": "json", "log_path": os.path.join(logdir, "log")}
    options.update(rs.parse_options(meta.get("options", "")))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PYTHON") and k not in ("LD_PRELOAD", "BUFSAN_OPTIONS")}
    env.update(PYTHONPATH=os.path.join(build, "tests", "ext"), PYTHONDONTWRITEBYTECODE="1",
               LD_PRELOAD=os.path.join(build, "lib", "libbufsan.so"),
               BUFSAN_OPTIONS=":".join("%s=%s" % kv for kv in options.items()))
    proc = subprocess.run([python, path], env=env, cwd=logdir, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=rs.TIMEOUT)
    got = collections.Counter()
    for log in glob.glob(os.path.join(logdir, "log*")):
        with open(log, errors="replace") as f:
            for line in f:
                try:
                    r = json.loads(line)
                except ValueError:
                    continue
                if r.get("kind") != "finding":
                    continue
                frame = "-"
                for s in r.get("stacks", [])[:1]:
                    py = [fr for fr in s.get("frames", []) if fr.get("kind") == "python"]
                    if py:
                        frame = "%s:%d" % (os.path.basename(py[0]["file"]), py[0]["line"])
                got[(r["check"], r.get("severity"), (r.get("exporter") or {}).get("type"),
                     frame)] += 1
    return proc.returncode, got


def main():
    build, source = map(os.path.abspath, sys.argv[1:3])
    for p in (STATIC, SHARED):
        if not os.path.exists(p):
            print("SKIP: %s missing" % p)
            return 0
    tmp = tempfile.mkdtemp(prefix="bufsan-static-shared-")
    try:
        cases = []
        for path in sorted(glob.glob(os.path.join(source, "tests", "e2e", "scenarios", "*.py"))):
            _, meta, _ = rs.parse_scenario(path)
            if "numpy" in meta.get("needs", ""):
                continue
            cases.append((path, meta))
        fails = []
        with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            runs = {(path, py): pool.submit(findings, build, source, py, path, meta, tmp)
                    for path, meta in cases for py in (STATIC, SHARED)}
            for path, _ in cases:
                rc_s, st = runs[(path, STATIC)].result()
                rc_d, sh = runs[(path, SHARED)].result()
                name = os.path.basename(path)
                if rc_s != rc_d:
                    fails.append("%s: exit status %d on the static interpreter, %d on the shared"
                                 % (name, rc_s, rc_d))
                for only, a, b in (("static", st, sh), ("shared", sh, st)):
                    for key, n in sorted((a - b).items()):
                        fails.append("%s: only on the %s interpreter (%d): %s" % (name, only, n,
                                                                                 " ".join(map(str, key))))
        print("%d scenarios compared on %s and %s" % (len(cases), STATIC, SHARED))
        for f in fails:
            print("FAIL: " + f)
        return 1 if fails else 0
    finally:
        shutil.rmtree(tmp, True)


if __name__ == "__main__":
    sys.exit(main())
