#!/usr/bin/python3.11
"""Bad inputs to the launcher and to `bufsan report` get one clear line
naming them and a usage status, never a crash or a misleading message
(issue 14 #9 and #13), and a trace named twice is read once (#10).
  test_inputs.py BUILD_DIR SOURCE_DIR PYTHON
"""

import os
import shutil
import re
import subprocess
import sys
import tempfile

build, source, python = sys.argv[1:4]
launcher = os.path.join(source, "scripts", "bufsan")
problems = []


def env(**extra):
    e = {k: v for k, v in os.environ.items()
         if not k.startswith("PYTHON") and k not in ("LD_PRELOAD", "BUFSAN_OPTIONS")}
    e["BUFSAN_LIBDIR"] = os.path.join(build, "lib")
    e["PYTHONPATH"] = os.path.join(build, "tests", "ext")
    e.update(extra)
    return e


def run(args, **extra):
    p = subprocess.run(args, env=env(**extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=120)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr


def check(cond, what, out=""):
    if not cond:
        problems.append("%s\n%s" % (what, out))


def one_error_line(err, needle, what):
    text = err.decode("utf-8", "replace")
    lines = [l for l in text.splitlines() if l.startswith("bufsan: error:")]
    check(len(lines) == 1 and needle in lines[0], "%s: expected one error line with %r" % (what, needle), text)


tmp = tempfile.mkdtemp(prefix="bufsan-inputs-")

# a directory as the suppressions file is an error, like a missing file
rc, out, err = run([launcher, "--suppressions=" + tmp, python, "-c", "pass"])
check(rc == 64, "suppressions=DIR: status %d, expected 64" % rc, err)
one_error_line(err, "suppressions='%s': is a directory" % tmp, "suppressions=DIR")

# a long rule is one rule: it suppresses, nothing is split into "line 2"
supp = os.path.join(tmp, "long.supp")
with open(supp, "w") as f:
    f.write("# a generated rule with a long path\n")
    f.write("leaked-export:*" + "x" * 5000 + "*\n")
    f.write("leaked-export:*leak_three*\n")
scenario = os.path.join(source, "tests", "e2e", "scenarios", "leak_three.py")
rc, out, err = run([launcher, "--suppressions=" + supp, python, scenario])
text = err.decode("utf-8", "replace")
check(rc == 0, "long suppression line: status %d, expected 0" % rc, text)
check(re.search(r"suppression %s:2 '.{5000,}' matched 0 findings" % re.escape(supp), text)
      and re.search(r"suppression %s:3 .* matched 3 findings" % re.escape(supp), text),
      "long suppression line: rules are not lines 2 and 3", text[-3000:])

# control bytes and invalid UTF-8 in a value are escaped in the message
rc, out, err = run([launcher, b"--log-format=\x1b[31mred\xff", python, "-c", "pass"])
check(rc == 64, "control bytes: status %d, expected 64" % rc, err)
check(b"\x1b" not in err and b"\xff" not in err, "control bytes echoed raw", repr(err))
one_error_line(err, r"log_format='\x1b[31mred\xff': expected one of text|json|sarif",
               "control bytes")
rc, out, err = run([python, "-c", "pass"], LD_PRELOAD=os.path.join(build, "lib", "libbufsan.so"),
                   BUFSAN_OPTIONS="stack_depth=\x07\x01")
check(b"\x07" not in err and b"\x01" not in err and b"stack_depth='\\x07\\x01'" in err,
      "BUFSAN_OPTIONS control bytes echoed raw", repr(err))

# booleans: true/false are accepted, and the message for a bad one says so
rc, out, err = run([launcher, "--halt-on-error=true", python, "-c", "pass"])
check(rc == 0, "halt_on_error=true: status %d, expected 0" % rc, err)
rc, out, err = run([launcher, "--halt-on-error=yes", python, "-c", "pass"])
check(rc == 64, "halt_on_error=yes: status %d, expected 64" % rc, err)
one_error_line(err, "halt_on_error='yes': expected 0 or 1 (or true or false)", "halt_on_error=yes")

# report of a directory names it, not "No such device"
rc, out, err = run([launcher, "report", tmp])
check(rc == 64, "report DIR: status %d, expected 64" % rc, err)
one_error_line(err, "%s: is a directory" % tmp, "report DIR")

# report T T: the same trace once
trace = os.path.join(tmp, "t")
rc, out, err = run([launcher, "--trace=" + trace, python, scenario])
check(rc == 66, "traced leak_three: status %d, expected 66" % rc, err)
(t,) = [os.path.join(tmp, n) for n in os.listdir(tmp) if n.startswith("t.")]
rc1, out1, err1 = run([launcher, "report", t])
rc2, out2, err2 = run([launcher, "report", t, t, os.path.join(tmp, ".", os.path.basename(t))])
summary = [l for l in out1.splitlines() if re.match(r"==\d+==bufsan: \d+ errors", l)]
summary2 = [l for l in out2.splitlines() if re.match(r"==\d+==bufsan: \d+ errors", l)]
check(summary and summary[0].split("==bufsan: ")[1].startswith("3 errors"),
      "report T: expected 3 errors", out1)
check(summary == summary2, "report T T T: summary %s, expected %s" % (summary2, summary), out2)
check(out2.count("ERROR: bufsan: leaked-export") == 3, "report T T T: reports printed twice", out2)
check(err2.count(b"the same file as") == 2, "report T T T: no note of the repeated file", repr(err2))
check(rc2 == rc1 == 66, "report T T: status %d/%d, expected 66" % (rc1, rc2))
# report T copy-of-T: another file, the same process: read once too
copy = os.path.join(tmp, "copy-of-trace")
shutil.copyfile(t, copy)
rc3, out3, err3 = run([launcher, "report", t, copy])
summary3 = [l for l in out3.splitlines() if re.match(r"==\d+==bufsan: \d+ errors", l)]
check(summary3 == summary, "report T copy: summary %s, expected %s" % (summary3, summary), out3)
check(out3.count("ERROR: bufsan: leaked-export") == 3, "report T copy: reports printed twice", out3)
check(b"a copy of" in err3, "report T copy: no note of the copy", repr(err3))
check(rc3 == 66, "report T copy: status %d, expected 66" % rc3)

if problems:
    for p in problems:
        print("FAIL: " + p)
    sys.exit(1)
print("PASS inputs")
