#!/usr/bin/python3.11
"""The exporter census of a program with known behaviour (issue 18), live
(census=1, text and json) and from its trace (bufsan report --census):
  test_census.py BUILD_DIR SOURCE_DIR PYTHON NAME
NAME names the interpreter in messages.

The census must hold exactly the expected rows, per interpreter kind: on a
static interpreter (Debian's) extensions' and memoryviews' exports of bytes
are tracked, on a shared libpython (pyenv's) the interpreter's short-lived
ones too (os.write(b), bytearray(b)). The program's types are those with a row at one
of its lines (its imports' lines left out: what importing does is the
interpreter's); for each, the set of its sub-rows at the program's lines is
exactly the expected one, and its type row is the expected one plus the
sub-rows of the interpreter's own exports of the type (bytes on a shared
libpython, numpy.ndarray and bytearray while numpy imports), summed by this
test. Every type row must be the sum of its sub-rows. This holds in the JSON
records and in the text table (parsed by its columns, which must line up
whatever the length of the type names), live and from the trace; and live
and trace agree record for record (JSON, but the pid) and line for line
(text, but pids and addresses). The numpy part runs when numpy imports.
"""

import glob
import json
import os
import re
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


LONG = "__main__.CensusExporterWithALongTypeName"
NESTED = LONG + ".AndANestedTypeWhoseNameIsLongerStill"
src = open(prog).read().splitlines()


def line_of(text):
    """The program's line that holds TEXT (exactly one)."""
    hits = [i + 1 for i, l in enumerate(src) if text in l]
    assert len(hits) == 1, (text, hits)
    return hits[0]


import_lines = {i + 1 for i, l in enumerate(src) if l.lstrip().startswith("import ")}


def site(text):
    return "%s:%d in <module>" % (prog, line_of(text))


def program_site(s):
    """A sub-row's site is one of the program's lines (not an import's)."""
    if not s or not s.startswith(prog + ":"):
        return False
    return int(s[len(prog) + 1:].split(" ", 1)[0]) not in import_lines


def row(exports, holders, readers, writers, mutated, answers, ready, refusals, flipped=False,
        ro=None, rw=None):
    if ro is None:
        ro, rw = (exports, 0) if answers == "ro" else (0, exports)
    return {"exports": exports, "max_holders": holders, "readers": readers, "writers": writers,
            "mutated_while_shared": mutated, "readonly_answers": answers,
            "immutable_ready_text": ready, "exclusive_refusals": refusals, "flipped": flipped,
            "answers": {"readonly": ro, "writable": rw}, "unhashed": 0}


def expected(kind, with_numpy):
    """(sub-rows at the program's lines, the program's part of its type rows)."""
    sites = {
        ("bytes", site("first = mut.hold(data)")): row(1, 1, 1, 0, 0, "ro", "yes", 0),
        ("bytes", site("second = mut.hold(data)")): row(1, 2, 1, 0, 0, "ro", "yes", 1),
        ("bytearray", site("reader = mut.hold(buf)")): row(1, 1, 1, 0, 1, "rw", "no (1)", 0),
        ("bytearray", site("wview = memoryview(buf)")): row(1, 1, 0, 1, 0, "rw", "no (rw)", 0),
        ("bytearray", site("held = mut.hold(buf)")): row(1, 2, 1, 0, 0, "rw", "no (rw)", 1),
        (LONG, site('mut.hold(CensusExporterWithALongTypeName(b"long"))')):
            row(1, 1, 1, 0, 0, "rw", "no (rw)", 0),
        (NESTED, site("mut.hold(CensusExporterWithALongTypeName.AndANested")):
            row(1, 1, 1, 0, 0, "ro", "yes", 0),
    }
    types = {
        "bytes": row(2, 2, 2, 0, 0, "ro", "yes", 1),
        "bytearray": row(3, 2, 2, 1, 1, "rw", "no (1)", 1),
        LONG: row(1, 1, 1, 0, 0, "rw", "no (rw)", 0),
        NESTED: row(1, 1, 1, 0, 0, "ro", "yes", 0),
    }
    # the interpreter's own consumers of the program's bytes: a memoryview
    # everywhere (on a static interpreter, seen at its release paths)
    one = row(1, 1, 1, 0, 0, "ro", "yes", 0)
    sites[("bytes", site("view = memoryview(data)"))] = one
    types["bytes"] = row(3, 2, 3, 0, 0, "ro", "yes", 1)
    if kind == "shared":
        # and the short-lived ones, seen where PyBuffer_Release interposes
        for text in ('buf = bytearray(b"census bytearray")',
                     'mut.hold(CensusExporterWithALongTypeName(b"long"))',
                     'os.write(1, b"census known done\\n")'):
            sites[("bytes", site(text))] = one
        types["bytes"] = row(6, 2, 6, 0, 0, "ro", "yes", 1)
    if with_numpy:
        sites[("numpy.ndarray", site("rw = mut.hold(arr)"))] = row(1, 1, 1, 0, 0, "rw", "no (rw)", 0)
        sites[("numpy.ndarray", site("ro = mut.hold(arr)"))] = \
            row(1, 1, 1, 0, 0, "ro", "yes", 0, flipped=True)
        types["numpy.ndarray"] = row(2, 1, 2, 0, 0, "ro+rw (flags)", "no (rw)", 0, flipped=True,
                                     ro=1, rw=1)
    return sites, types


