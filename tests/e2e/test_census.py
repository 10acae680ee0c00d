#!/usr/bin/python3.11
"""The exporter census of a program with known behaviour (issue 18), live
(census=1, text and json) and from its trace (bufsan report --census):
  test_census.py BUILD_DIR SOURCE_DIR PYTHON NAME
NAME names the interpreter in messages. The rows of the program's own
consumer sites must be exactly the expected ones everywhere; the type rows
too on a static interpreter (Debian's), where only extensions' exports of
bytes are tracked (on a shared libpython the interpreter's own exports of
bytes are counted too).
The numpy part runs when numpy imports."""

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

build, source, python, name = sys.argv[1:5]
prog = os.path.join(source, "tests", "e2e", "census", "known.py")
launcher = os.path.join(source, "scripts", "bufsan")
problems = []
# static: no libpython mapped in the interpreter's process
static = subprocess.run(
    [python, "-c", "print(any('libpython' in l for l in open('/proc/self/maps')))"],
    stdout=subprocess.PIPE, universal_newlines=True).stdout.strip() == "False"
has_numpy = subprocess.run([python, "-c", "import numpy"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL).returncode == 0


def site(line):
    return "%s:%d in <module>" % (prog, line)


def row(exports, holders, readers, writers, mutated, answers, ready, refusals, flipped=False):
    return {"exports": exports, "max_holders": holders, "readers": readers, "writers": writers,
            "mutated_while_shared": mutated, "readonly_answers": answers,
            "immutable_ready_text": ready, "exclusive_refusals": refusals, "flipped": flipped}


# (type, site) -> expected numbers; site None: the type row
expected_sites = {
    ("bytes", site(9)): row(1, 1, 1, 0, 0, "ro", "yes", 0),
    ("bytes", site(10)): row(1, 2, 1, 0, 0, "ro", "yes", 1),
    ("bytearray", site(15)): row(1, 1, 1, 0, 1, "rw", "no (1)", 0),
}
expected_types = {
    ("bytes", None): row(2, 2, 2, 0, 0, "ro", "yes", 1),
    ("bytearray", None): row(1, 1, 1, 0, 1, "rw", "no (1)", 0),
}
expected_numpy = {
    ("numpy.ndarray", site(23)): row(1, 1, 1, 0, 0, "rw", "no (rw)", 0),
    ("numpy.ndarray", site(26)): row(1, 1, 1, 0, 0, "ro", "yes", 0, True),
}


def run(args, extra=()):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PYTHON") and k not in ("LD_PRELOAD", "BUFSAN_OPTIONS")}
    env["PYTHONPATH"] = os.path.join(build, "tests", "ext")
    return subprocess.run([launcher] + list(extra) + [python, prog] + args, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=300)


def records(text):
    out = {}
    for line in text.splitlines():
        if line.startswith("{") and '"kind": "census"' in line:
            r = json.loads(line)
            out[(r["type"], r["site"])] = r
    return out


def compare(got, want, what, out):
    for key, exp in want.items():
        r = got.get(key)
        if r is None:
            problems.append("%s: no census row %s\n%s" % (what, key, out[-3000:]))
            continue
        for k, v in exp.items():
            if r.get(k) != v:
                problems.append("%s: row %s: %s is %r, expected %r" % (what, key, k, r.get(k), v))
    # no other sub-row names a line of the program (but the imports, whose
    # own exports are made under them)
    for key in got:
        if key[1] and key[1].startswith(prog + ":") and key not in want and \
                key[1] not in (site(6), site(20)):
            problems.append("%s: unexpected census row %s" % (what, key))


def check_evidence(got, what):
    if not static:
        return  # the first refusal of bytes is the interpreter's own
    b = got.get(("bytes", None), {})
    ev = [e for e in b.get("evidence", []) if e["reason"] == "exclusive-refusal"]
    if not ev or [s["role"] for s in ev[0]["stacks"]] != ["acquire", "other"]:
        problems.append("%s: bytes row without its exclusive-refusal stacks: %r" % (what, b))
    else:
        lines = [s["frames"][0].get("line") for s in ev[0]["stacks"]]
        if lines != [10, 9]:
            problems.append("%s: refusal stacks at lines %r, expected [10, 9]" % (what, lines))
    ba = got.get(("bytearray", None), {})
    ev = [e for e in ba.get("evidence", []) if e["reason"] == "mutated"]
    if not ev or [s["frames"][0].get("line") for s in ev[0]["stacks"]] != [15, 16]:
        problems.append("%s: bytearray row without its mutation stacks (15, 16): %r" % (what, ba))


tmp = tempfile.mkdtemp(prefix="bufsan-census-")
try:
    for args, want in ((["plain"], dict(expected_sites)),
                       (["numpy"], {**expected_sites, **expected_numpy}) if has_numpy else (None, None)):
        if args is None:
            print("numpy missing: its part is skipped")
            continue
        if static and args == ["plain"]:
            want.update(expected_types)
        if not static:
            # bytearray(bytes) exports the bytes: seen where PyBuffer_Release
            # interposes
            want[("bytes", site(14))] = row(1, 1, 1, 0, 0, "ro", "yes", 0)
        what = "%s %s" % (name, args[0])
        trace = os.path.join(tmp, args[0])
        live = run(args, ["--census=1", "--log-format=json", "--trace=" + trace])
        if "census known done" not in live.stdout:
            problems.append("%s: the program did not run\n%s" % (what, live.stderr[-3000:]))
            continue
        got_live = records(live.stderr)
        compare(got_live, want, what + " live json", live.stderr)
        check_evidence(got_live, what + " live json")
        text = run(args, ["--census=1"])
        if "EXCLUSIVE refusals" not in text.stderr or "IMMUTABLE-ready" not in text.stderr:
            problems.append("%s live text: no census table\n%s" % (what, text.stderr[-3000:]))
        for line in text.stderr.splitlines():
            if line.startswith("bytes ") and static and args == ["plain"]:
                cols = line.split()
                if cols[1:6] != ["2", "2", "2", "0", "0"] or cols[6:8] != ["ro", "yes"] or \
                        cols[-1] != "1":
                    problems.append("%s live text: bytes row %r" % (what, line))
        traces = glob.glob(trace + ".*")
        rep = subprocess.run([launcher, "report", "--census", "--log-format=json"] + traces,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             universal_newlines=True, timeout=300)
        got_trace = records(rep.stdout)
        compare(got_trace, want, what + " trace json", rep.stdout + rep.stderr)
        check_evidence(got_trace, what + " trace json")
        for key in want:
            a, b = dict(got_live.get(key, {})), dict(got_trace.get(key, {}))
            a.pop("evidence", None), b.pop("evidence", None)
            if a != b:
                problems.append("%s: live and trace rows differ for %s:\n%r\n%r" % (what, key, a, b))
        rep_text = subprocess.run([launcher, "report", "--census"] + traces,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  universal_newlines=True, timeout=300)
        if "EXCLUSIVE refusals" not in rep_text.stdout:
            problems.append("%s trace text: no census table\n%s" % (what, rep_text.stdout[-3000:]))
        page = os.path.join(tmp, args[0] + ".html")
        subprocess.run([launcher, "report", "--census", "--html=" + page] + traces,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
        html = open(page, encoding="utf-8").read() if os.path.exists(page) else ""
        if '<section id="census">' not in html or "<b>bytearray</b>" not in html or \
                html.count('<tr class="site">') < len(want) - len(expected_types):
            problems.append("%s html: no census section with its rows" % what)
finally:
    shutil.rmtree(tmp, ignore_errors=True)

for p in problems:
    print("FAIL:", p)
print("census: %d problem(s)" % len(problems))
sys.exit(1 if problems else 0)
