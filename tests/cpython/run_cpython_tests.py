#!/usr/bin/env python3
"""Runs CPython's own buffer-heavy test modules twice, without and with
bufsan, and fails unless both runs give the same results and bufsan found
nothing (after the shipped suppressions, when there are any).

    run_cpython_tests.py --python /usr/bin/python3.11 --libdir build/lib test_buffer ...
    run_cpython_tests.py --pytest --python /usr/bin/python3.11 --libdir build/lib FILE::CLASS ...
--pytest runs pytest on the given test ids instead of regrtest (numpy's
buffer tests). --options adds bufsan options (e.g. strict=1; findings are
then listed, not failed, with --report-only). Prints the wall time of both
runs and their ratio."""
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


def summary_of(output):
    """The lines of regrtest's closing summary that name results."""
    keep = []
    for line in output.splitlines():
        line = line.strip()
        if re.match(r"^(All )?\d+ tests? (OK|failed|skipped|altered|omitted|"
                    r"run no tests|resource denied)", line) or \
                line.startswith("Tests result:") or \
                re.match(r"^test_\w+( test_\w+)*$", line):
            keep.append(line)
    return keep


def summary_of_pytest(output):
    """pytest's closing line: '117 passed, 2 skipped in 1.11s' without the time."""
    for line in reversed(output.splitlines()):
        line = line.strip("= ").strip()
        if re.search(r"\b(passed|failed|error|errors|skipped)\b", line):
            return [re.sub(r" in [0-9.]+s.*$", "", line)]
    return []


def run(python, modules, env, pytest=False, ignore=()):
    if pytest:
        # the suite's own verdicts, as without bufsan: no per-test plugin
        # (on under bufsan when the package is installed)
        cmd = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:bufsan"] + modules
    else:
        cmd = [python, "-m", "test", "--timeout", "900"]
        for pattern in ignore:
            cmd += ["--ignore", pattern]
        cmd += modules
    start = time.monotonic()
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, errors="replace", stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, time.monotonic() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--python", required=True)
    ap.add_argument("--libdir", required=True)
    ap.add_argument("--pytest", action="store_true")
    ap.add_argument("--ignore", action="append", default=[],
                    help="regrtest --ignore pattern (tests that cannot run here)")
    ap.add_argument("--options", default="", help="extra bufsan options, k=v:k=v")
    ap.add_argument("--report-only", action="store_true",
                    help="list findings by check without failing on them")
    ap.add_argument("--suppressions", default=os.path.join(os.path.dirname(
        os.path.abspath(__file__)), "suppressions.txt"))
    ap.add_argument("modules", nargs="+")
    args = ap.parse_args()

    base_env = dict(os.environ)
    base_env.pop("LD_PRELOAD", None)
    base_env.pop("BUFSAN_OPTIONS", None)
    rc0, out0, t0 = run(args.python, args.modules, base_env, args.pytest, args.ignore)

    logdir = tempfile.mkdtemp(prefix="bufsan-cpython-")
    env = dict(base_env)
    env["LD_PRELOAD"] = os.path.join(os.path.abspath(args.libdir), "libbufsan.so")
    env["BUFSAN_OPTIONS"] = "log_format=json:log_path=" + os.path.join(logdir, "log")
    if args.suppressions and os.path.exists(args.suppressions):
        env["BUFSAN_OPTIONS"] += ":suppressions=" + os.path.abspath(args.suppressions)
    if args.options:
        env["BUFSAN_OPTIONS"] += ":" + args.options
    rc1, out1, t1 = run(args.python, args.modules, env, args.pytest, args.ignore)

    findings = []
    suppressed = 0
    processes = 0
    for path in sorted(glob.glob(os.path.join(logdir, "log.*"))):
        processes += 1
        with open(path, errors="replace") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except ValueError:
                    findings.append({"check": "unreadable-log-line", "message": line.strip()})
                    continue
                if rec.get("kind") == "finding":
                    findings.append(rec)
                elif rec.get("kind") == "summary":
                    suppressed += rec.get("suppressed", 0)

    print(f"{os.path.basename(args.python)}: {len(args.modules)} modules; "
          f"without bufsan {t0:.1f} s (exit {rc0}), with bufsan {t1:.1f} s (exit {rc1}), "
          f"ratio {t1 / t0:.2f}; {processes} process logs; {suppressed} findings suppressed")
    ok = True
    summarize = summary_of_pytest if args.pytest else summary_of
    s0, s1 = summarize(out0), summarize(out1)
    if s0 != s1 or rc0 != rc1:
        ok = False
        print("FAIL: results differ under bufsan")
        print("--- without bufsan:\n  " + "\n  ".join(s0))
        print("--- with bufsan:\n  " + "\n  ".join(s1))
        print(out1[-4000:])
    if findings and args.report_only:
        by = {}
        for f in findings:
            by.setdefault((f.get("check"), f.get("severity")), []).append(f)
        print(f"{len(findings)} findings (report only):")
        for (check, sev), fs in sorted(by.items()):
            print(f"  {check} [{sev}]: {len(fs)}")
            for f in fs[:3]:
                py = [fr for st in f.get("stacks", [])[:1] for fr in st.get("frames", [])
                      if fr.get("kind") == "python"][:2]
                where = "; ".join(f"{fr.get('file')}:{fr.get('line')}" for fr in py)
                print(f"    {f.get('message')[:160]} at {where}")
        findings = []
    if findings:
        ok = False
        print(f"FAIL: {len(findings)} unexpected bufsan findings")
        for f in findings[:20]:
            frames = [fr for st in f.get("stacks", [])[:1] for fr in st.get("frames", [])[:3]]
            where = "; ".join(f"{fr.get('file') or fr.get('module')}:{fr.get('line') or fr.get('offset')}"
                              for fr in frames)
            print(f"  {f.get('check')}: {f.get('message')} at {where}")
    if ok:
        print("OK: same results, no findings:", " | ".join(s1))
        shutil.rmtree(logdir, ignore_errors=True)
    else:
        # kept: the full records of what failed, readable after the run
        print("bufsan's logs kept in", logdir)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