# the independent reading of the two derived cells (census_answers,
# census_immutable_ready)
def answers_of(ro, rw, flipped):
    if ro and rw:
        return "ro+rw (flags)" if flipped else "ro+rw"
    return "rw" if rw else "ro" if ro else "-"


def ready_of(mutated, rw, unhashed, exports):
    if mutated:
        return "no (%d)" % mutated
    if rw:
        return "no (rw)"
    if unhashed:
        return "unknown (%d)" % unhashed
    return "yes" if exports else "-"


SUMMED = ("exports", "readers", "writers", "mutated_while_shared", "exclusive_refusals", "unhashed")


def merge(rows):
    out = {k: sum(r[k] for r in rows) for k in SUMMED}
    out["max_holders"] = max(r["max_holders"] for r in rows)
    ro = sum(r["answers"]["readonly"] for r in rows)
    rw = sum(r["answers"]["writable"] for r in rows)
    out["answers"] = {"readonly": ro, "writable": rw}
    out["flipped"] = any(r["flipped"] for r in rows)
    out["readonly_answers"] = answers_of(ro, rw, out["flipped"])
    out["immutable_ready_text"] = ready_of(out["mutated_while_shared"], rw, out["unhashed"],
                                           out["exports"])
    return out


def run(args, extra=()):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PYTHON") and k not in ("LD_PRELOAD", "BUFSAN_OPTIONS")}
    env["PYTHONPATH"] = os.path.join(build, "tests", "ext")
    return subprocess.run([launcher] + list(extra) + [python, prog] + args, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=300)


def report(traces, extra=()):
    return subprocess.run([launcher, "report", "--census"] + list(extra) + traces,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=300)


def json_lines(text):
    return [line for line in text.splitlines()
            if line.startswith("{") and '"kind": "census"' in line]


def records(text):
    out = {}
    for line in json_lines(text):
        r = json.loads(line)
        out[(r["type"], r["site"])] = r
    return out


# ---- the text table: its columns line up, and are read by position
COLUMNS = (("exports", 1, 8), ("max_holders", 1, 12), ("readers", 1, 8), ("writers", 1, 8),
           ("mutated_while_shared", 1, 21), ("readonly_answers", 2, 16),
           ("immutable_ready_text", 2, 16), ("exclusive_refusals", 1, 18))
TAIL = sum(gap + w for _, gap, w in COLUMNS)
TEXT_KEYS = [k for k, _, _ in COLUMNS]


def census_block(text):
    lines = text.splitlines()
    for i, l in enumerate(lines):
        if "bufsan: exporter census" in l:
            return lines[i:]
    return []


def numbers(tail):
    out, pos = {}, 0
    for key, gap, w in COLUMNS:
        cell = tail[pos:pos + gap + w]
        if cell[:gap].strip():
            raise ValueError("column %s starts inside the one before: %r" % (key, tail))
        cell = cell[gap:].strip()
        out[key] = cell if key in ("readonly_answers", "immutable_ready_text") else int(cell)
        pos += gap + w
    return out


