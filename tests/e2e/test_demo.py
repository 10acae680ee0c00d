#!/usr/bin/python3.11
"""The README's demo (examples/demo.py and its buggy extension) under one
interpreter: the same three findings everywhere, each SUMMARY at the line
with the bug, and exit status 66.
  test_demo.py BUILD_DIR SOURCE_DIR PYTHON"""

import os
import re
import subprocess
import sys

build, source, python = sys.argv[1:4]
env = {k: v for k, v in os.environ.items()
       if not k.startswith("PYTHON") and k not in ("LD_PRELOAD", "BUFSAN_OPTIONS")}
env["PYTHONPATH"] = os.path.join(build, "examples")
demo = os.path.join(source, "examples", "demo.py")
r = subprocess.run([os.path.join(source, "scripts", "bufsan"), python, demo], env=env,
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                   timeout=300)
problems = []
if r.returncode != 66:
    problems.append("exit status %d, expected 66" % r.returncode)
summaries = sorted(l for l in r.stderr.splitlines() if l.startswith("SUMMARY: bufsan: "))
want = sorted([
    "SUMMARY: bufsan: release-decrefs-obj %s:49 in block_releasebuffer"
    % os.path.join(source, "examples", "checksum.c"),
    # the C line that leaks (innermost first; demo.py:10 is the next frame)
    "SUMMARY: bufsan: leaked-export %s:15 in checksum" % os.path.join(source, "examples", "checksum.c"),
    "SUMMARY: bufsan: leaked-export %s:15 in checksum" % os.path.join(source, "examples", "checksum.c"),
])
if summaries != want:
    problems.append("SUMMARY lines %r, expected %r" % (summaries, want))
if not re.search(r"==\d+==bufsan: 3 errors, 0 warnings, 0 suppressed "
                 r"\(leaked-export: 2, release-decrefs-obj: 1\)", r.stderr):
    problems.append("no closing count of 3 errors")
if problems:
    print(r.stdout + r.stderr)
    for p in problems:
        print("FAIL: " + p)
    sys.exit(1)
print("PASS demo under %s" % python)
