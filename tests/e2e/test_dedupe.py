#!/usr/bin/python3.11
"""Identical findings from re-executed code are one finding with a count
(issue 14 #10): the same leak exec()'d three times, or run in three
subinterpreters, is one leaked-export error reported 3 times; the leak on
another line stays a finding of its own.
  test_dedupe.py BUILD_DIR SOURCE_DIR PYTHON MODE,...   (exec, subinterpreters)
Debian's interpreter does not let bufsan see an extension's exports in a
subinterpreter (consumer inside the interpreter, no release slot): the
subinterpreter mode runs on pyenv's.
"""

import json
import os
import re
import subprocess
import sys
import tempfile

build, source, python, modes = sys.argv[1:5]
prog = os.path.join(source, "tests", "e2e", "dedupe", "reexec.py")
problems = []


def run(mode, options=""):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PYTHON") and k not in ("LD_PRELOAD", "BUFSAN_OPTIONS")}
    env["PYTHONPATH"] = os.path.join(build, "tests", "ext")
    env["LD_PRELOAD"] = os.path.join(build, "lib", "libbufsan.so")
    env["BUFSAN_OPTIONS"] = options
    return subprocess.run([python, prog, mode], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=120)


def check(cond, what, out=""):
    if not cond:
        problems.append("%s\n%s" % (what, out[-4000:]))


for mode in modes.split(","):
    p = run(mode)
    check(p.returncode == 66 and "reexec done" in p.stdout,
          "%s: status %d, expected 66" % (mode, p.returncode), p.stderr)
    headers = re.findall(r"==\d+==ERROR: bufsan: leaked-export: .*", p.stderr)
    check(len(headers) == 2, "%s: %d leaked-export reports, expected 2 (one per line)"
          % (mode, len(headers)), p.stderr)
    check(re.search(r"==\d+==bufsan: 2 errors, 0 warnings, 0 suppressed \(leaked-export: 2\)",
                    p.stderr), "%s: the summary does not count 2 errors" % mode, p.stderr)
    # located at the extension that leaked (innermost first)
    check(re.search(r"leaked-export \S+/_bufsan_testext\.c:\d+ in testext_\w+ reported 3 times \(same stacks; printed "
                    r"once, count 3\)", p.stderr), "%s: no 'reported 3 times' line" % mode, p.stderr)

    log = tempfile.mktemp(prefix="bufsan-dedupe-")
    run(mode, "log_format=json:log_path=" + log + ".%p")
    logs = [f for f in os.listdir(os.path.dirname(log))
            if f.startswith(os.path.basename(log) + ".")]
    lines = []
    for f in logs:
        with open(os.path.join(os.path.dirname(log), f)) as fh:
            lines += [json.loads(l) for l in fh if l.strip()]
        os.unlink(os.path.join(os.path.dirname(log), f))
    findings = [l for l in lines if l.get("kind") == "finding"]
    summary = [l for l in lines if l.get("kind") == "summary"]
    check(len(findings) == 2, "%s json: %d findings, expected 2" % (mode, len(findings)), str(lines))
    check(summary and summary[0]["errors"] == 2 and summary[0]["duplicates"] == 2
          and [r["occurrences"] for r in summary[0]["repeated"]] == [3],
          "%s json: summary should count 2 errors, 2 duplicates, one finding repeated 3 times"
          % mode, str(summary))

if problems:
    for p in problems:
        print("FAIL: " + p)
    sys.exit(1)
print("PASS dedupe")