def text_rows(block, what):
    """The table of BLOCK as {(type, site): columns}; a problem for each
    line out of line with the header."""
    if len(block) < 2:
        problems.append("%s: no census table" % what)
        return {}
    header = block[1]
    w = len(header) - TAIL
    if not header.startswith("exporter type") or w < 20:
        problems.append("%s: header %r" % (what, header))
        return {}
    out, i, typ = {}, 2, None
    longest = 0
    while i < len(block) and block[i]:
        line = block[i]
        site = line[5:] if line.startswith("  at ") else None
        if site is None:
            longest = max(longest, len(line.rstrip()) if len(line) != len(header)
                          else len(line[:w].rstrip()))
        if len(line) == len(header) and line[w] == " ":
            name, tail = line[:w].rstrip(), line[w:]
            if site is not None:
                name = line[5:w].rstrip()
        elif i + 1 < len(block) and len(block[i + 1]) == len(header) and not block[i + 1][:w].strip():
            name, tail = (site if site is not None else line), block[i + 1][w:]
            i += 1
        else:
            problems.append("%s: line out of the table's columns (width %d):\n%s\n%s"
                            % (what, len(header), header, line))
            i += 1
            continue
        try:
            cols = numbers(tail)
        except ValueError as e:
            problems.append("%s: %s" % (what, e))
            cols = {}
        if site is None:
            typ = name
            out[(typ, None)] = cols
        else:
            out[(typ, name)] = cols
        i += 1
    # the name column fits the longest type name up to 48 characters
    names = [k[0] for k in out if k[1] is None]
    want_w = max([20] + [len(n) for n in names if len(n) <= 48])
    if w != want_w:
        problems.append("%s: name column %d wide, expected %d (type names %r)" % (what, w, want_w, names))
    return out


def check(got, kind, with_numpy, what, keys=None):
    """GOT: {(type, site): row} from JSON records or the text table."""
    exp_sites, exp_types = expected(kind, with_numpy)
    fields = keys or list(row(0, 0, 0, 0, 0, "ro", "yes", 0))

    def same(key, r, exp):
        for k in fields:
            if r.get(k) != exp[k]:
                problems.append("%s: row %s: %s is %r, expected %r" % (what, key, k, r.get(k), exp[k]))

    # exactly the expected sub-rows at the program's lines
    at_program = {k for k in got if program_site(k[1])}
    for key in sorted(set(exp_sites) - at_program, key=str):
        problems.append("%s: no census row %s" % (what, key))
    for key in sorted(at_program - set(exp_sites), key=str):
        problems.append("%s: unexpected census row %s: %r" % (what, key, got[key]))
    for key in sorted(at_program & set(exp_sites), key=str):
        same(key, got[key], exp_sites[key])
    # exactly the program's types; each type row is the program's part plus
    # the interpreter's own sub-rows
    types = {k[0] for k in at_program}
    if types != set(exp_types):
        problems.append("%s: the program's types are %r, expected %r" % (what, sorted(types), sorted(exp_types)))
    for t, exp in exp_types.items():
        r = got.get((t, None))
        if r is None:
            problems.append("%s: no type row for %s" % (what, t))
            continue
        others = [v for k, v in got.items() if k[0] == t and k[1] and not program_site(k[1])]
        if keys:  # text: the interpreter's part as the text shows it
            others = [dict(v, answers={"readonly": 0, "writable": 0}, flipped=False, unhashed=0)
                      for v in others]
        want = merge([exp] + others) if others else exp
        if keys and others:
            # text shows neither the answers' counts nor flipped: those cells are
            # taken from the JSON test of the same rows
            want["readonly_answers"], want["immutable_ready_text"] = \
                r.get("readonly_answers"), r.get("immutable_ready_text")
        same((t, None), r, want)
    if with_numpy:
        r = got.get(("numpy.ndarray", None), {})
        for k, v in (("readonly_answers", "ro+rw (flags)"), ("immutable_ready_text", "no (rw)")) + \
                ((("flipped", True),) if not keys else ()):
            if r.get(k) != v:
                problems.append("%s: numpy.ndarray type row: %s is %r, expected %r" % (what, k, r.get(k), v))
    # every type row is the sum of its sub-rows (JSON: every column)
    if not keys:
        for (t, s), r in got.items():
            if s is None:
                subs = [v for k, v in got.items() if k[0] == t and k[1] is not None]
                if not subs:
                    problems.append("%s: type %s without sub-rows" % (what, t))
                    continue
                m = merge(subs)
                for k in m:
                    if r.get(k) != m[k]:
                        problems.append("%s: type row %s: %s is %r, its sub-rows sum to %r"
                                        % (what, t, k, r.get(k), m[k]))


