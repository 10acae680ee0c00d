#!/usr/bin/env python3
"""Runs the reproduction of one known bug (tests/validation/known_bugs.json)
under bufsan and checks that it exits with status 66 and that its findings
include one of the bug's check that the known-bugs entry matches (the same
matcher scripts/validate uses). Exit 77 (ctest SKIP_RETURN_CODE) when a module
the reproduction needs is not installed for the interpreter.

    run_repro.py --source-dir DIR --python PATH BUG_ID
"""
import argparse
import importlib.machinery
import importlib.util
import json
import os
import subprocess
import sys
import tempfile


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source-dir", required=True)
    ap.add_argument("--python", default="/usr/bin/python3.11")
    ap.add_argument("bug")
    a = ap.parse_args()
    root = os.path.abspath(a.source_dir)
    loader = importlib.machinery.SourceFileLoader("bufsan_validate", os.path.join(root, "scripts", "validate"))
    spec = importlib.util.spec_from_loader("bufsan_validate", loader)
    validate = importlib.util.module_from_spec(spec)
    loader.exec_module(validate)

    here = os.path.join(root, "tests", "validation")
    bugs = {b["id"]: b for b in json.load(open(os.path.join(here, "known_bugs.json")))["bugs"]}
    bug = bugs.get(a.bug)
    if bug is None:
        print("run_repro: no known bug %r" % a.bug)
        return 1
    for m in bug.get("needs", []):
        if subprocess.run([a.python, "-c", "import " + m], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode != 0:
            print("run_repro: SKIP: %s cannot import %s" % (a.python, m))
            return 77
    repro = os.path.join(here, bug["repro"])
    with tempfile.TemporaryDirectory(prefix="bufsan-repro.") as d:
        env = dict(os.environ, PYTHONPATH=os.path.dirname(repro), PYTHONDONTWRITEBYTECODE="1")
        env.pop("BUFSAN_OPTIONS", None)
        cmd = [os.path.join(root, "scripts", "bufsan"), "--log-format=json",
               "--log-path=" + os.path.join(d, "bufsan"), a.python, repro]
        p = subprocess.run(cmd, env=env, cwd=d, capture_output=True, text=True, timeout=240)
        print(p.stdout, end="")
        print(p.stderr, end="", file=sys.stderr)
        findings = validate.read_findings(d)
    ok = True
    if p.returncode != 66:
        print("run_repro: FAIL: exit status %d, expected 66" % p.returncode)
        ok = False
    checks = sorted({r.get("check") for r, _, _ in findings})
    hits = [r for r, _, _ in findings if validate.matches(bug, r)]
    if not hits:
        print("run_repro: FAIL: no %s finding matching %s (findings: %s)"
              % (bug["check"], a.bug, ", ".join(checks) or "none"))
        ok = False
    if ok:
        print("run_repro: OK: %s reproduced (%d matching finding(s) of %s, exit status 66)"
              % (a.bug, len(hits), bug["check"]))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