def check_evidence(got, what):
    def lines_of(t, reason):
        ev = [e for e in got.get((t, None), {}).get("evidence", []) if e["reason"] == reason]
        # each stack's first Python frame: the program's line (an extension's
        # frames come first)
        def py_line(s):
            py = [fr for fr in s["frames"] if fr.get("kind") == "python"]
            return py[0].get("line") if py else None
        return [py_line(s) for s in ev[0]["stacks"]] if ev else None

    if kind == "static":  # on a shared libpython the first refusal of bytes is the interpreter's
        want = [line_of("second = mut.hold(data)"), line_of("first = mut.hold(data)")]
        if lines_of("bytes", "exclusive-refusal") != want:
            problems.append("%s: bytes refusal stacks at %r, expected %r"
                            % (what, lines_of("bytes", "exclusive-refusal"), want))
    checks = (("bytearray", "mutated", [line_of("reader = mut.hold(buf)"), line_of("buf[0] ^= 0xFF")]),
              ("bytearray", "exclusive-refusal",
               [line_of("held = mut.hold(buf)"), line_of("wview = memoryview(buf)")]),
              (LONG, "writable-answer", [line_of('mut.hold(CensusExporterWithALongTypeName(b"long"))')]))
    for t, reason, want in checks:
        if lines_of(t, reason) != want:
            problems.append("%s: %s %s stacks at %r, expected %r" % (what, t, reason, lines_of(t, reason), want))


def normalized(block):
    return [re.sub(r"0x[0-9a-f]+", "0x?", re.sub(r"^==\d+==", "==?==", l)) for l in block]


kind = "static" if static else "shared"
tmp = tempfile.mkdtemp(prefix="bufsan-census-")
try:
    for part in ("plain", "numpy"):
        if part == "numpy" and not has_numpy:
            print("numpy missing: its part is skipped")
            continue
        with_numpy = part == "numpy"
        what = "%s (%s) %s" % (name, kind, part)
        # JSON, live and from the same run's trace
        trace = os.path.join(tmp, part + "-json")
        live = run([part], ["--census=1", "--log-format=json", "--trace=" + trace])
        if "census known done" not in live.stdout:
            problems.append("%s: the program did not run\n%s" % (what, live.stderr[-3000:]))
            continue
        got_live = records(live.stderr)
        check(got_live, kind, with_numpy, what + " live json")
        check_evidence(got_live, what + " live json")
        rep = report(glob.glob(trace + ".*"), ["--log-format=json"])
        got_trace = records(rep.stdout)
        check(got_trace, kind, with_numpy, what + " trace json")
        check_evidence(got_trace, what + " trace json")
        a = [re.sub(r'"pid": \d+', '"pid": 0', l) for l in json_lines(live.stderr)]
        b = [re.sub(r'"pid": \d+', '"pid": 0', l) for l in json_lines(rep.stdout)]
        if a != b:
            diff = [(x, y) for x, y in zip(a, b) if x != y][:2]
            problems.append("%s: live and trace JSON records differ (%d, %d records): %r"
                            % (what, len(a), len(b), diff))
        # text, live and from the same run's trace
        trace = os.path.join(tmp, part + "-text")
        text = run([part], ["--census=1", "--trace=" + trace])
        live_block = census_block(text.stderr)
        check(text_rows(live_block, what + " live text"), kind, with_numpy, what + " live text",
              TEXT_KEYS)
        rep_text = report(glob.glob(trace + ".*"))
        trace_block = census_block(rep_text.stdout)
        check(text_rows(trace_block, what + " trace text"), kind, with_numpy, what + " trace text",
              TEXT_KEYS)
        if normalized(live_block) != normalized(trace_block):
            diff = [(x, y) for x, y in zip(normalized(live_block), normalized(trace_block)) if x != y][:2]
            problems.append("%s: live and trace text differ (%d, %d lines): %r"
                            % (what, len(live_block), len(trace_block), diff))
        # the HTML section
        page = os.path.join(tmp, part + ".html")
        subprocess.run([launcher, "report", "--census", "--html=" + page] + glob.glob(trace + ".*"),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
        html = open(page, encoding="utf-8").read() if os.path.exists(page) else ""
        n_sites = sum(1 for k in got_live if k[1] is not None)
        if '<section id="census">' not in html or "<b>bytearray</b>" not in html or \
                "<b>%s</b>" % NESTED not in html or html.count('<tr class="site">') != n_sites:
            problems.append("%s html: no census section with its %d site rows" % (what, n_sites))
finally:
    shutil.rmtree(tmp, ignore_errors=True)

for p in problems:
    print("FAIL:", p)
print("census: %d problem(s)" % len(problems))
sys.exit(1 if problems else 0)
