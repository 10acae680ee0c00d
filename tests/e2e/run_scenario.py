#!/usr/bin/python3.11
"""Run one end-to-end case under bufsan and check what a user would check.

Standard library only. Every case runs its program up to three times:
  baseline  without bufsan: the program's own exit status and output;
  json      log_format=json into log_path: the findings, field by field;
  text      the default text report on stderr: headers, frames, SUMMARY.

Scenario scripts (scenarios/*.py) carry their expectations in comments:
  # E2E: key=value ...     status=N (the program's own exit status),
                           options=k=v[,k=v] (bufsan options), processes=2
                           (a fork: parent and child), log_path=SUFFIX (with
                           %p), compare_output=0, needs=numpy, halts=1 (must
                           stop before printing "after halt")
  <code>  # BUG: <check> key=value ...
      on the line whose call makes the bug. Keys: count, bytes, type,
      readonly, flags, native (a C function that must be a native frame of
      the main stack), roles (stacks that must be present, main one first),
      thread (a label: same label, same thread), process (parent|child),
      at (stacks whose first Python frame is on another line than the BUG
      line: ROLE+N / ROLE-N lines away, in the function there; ROLE* not
      checked; e.g. at=acquire-1 when the write is the BUG line),
      severity (default error; a warning counts for no exit status).
      fields (a,b: the JSON "fields" of a view conformance finding, and
      the text header names each).

Commands (see --help): scenario, boot, embed, nonpython, options, options_help,
stackopts.
"""

import argparse
import atexit
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

INTERPRETERS = {
    "debian": "/usr/bin/python3.11",
    "pyenv": "/root/.pyenv/versions/3.11.7/bin/python3.11",
    "debian-dbg": "/usr/bin/python3.11d",
}
DEFAULT_EXITCODE = 66
TIMEOUT = 300
EXT_NAME = "_bufsan_testext"
MAIN_ROLE = {
    "leaked-export": "acquire",
    "exporter-freed-while-exported": "acquire",
    "release-unknown": "release",
    "release-decrefs-obj": "release",
    "consumer-modified-view": "release",
}
KNOWN_ROLES = {"acquire", "release", "dealloc", "earlier-release", "other", "slot", "observe",
               "writer"}
HEX = re.compile(r"^0x[0-9a-fA-F]+$")


class Failures:
    """Soft assertions: collect every mismatch, report them all at the end."""

    def __init__(self):
        self.items = []
        self.context = []

    def check(self, cond, msg):
        if not cond:
            self.items.append(msg)
        return cond

    def fail(self, msg):
        self.items.append(msg)

    def add_context(self, title, text):
        self.context.append((title, text))

    def finish(self, name):
        if not self.items:
            print("PASS %s" % name)
            return 0
        for title, text in self.context:
            print("---- %s ----" % title)
            if len(text) > 12000:
                text = text[:6000] + "\n[... %d chars cut ...]\n" % (len(text) - 12000) + text[-6000:]
            print(text.rstrip("\n"))
        print("---- failures ----")
        for item in self.items:
            print("FAIL: " + item)
        print("FAIL %s (%d problems)" % (name, len(self.items)))
        return 1


# --------------------------------------------------------------------------
# Scenario files


class Bug:
    def __init__(self, check, line, function, attrs):
        self.check = check
        self.line = line
        self.function = function
        self.attrs = attrs
        roles = attrs.get("roles")
        self.roles = roles.split(",") if roles else [MAIN_ROLE.get(check, "acquire")]
        # the SUMMARY location the JSON run's finding implies (an extension's
        # frame), None: the BUG line
        self.summary = None

    def __repr__(self):
        return "%s at line %d in %s" % (self.check, self.line, self.function)


def parse_kv(text):
    out = {}
    for word in text.split():
        if "=" not in word:
            raise ValueError("expected key=value, got %r" % word)
        k, v = word.split("=", 1)
        out[k] = v
    return out


def enclosing_functions(source):
    """line -> qualified name of the innermost def containing it, as a code
    object's co_qualname says it ('<module>' outside any def)."""
    names = {}
    tree = ast.parse(source)

    def visit(node, prefix, current):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                name = child.name if not isinstance(child, ast.Lambda) else "<lambda>"
                qual = prefix + name
                for ln in range(child.lineno, child.end_lineno + 1):
                    names[ln] = qual
                visit(child, qual + ".<locals>.", qual)
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".", current)
            else:
                visit(child, prefix, current)

    visit(tree, "", "<module>")
    return names


def parse_scenario(path):
    with open(path) as f:
        source = f.read()
    meta = {}
    bugs = []
    funcs = enclosing_functions(source)
    for lineno, text in enumerate(source.splitlines(), 1):
        m = re.match(r"\s*# E2E:(.*)$", text)
        if m:
            meta.update(parse_kv(m.group(1)))
            continue
        m = re.search(r"#\s*BUG:\s*([a-z-]+)(.*)$", text)
        if m and not text.lstrip().startswith("#"):
            bug = Bug(m.group(1), lineno, funcs.get(lineno, "<module>"), parse_kv(m.group(2)))
            bug.at = {}
            for item in filter(None, bug.attrs.get("at", "").split(",")):
                am = re.match(r"^([a-z-]+)(\*|[+-]\d+)$", item)
                if not am:
                    raise ValueError("bad at=%r in %s:%d" % (item, path, lineno))
                if am.group(2) == "*":
                    bug.at[am.group(1)] = None
                else:
                    ln = lineno + int(am.group(2))
                    bug.at[am.group(1)] = (ln, funcs.get(ln, "<module>"))
            bugs.append(bug)
    return source, meta, bugs


def parse_options(text):
    """'exitcode=7,halt_on_error=1' -> dict (',' separates in scenario files)."""
    out = {}
    for item in filter(None, (text or "").split(",")):
        k, v = item.split("=", 1)
        out[k] = v
    return out


# --------------------------------------------------------------------------
# Running


class Env:
    def __init__(self, args):
        self.build = os.path.abspath(args.build_dir)
        self.source = os.path.abspath(args.source_dir)
        self.python = INTERPRETERS.get(args.python, args.python) if args.python else None
        self.via = getattr(args, "via", "preload")
        self.loader = os.path.join(self.build, "lib", "libbufsan.so")
        self.launcher = os.path.join(self.source, "scripts", "bufsan")
        self.ext_dir = os.path.join(self.build, "tests", "ext")
        self.e2e_dir = os.path.join(self.source, "tests", "e2e")
        self.scenarios = os.path.join(self.e2e_dir, "scenarios")
        self.tmp = tempfile.mkdtemp(prefix="bufsan-e2e-")
        if not getattr(args, "keep", False):
            atexit.register(shutil.rmtree, self.tmp, True)

    def ext_so(self):
        for name in os.listdir(self.ext_dir):
            if name.startswith(EXT_NAME + ".") and name.endswith(".so"):
                return os.path.join(self.ext_dir, name)
        return None

    def base_environ(self, extra=None):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("PYTHON") and k not in ("LD_PRELOAD", "BUFSAN_OPTIONS")}
        env["PYTHONPATH"] = self.ext_dir
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        if extra:
            env.update(extra)
        return env


class Result:
    def __init__(self, label, cmd, proc, logdir=None):
        self.label = label
        self.cmd = cmd
        self.rc = proc.returncode
        self.pid = proc.pid
        self.stdout = proc.stdout_text
        self.stderr = proc.stderr_text
        self.logdir = logdir

    def describe(self):
        return "$ %s\nexit status %d (pid %d)\n[stdout]\n%s[stderr]\n%s" % (
            " ".join(self.cmd), self.rc, self.pid, self.stdout, self.stderr)


def run(label, cmd, env, stdin_text=None, cwd=None, logdir=None):
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(stdin_text.encode() if stdin_text is not None else b"",
                                    timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        err += b"\n[run_scenario: killed after %d s]\n" % TIMEOUT
    proc.stdout_text = out.decode(errors="replace")
    proc.stderr_text = err.decode(errors="replace")
    return Result(label, cmd, proc, logdir)


def bufsan_command(env, cmd, environ, options):
    """Wrap cmd to run under bufsan, via LD_PRELOAD or the launcher."""
    environ = dict(environ)
    if env.via == "launcher":
        flags = ["--%s=%s" % (k.replace("_", "-"), v) for k, v in options.items()]
        return [env.launcher] + flags + ["--"] + cmd, environ
    environ["LD_PRELOAD"] = env.loader
    if options:
        environ["BUFSAN_OPTIONS"] = ":".join("%s=%s" % kv for kv in options.items())
    return cmd, environ


def run_modes(fails, env, cmd, environ, options, stdin_text=None, cwd=None,
              log_suffix=None, modes=("baseline", "json", "text")):
    """Run cmd without bufsan, with JSON logs into a fresh dir, and in text."""
    results = {}
    if "baseline" in modes:
        results["baseline"] = run("baseline", cmd, environ, stdin_text, cwd)
        fails.add_context("baseline run (no bufsan)", results["baseline"].describe())
    if "json" in modes:
        logdir = tempfile.mkdtemp(prefix="json-", dir=env.tmp)
        opts = dict(options)
        opts["log_format"] = "json"
        opts["log_path"] = os.path.join(logdir, "log" + (log_suffix or ""))
        c, e = bufsan_command(env, cmd, environ, opts)
        r = run("json", c, e, stdin_text, cwd, logdir)
        results["json"] = r
        fails.add_context("json run", r.describe() + "".join(
            "[log %s]\n%s" % (n, read_text(os.path.join(logdir, n)))
            for n in sorted(os.listdir(logdir))))
    if "text" in modes:
        c, e = bufsan_command(env, cmd, environ, dict(options))
        r = run("text", c, e, stdin_text, cwd)
        results["text"] = r
        fails.add_context("text run", r.describe())
    return results


def read_text(path):
    with open(path, errors="replace") as f:
        return f.read()


# --------------------------------------------------------------------------
# JSON reports


def load_logs(fails, logdir, prefix, suffix):
    """{pid: [records]} from the files <prefix><pid><suffix> in logdir."""
    per_pid = {}
    for name in sorted(os.listdir(logdir)):
        path = os.path.join(logdir, name)
        if suffix is None:
            m = re.match(re.escape(prefix) + r"\.(\d+)$", name)
        else:
            m = re.match(re.escape(prefix) + r"(\d+)" + re.escape(suffix) + "$", name)
        if not fails.check(m, "unexpected file %s in the log directory" % name):
            continue
        pid = int(m.group(1))
        records = []
        for i, line in enumerate(read_text(path).splitlines(), 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except ValueError as exc:
                fails.fail("%s line %d is not JSON (%s): %r" % (name, i, exc, line[:200]))
        per_pid[pid] = records
    return per_pid


def validate_finding(fails, f, where):
    ok = True
    for key, typ in (("check", str), ("severity", str), ("pid", int), ("message", str),
                     ("count", int), ("bytes", int), ("stacks", list)):
        ok &= fails.check(isinstance(f.get(key), typ),
                          "%s: field %r missing or not %s: %r" % (where, key, typ.__name__, f.get(key)))
    if not ok:
        return False
    fails.check(f["severity"] in ("error", "warning"), "%s: severity %r" % (where, f["severity"]))
    exp = f.get("exporter", "missing")
    if exp is not None:
        if fails.check(isinstance(exp, dict), "%s: exporter must be an object or null: %r" % (where, exp)):
            fails.check(isinstance(exp.get("type"), str), "%s: exporter.type %r" % (where, exp.get("type")))
            fails.check(isinstance(exp.get("address"), str) and HEX.match(exp.get("address", "")),
                        "%s: exporter.address %r" % (where, exp.get("address")))
            fails.check(isinstance(exp.get("len"), int), "%s: exporter.len %r" % (where, exp.get("len")))
            fails.check(isinstance(exp.get("readonly"), bool), "%s: exporter.readonly %r" % (where, exp.get("readonly")))
    # null where no request is known: release-unknown of a view never got
    req = f.get("request", "missing")
    if req is None:
        fails.check(f["check"] == "release-unknown",
                    "%s: request null for %s" % (where, f["check"]))
    elif fails.check(isinstance(req, dict), "%s: request must be an object or null: %r" % (where, req)):
        fails.check(isinstance(req.get("flags"), int), "%s: request.flags %r" % (where, req.get("flags")))
        fails.check(isinstance(req.get("flag_names"), list), "%s: request.flag_names %r" % (where, req.get("flag_names")))
    for s in f["stacks"]:
        if not fails.check(isinstance(s, dict) and isinstance(s.get("frames"), list),
                           "%s: malformed stack %r" % (where, s)):
            return False
        fails.check(s.get("role") in KNOWN_ROLES, "%s: unknown stack role %r" % (where, s.get("role")))
        fails.check(isinstance(s.get("thread"), int), "%s: stack thread %r" % (where, s.get("thread")))
        seen_python = False
        for fr in s["frames"]:
            kind = fr.get("kind")
            if kind == "python":
                seen_python = True
                fails.check(isinstance(fr.get("file"), str) and isinstance(fr.get("line"), int)
                            and isinstance(fr.get("function"), str),
                            "%s: malformed python frame %r" % (where, fr))
            elif kind == "native":
                # innermost first: an extension's frames come before the
                # Python frames that called it (SPEC: frames innermost first)
                fails.check(not seen_python, "%s: native frame after a Python frame in %s stack"
                            % (where, s.get("role")))
                fails.check(isinstance(fr.get("pc"), str) and HEX.match(fr.get("pc", ""))
                            and isinstance(fr.get("offset"), str) and HEX.match(fr.get("offset", ""))
                            and isinstance(fr.get("module"), str)
                            and (fr.get("function") is None or isinstance(fr.get("function"), str)),
                            "%s: malformed native frame %r" % (where, fr))
            else:
                fails.fail("%s: frame of unknown kind %r" % (where, fr))
    return True


def python_frames(stack):
    return [fr for fr in stack["frames"] if fr.get("kind") == "python"]


def native_frames(stack):
    return [fr for fr in stack["frames"] if fr.get("kind") == "native"]


# modules that only carry a Python program's call into the C-API
GLUE_MODULE = re.compile(r"(_ctypes\.|libffi\.so|_cffi_backend\.)")


def extension_location(stack):
    """(file, line, function) where reports locate STACK when an extension's
    frame is the place: the first native frame with its own source line (not
    a CPython header's inline function, not ctypes/libffi/cffi's backend) of
    a stack with Python frames; None when it is the Python line."""
    if not python_frames(stack):
        return None
    for fr in native_frames(stack):
        if (fr.get("file") and "/include/python3" not in fr["file"]
                and not GLUE_MODULE.match(os.path.basename(fr.get("module") or ""))):
            return fr["file"], fr["line"], fr.get("function") or "??"
    return None


def same_file(a, b):
    if a == b:
        return True
    if a.startswith("<") or b.startswith("<"):
        return False
    return os.path.realpath(a) == os.path.realpath(b)


def frame0_is(stack, file, line):
    py = python_frames(stack)
    return bool(py) and same_file(py[0]["file"], file) and py[0]["line"] == line


def main_stack(f, bug):
    for s in f["stacks"]:
        if s.get("role") == bug.roles[0]:
            return s
    return None


class Symbols:
    """Address ranges of the functions of one ELF file, from nm."""

    def __init__(self, path):
        self.ranges = {}
        try:
            out = subprocess.run(["nm", "-S", "--defined-only", path], capture_output=True,
                                 text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            return
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 4 and parts[2] in "tT":
                self.ranges[parts[3]] = (int(parts[0], 16), int(parts[1], 16))

    def contains(self, name, offset):
        if name not in self.ranges:
            return None
        start, size = self.ranges[name]
        return start <= offset <= start + size


def check_process_json(fails, env, records, pid, bugs, file, interp_modules,
                       ext_symbols=None, exact=True):
    """Findings of one process against the BUG markers that belong to it."""
    where = "pid %d" % pid
    if not records:
        fails.check(not bugs, "%s: empty log file" % where)
        return []
    for r in records:
        fails.check(r.get("bufsan") == 1, "%s: record without \"bufsan\": 1: %r" % (where, r))
    findings = [r for r in records if r.get("kind") == "finding"]
    summaries = [r for r in records if r.get("kind") == "summary"]
    others = [r for r in records if r.get("kind") not in ("finding", "summary")]
    fails.check(not others, "%s: records of unknown kind: %r" % (where, others))
    fails.check(len(summaries) == 1 and records[-1].get("kind") == "summary",
                "%s: expected exactly one summary, as the last line (got %d summaries)"
                % (where, len(summaries)))
    valid = []
    for i, f in enumerate(findings):
        if validate_finding(fails, f, "%s finding #%d (%s)" % (where, i, f.get("check"))):
            valid.append(f)
            fails.check(f["pid"] == pid, "%s: finding has pid %r" % (where, f["pid"]))
    # Per BUG marker: exactly one finding of that check made at that line.
    matched = set()
    thread_of = {}
    for bug in bugs:
        cands = [f for f in valid if f["check"] == bug.check and main_stack(f, bug) is not None
                 and (frame0_is(main_stack(f, bug), file, bug.line) or
                      (bug_at_skips(bug) and any(same_file(fr["file"], file) and fr["line"] == bug.line
                                                 for fr in python_frames(main_stack(f, bug)))))]
        if not fails.check(len(cands) == 1,
                           "%s: expected one %s finding whose %s stack has Python frame #0 at "
                           "%s:%d, found %d" % (where, bug.check, bug.roles[0], file, bug.line, len(cands))):
            continue
        f = cands[0]
        matched.add(id(f))
        check_bug_finding(fails, f, bug, file, interp_modules, ext_symbols, env, thread_of)
    if exact:
        for f in valid:
            if id(f) not in matched:
                fails.fail("%s: unexpected finding %s: %s" % (where, f["check"], json.dumps(f)[:1500]))
    # Leaks come largest first.
    leak_bytes = [f["bytes"] for f in valid if f["check"] == "leaked-export"]
    fails.check(leak_bytes == sorted(leak_bytes, reverse=True),
                "%s: leaked-export findings not largest first: bytes %r" % (where, leak_bytes))
    # Summary line.
    if summaries:
        s = summaries[-1]
        n_err = sum(1 for f in valid if f["severity"] == "error")
        fails.check(s.get("errors") == n_err, "%s: summary errors %r, findings with severity "
                    "error: %d" % (where, s.get("errors"), n_err))
        n_warn = sum(1 for b in bugs if b.attrs.get("severity") == "warning")
        fails.check(s.get("warnings") == n_warn, "%s: summary warnings %r, expected %d"
                    % (where, s.get("warnings"), n_warn))
        fails.check(s.get("suppressed") == 0, "%s: summary suppressed %r" % (where, s.get("suppressed")))
        by_check = s.get("by_check")
        if fails.check(isinstance(by_check, dict), "%s: summary by_check %r" % (where, by_check)):
            expected = {}
            for f in valid:
                n, c = expected.get(f["check"], (0, 0))
                expected[f["check"]] = (n + 1, c + f["count"])
            fails.check(set(by_check) == set(expected),
                        "%s: summary by_check %r, findings by check %r" % (where, by_check, expected))
            for k, (n, c) in expected.items():
                fails.check(by_check.get(k) in (n, c), "%s: summary by_check[%r] = %r, expected %d "
                            "findings (%d exports)" % (where, k, by_check.get(k), n, c))
    return valid


def check_bug_finding(fails, f, bug, file, interp_modules, ext_symbols, env, thread_of):
    what = "%s at line %d" % (bug.check, bug.line)
    a = bug.attrs
    fails.check(f["severity"] == a.get("severity", "error"), "%s: severity %r" % (what, f["severity"]))
    exp = f.get("exporter")
    count = int(a.get("count", "1"))
    fails.check(f["count"] == count, "%s: count %r, expected %d" % (what, f["count"], count))
    if "bytes" in a:
        fails.check(f["bytes"] == int(a["bytes"]), "%s: bytes %r, expected %s" % (what, f["bytes"], a["bytes"]))
        if count == 1 and isinstance(exp, dict):
            fails.check(exp.get("len") == int(a["bytes"]),
                        "%s: exporter.len %r, expected %s" % (what, exp.get("len"), a["bytes"]))
    if "type" in a:
        fails.check(isinstance(exp, dict) and exp.get("type") == a["type"],
                    "%s: exporter type %r, expected %r" % (what, exp and exp.get("type"), a["type"]))
    if "readonly" in a:
        want = a["readonly"] == "true"
        fails.check(isinstance(exp, dict) and exp.get("readonly") is want,
                    "%s: exporter.readonly %r, expected %r" % (what, exp and exp.get("readonly"), want))
    if "flags" in a:
        req = f.get("request") or {}
        fails.check(req.get("flags") == int(a["flags"]),
                    "%s: request.flags %r, expected %s" % (what, req.get("flags"), a["flags"]))
        if int(a["flags"]) == 0:
            fails.check(req.get("flag_names") == ["PyBUF_SIMPLE"],
                        "%s: flag_names %r, expected [\"PyBUF_SIMPLE\"]" % (what, req.get("flag_names")))
    if "fields" in a:
        want = a["fields"].split(",")
        fails.check(f.get("fields") == want, "%s: fields %r, expected %r" % (what, f.get("fields"), want))
    roles = [s.get("role") for s in f["stacks"]]
    for role in bug.roles:
        fails.check(role in roles, "%s: no %r stack (stacks: %r)" % (what, role, roles))
    # A "slot" stack is one native frame: the exporter's slot function where
    # the bug is (release-decrefs-obj).
    for s in f["stacks"]:
        if s.get("role") != "slot":
            continue
        nat = native_frames(s)
        fails.check(len(nat) == 1 and not python_frames(s),
                    "%s: slot stack should be one native frame: %r" % (what, s))
        if "slot" in a and nat:
            fails.check(nat[0].get("function") == a["slot"],
                        "%s: slot frame is %r, expected %s" % (what, nat[0].get("function"), a["slot"]))
    # Every stack was taken inside the one C call made on the BUG line.
    for s in f["stacks"]:
        if s.get("role") == "slot":
            continue
        line, function = bug.line, bug.function
        if s.get("role") in bug.at:
            if bug.at[s.get("role")] is None:
                continue
            line, function = bug.at[s.get("role")]
        py = python_frames(s)
        if not fails.check(py, "%s: %s stack has no Python frames" % (what, s.get("role"))):
            continue
        fails.check(same_file(py[0]["file"], file) and py[0]["line"] == line
                    and py[0]["function"] == function,
                    "%s: %s stack Python frame #0 is %s:%s in %s, expected %s:%d in %s"
                    % (what, s.get("role"), py[0]["file"], py[0]["line"], py[0]["function"],
                       file, line, function))
        if function != "<module>" and not file.startswith("<") and "thread" not in a:
            fails.check(any(fr["function"] == "<module>" and same_file(fr["file"], file) for fr in py[1:]),
                        "%s: %s stack lacks the caller frame in <module>: %r" % (what, s.get("role"), py))
        for fr in native_frames(s):
            mod = os.path.realpath(fr.get("module") or "")
            fails.check(mod not in interp_modules,
                        "%s: %s stack has a native frame inside the interpreter: %r"
                        % (what, s.get("role"), fr))
    main = main_stack(f, bug)
    # what the text SUMMARY line names (from the first stack): an
    # extension's frame, else the BUG line's Python frame
    loc = extension_location(f["stacks"][0]) if f["stacks"] else None
    bug.summary = "%s:%d in %s" % loc if loc else None
    if "native" in a and main is not None:
        names = [fr.get("function") for fr in native_frames(main)]
        hits = [fr for fr in native_frames(main) if fr.get("function") == a["native"]]
        if fails.check(hits, "%s: native frames of the %s stack %r lack %s"
                       % (what, bug.roles[0], names, a["native"])):
            fr = hits[0]
            # any test extension built next to _bufsan_testext
            mod = os.path.realpath(fr["module"] or "")
            fails.check(os.path.dirname(mod) == os.path.realpath(env.ext_dir)
                        and os.path.basename(mod).startswith("_bufsan_"),
                        "%s: frame %s has module %r, expected a test extension in %s"
                        % (what, a["native"], fr["module"], env.ext_dir))
            syms = ext_symbols if mod == os.path.realpath(env.ext_so() or "") else Symbols(mod)
            if syms is not None:
                inside = syms.contains(a["native"], int(fr["offset"], 16))
                fails.check(inside is not False, "%s: offset %s of frame %s is outside that function %r"
                            % (what, fr["offset"], a["native"], syms.ranges.get(a["native"])))
    if "thread" in a and main is not None:
        label = a["thread"]
        tid = main.get("thread")
        for other, otid in thread_of.items():
            if other == label:
                fails.check(otid == tid, "%s: thread %r, expected the same thread as before (%r)"
                            % (what, tid, otid))
            else:
                fails.check(otid != tid, "%s: thread %r is also label %r's thread" % (what, tid, other))
        thread_of[label] = tid


# --------------------------------------------------------------------------
# Text reports


def bug_at_skips(bug):
    """Is the main stack's first frame elsewhere than the BUG line (at=)?"""
    return bug.roles[0] in bug.at


def check_text(fails, result, expect_per_pid, file):
    """expect_per_pid: {pid: [Bug]}; checks headers, frames, SUMMARY lines."""
    err = result.stderr
    headers = re.findall(r"^==(\d+)==(?:ERROR|WARNING): bufsan: ([a-z-]+)(.*)$", err, re.M)
    for pid, bugs in expect_per_pid.items():
        want = {}
        for b in bugs:
            want[b.check] = want.get(b.check, 0) + 1
        got = {}
        for hpid, check, _ in headers:
            if int(hpid) == pid:
                got[check] = got.get(check, 0) + 1
        fails.check(got == want, "text: headers for pid %d by check %r, expected %r" % (pid, got, want))
        for b in bugs:
            a = b.attrs
            if b.check == "leaked-export" and "bytes" in a and "type" in a and a.get("severity", "error") == "error":
                count = int(a.get("count", "1"))
                pat = (r"^==%d==ERROR: bufsan: leaked-export: %d exports? of %s \(%s bytes\) never released"
                       % (pid, count, re.escape(a["type"]), a["bytes"]))
                fails.check(re.search(pat, err, re.M), "text: no header matching %r" % pat)
            if "fields" in a:
                # one report names every field (not one report per field)
                names = a["fields"].split(",")
                fails.check(any(int(hpid) == pid and check == b.check and all(n in rest for n in names)
                                for hpid, check, rest in headers),
                            "text: no %s header naming %s" % (b.check, " and ".join(names)))
            if "slot" in a:
                # the innermost frame outside the interpreter is the slot function
                summary = r"SUMMARY: bufsan: %s \S+:\d+ in %s" % (re.escape(b.check), re.escape(a["slot"]))
                fails.check(re.search("^" + summary + "$", err, re.M), "text: no line matching %r" % summary)
            else:
                where = getattr(b, "summary", None) or "%s:%d in %s" % (file, b.line, b.function)
                summary = "SUMMARY: bufsan: %s %s" % (b.check, where)
                fails.check(re.search("^" + re.escape(summary) + "$", err, re.M),
                            "text: no line %r" % summary)
            # the BUG line's frame, after the extension's frames if any
            frame = "%s:%d in %s" % (file, b.line, b.function)
            fails.check(bug_at_skips(b) or re.search(r"^\s+#\d+ " + re.escape(frame) + "$", err, re.M),
                        "text: no Python frame line %r" % ("#N " + frame))
            if "native" in a:
                pat = r"^\s+#\d+ 0x[0-9a-f]+ in %s \(\S*%s\S*\+0x[0-9a-f]+\)( .*)?$" % (
                    re.escape(a["native"]), "_bufsan_")
                fails.check(re.search(pat, err, re.M), "text: no native frame line matching %r" % pat)
            if b.check == "leaked-export" and a.get("flags") == "0":
                fails.check(re.search(r"^\s*acquired by thread T\d+ with PyBUF_SIMPLE at:$", err, re.M),
                            "text: no line 'acquired by thread T<n> with PyBUF_SIMPLE at:'")
    pids = set(expect_per_pid)
    for hpid, check, _ in headers:
        fails.check(int(hpid) in pids, "text: header for unexpected pid %s (%s)" % (hpid, check))


# --------------------------------------------------------------------------
# Commands


def expected_status(own, n_errors, options):
    if own != 0:
        return own
    if n_errors:
        return int(options.get("exitcode", DEFAULT_EXITCODE))
    return 0


def interp_modules_for(python):
    mods = {os.path.realpath(python)}
    try:
        out = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_config_var('LIBDIR')"
                              " or ''); print(sysconfig.get_config_var('INSTSONAME') or '')"],
                             capture_output=True, text=True, timeout=60).stdout.split("\n")
        libdir, soname = out[0], out[1]
        for d in (libdir, "/usr/lib/x86_64-linux-gnu"):
            p = os.path.join(d, soname) if soname else ""
            if soname and os.path.exists(p):
                mods.add(os.path.realpath(p))
    except (OSError, subprocess.SubprocessError, IndexError):
        pass
    return mods


def prerequisites(fails, env, need_python=True):
    ok = fails.check(os.path.exists(env.loader), "bufsan loader %s not built" % env.loader)
    if env.via == "launcher":
        ok &= fails.check(os.access(env.launcher, os.X_OK), "launcher %s missing" % env.launcher)
    if need_python:
        ok &= fails.check(env.python and os.access(env.python, os.X_OK),
                          "interpreter %r not found" % env.python)
    return ok


def run_program_case(fails, env, cmd, file, bugs, meta, stdin_text=None, cwd=None,
                     environ=None, python=None, ext_symbols=None, modes=("baseline", "json", "text")):
    """The common checks for a program whose bugs are listed in BUG markers."""
    options = parse_options(meta.get("options"))
    own = int(meta.get("status", "0"))
    log_suffix = meta.get("log_path")
    processes = int(meta.get("processes", "1"))
    compare_output = meta.get("compare_output", "1") != "0"
    environ = environ or env.base_environ()
    res = run_modes(fails, env, cmd, environ, options, stdin_text, cwd, log_suffix, modes)

    base = res.get("baseline")
    if base is not None:
        fails.check(base.rc == own, "without bufsan the program exited %d, expected %d "
                    "(the scenario itself is broken)" % (base.rc, own))
        fails.check("bufsan" not in base.stderr, "without bufsan, stderr mentions bufsan")

    def child_info(r):
        m = re.search(r"child_pid=(\d+) child_status=(-?\d+)", r.stdout)
        return (int(m.group(1)), int(m.group(2))) if m else (None, None)

    def bugs_of(proc_label):
        if processes == 1:
            return bugs
        return [b for b in bugs if b.attrs.get("process", "parent") == proc_label]

    def pid_map(r):
        m = {"parent": r.pid if env.via == "preload" else None}
        if processes > 1:
            cpid, _ = child_info(r)
            fails.check(cpid is not None, "%s run: no child_pid=... line on stdout" % r.label)
            m["child"] = cpid
        return m

    if base is not None and processes > 1:
        _, cst = child_info(base)
        fails.check(cst == 0, "without bufsan the child exited %r, expected 0" % cst)

    interp = interp_modules_for(python or env.python) if (python or env.python) else set()
    j = res.get("json")
    if j is not None:
        n_err = len([b for b in bugs_of("parent") if b.attrs.get("severity", "error") == "error"])
        fails.check(j.rc == expected_status(own, n_err, options),
                    "json run exited %d, expected %d" % (j.rc, expected_status(own, n_err, options)))
        if compare_output and base is not None:
            fails.check(j.stdout == base.stdout, "json run: stdout differs from the run without bufsan")
            fails.check(j.stderr == base.stderr, "json run: stderr differs from the run without bufsan "
                        "(findings must go to log_path only)")
        if log_suffix:
            pre, suf = ("log" + log_suffix).split("%p", 1)
            logs = load_logs(fails, j.logdir, pre, suf)
        else:
            logs = load_logs(fails, j.logdir, "log", None)
        pids = pid_map(j)
        if processes > 1:
            _, cst = child_info(j)
            want = expected_status(0, len(bugs_of("child")), options)
            fails.check(cst == want, "json run: child exited %r, expected %d" % (cst, want))
        if env.via != "preload":
            # The launcher may fork; take the parent's pid from the log itself.
            cands = [p for p in logs if p != pids.get("child")]
            if len(cands) == 1:
                pids["parent"] = cands[0]
        for label, pid in pids.items():
            pb = bugs_of(label)
            if pid is None:
                fails.check(not pb, "cannot tell the %s's pid" % label)
                continue
            if pb:
                fails.check(pid in logs, "json run: no log file for the %s process (pid %d); files: %r"
                            % (label, pid, sorted(os.listdir(j.logdir))))
            if pid in logs:
                check_process_json(fails, env, logs[pid], pid, pb, file, interp, ext_symbols)
        for pid in logs:
            fails.check(pid in pids.values(), "json run: log file for unexpected pid %d" % pid)

    t = res.get("text")
    if t is not None:
        n_err = len([b for b in bugs_of("parent") if b.attrs.get("severity", "error") == "error"])
        fails.check(t.rc == expected_status(own, n_err, options),
                    "text run exited %d, expected %d" % (t.rc, expected_status(own, n_err, options)))
        if not bugs:
            if base is not None and compare_output:
                fails.check(t.stderr == base.stderr, "text run: stderr differs from the run without "
                            "bufsan, but there is nothing to report")
            fails.check("bufsan" not in t.stderr and not re.search(r"^==\d+==", t.stderr, re.M),
                        "text run: bufsan wrote to stderr although there is nothing to report")
        else:
            pids = pid_map(t)
            if env.via != "preload":
                hp = {int(p) for p in re.findall(r"^==(\d+)==ERROR", t.stderr, re.M)} - {pids.get("child")}
                if len(hp) == 1:
                    pids["parent"] = hp.pop()
            expect = {pid: bugs_of(label) for label, pid in pids.items() if pid is not None}
            check_text(fails, t, expect, file)
    if meta.get("halts") == "1":
        for label in ("json", "text"):
            r = res.get(label)
            if r is not None:
                fails.check("after halt" not in r.stdout,
                            "%s run: the program went on after the first error" % label)
    return res


def cmd_scenario(args):
    fails = Failures()
    env = Env(args)
    name = args.name
    path = os.path.join(env.scenarios, name + ".py")
    if not fails.check(os.path.exists(path), "no scenario %s" % path) or not prerequisites(fails, env):
        return fails.finish(name)
    fails.check(env.ext_so() is not None, "extension %s not built in %s" % (EXT_NAME, env.ext_dir))
    source, meta, bugs = parse_scenario(path)
    ext = env.ext_so()
    run_program_case(fails, env, [env.python, path], path, bugs, meta,
                     ext_symbols=Symbols(ext) if ext else None)
    return fails.finish("%s under %s via %s" % (name, env.python, env.via))


BOOT_MODES = ("script", "c", "m", "stdin", "i", "i_script", "I", "SEs", "venv",
              "pymalloc_debug", "xdev")


def cmd_boot(args):
    """The ctypes-only leak, started in one of the interpreter's start-up modes."""
    fails = Failures()
    env = Env(args)
    mode = args.mode
    if not prerequisites(fails, env):
        return fails.finish("boot " + mode)
    script = os.path.join(env.scenarios, "ctypes_leak.py")
    source, meta, bugs = parse_scenario(script)
    py = env.python
    environ = env.base_environ()
    cmd, file, stdin_text, cwd = [py, script], script, None, None
    if mode == "script":
        pass
    elif mode == "c":
        cmd, file = [py, "-c", source], "<string>"
    elif mode == "m":
        moddir = tempfile.mkdtemp(prefix="mod-", dir=env.tmp)
        file = os.path.join(moddir, "ctypes_leak_mod.py")
        shutil.copy(script, file)
        cmd, cwd = [py, "-m", "ctypes_leak_mod"], moddir
    elif mode == "stdin":
        cmd, file, stdin_text = [py, "-"], "<stdin>", source
    elif mode == "i":
        # The REPL compiles each statement alone: every statement is line 1.
        # 3.13 names each input line's code after its number, counted from
        # 0 (3.13.0 "<stdin>-N", later "<stdin-N>"): asked of the REPL itself.
        cmd, file, stdin_text = [py, "-i"], "<stdin>", source
        probe = subprocess.run([py, "-i"], input="import sys; print('FILE=' + "
                               "sys._getframe().f_code.co_filename)\n",
                               capture_output=True, text=True).stdout
        first = re.search(r"FILE=(\S+)", probe)
        first = first.group(1) if first else "<stdin>"
        for b in bugs:
            if first != "<stdin>" and "0" in first:
                i = first.rindex("0")
                file = first[:i] + str(b.line - 1) + first[i + 1:]
            b.line = 1
    elif mode == "i_script":
        cmd, stdin_text = [py, "-i", script], "print('repl ran', view.len)\n"
    elif mode == "I":
        cmd = [py, "-I", script]
    elif mode == "SEs":
        cmd = [py, "-S", "-E", "-s", script]
    elif mode == "venv":
        venv = os.path.join(env.tmp, "venv")
        r = subprocess.run([py, "-m", "venv", "--without-pip", venv], env=env.base_environ(),
                           capture_output=True, text=True, timeout=TIMEOUT)
        if not fails.check(r.returncode == 0, "venv creation failed: %s" % r.stderr):
            return fails.finish("boot venv")
        cmd = [os.path.join(venv, "bin", "python"), script]
    elif mode == "pymalloc_debug":
        environ["PYTHONMALLOC"] = "debug"
    elif mode == "xdev":
        cmd = [py, "-X", "dev", script]
    else:
        fails.fail("unknown boot mode %r" % mode)
        return fails.finish("boot " + mode)
    res = run_program_case(fails, env, cmd, file, bugs, meta, stdin_text, cwd, environ, python=py)
    for label in ("json", "text"):
        r = res.get(label)
        if r is not None:
            fails.check("ctypes leak done" in r.stdout or "ctypes leak done" in r.stderr,
                        "%s run: the program did not run to its end" % label)
            if mode == "i_script":
                fails.check("repl ran 16" in r.stdout, "%s run: the REPL after -i did not run" % label)
    return fails.finish("boot %s under %s" % (mode, py))


# Which scripts bufsan_embed runs, one per lifetime of the interpreter
# (Py_Initialize ... Py_FinalizeEx, again for the next one).
EMBED_LIFETIMES = {
    "leak": ("leak",),
    "clean_leak": ("clean", "leak"),
    "leak_clean": ("leak", "clean"),
    "clean_clean": ("clean", "clean"),
    "main_clean_leak": ("clean", "leak"),  # through Py_BytesMain
}


def cmd_embed(args):
    """A C program embedding Debian's libpython3.11.so runs the ctypes leak,
    alone or in one of two lifetimes of the interpreter."""
    fails = Failures()
    env = Env(args)
    name = "embed" + ("" if args.lifetimes == "leak" else " " + args.lifetimes)
    if not prerequisites(fails, env, need_python=False):
        return fails.finish(name)
    prog = os.path.join(env.build, "tests", "e2e", "bufsan_embed")
    if not fails.check(os.access(prog, os.X_OK), "%s not built" % prog):
        return fails.finish(name)
    scripts = {"leak": os.path.join(env.scenarios, "ctypes_leak.py"),
               "clean": os.path.join(env.e2e_dir, "embed", "lifetime_clean.py")}
    done = {"leak": "ctypes leak done", "clean": "clean lifetime done"}
    order = EMBED_LIFETIMES[args.lifetimes]
    source, meta, bugs = parse_scenario(scripts["leak" if "leak" in order else "clean"])
    libpy = set()
    ldd = subprocess.run(["ldd", prog], capture_output=True, text=True).stdout
    for m in re.finditer(r"=> (\S*libpython\S+)", ldd):
        libpy.add(os.path.realpath(m.group(1)))
    fails.check(libpy, "%s is not linked to a shared libpython:\n%s" % (prog, ldd))
    use_main = args.lifetimes.startswith("main_")
    res = run_program_case(fails, env, [prog] + ["--main"] * use_main + [scripts[k] for k in order],
                           scripts["leak"] if use_main else "<string>", bugs, meta,
                           python=env.python or INTERPRETERS["debian"])
    for label in ("baseline", "json", "text"):
        r = res.get(label)
        if r is None:
            continue
        for k in set(order):
            fails.check(r.stdout.count(done[k]) == order.count(k),
                        "%s run: the embedded code did not run in each lifetime" % label)
        fails.check(r.stdout.count("embed: finalized") == len(order),
                    "%s run: Py_FinalizeEx did not return 0 in each lifetime" % label)
    # A finding of a lifetime after the first says which one it belongs to.
    if "leak" in order and len(order) > 1:
        marked = "leak" == order[-1]
        for label in ("json", "text"):
            r = res.get(label)
            if r is None:
                continue
            if label == "json":
                text = "\n".join(rec.get("message", "")
                                 for recs in load_logs(fails, r.logdir, "log", None).values()
                                 for rec in recs)
            else:
                text = r.stderr
            fails.check(("(interpreter lifetime 2)" in text) == marked,
                        "%s run: the leak of lifetime %d %s say \"(interpreter lifetime 2)\""
                        % (label, 2 if marked else 1, "does not" if marked else "must not"))
    return fails.finish(name)


NONPYTHON = {
    "ls": ["ls", "/"],
    "sh": ["sh", "-c", "echo hi; echo oops >&2; exit 3"],
    "git": ["git", "--version"],
    "gcc": ["gcc", "--version"],
    "perl": ["perl", "-e", "print 1"],
}


def cmd_nonpython(args):
    """A program that is not Python behaves the same with the loader preloaded."""
    fails = Failures()
    env = Env(args)
    if not prerequisites(fails, env, need_python=False):
        return fails.finish("nonpython")
    cmd = NONPYTHON.get(args.prog) or [args.prog]
    environ = env.base_environ()
    base = run("baseline", cmd, environ)
    fails.add_context("baseline", base.describe())
    logdir = tempfile.mkdtemp(prefix="np-", dir=env.tmp)
    e = dict(environ)
    e["LD_PRELOAD"] = env.loader
    e["BUFSAN_OPTIONS"] = "log_format=json:log_path=%s" % os.path.join(logdir, "log")
    for label, extra in (("preloaded", e),
                         ("preloaded, text", dict(e, BUFSAN_OPTIONS=""))):
        r = run(label, cmd, extra)
        fails.add_context(label, r.describe())
        fails.check(r.rc == base.rc, "%s: exit status %d, expected %d" % (label, r.rc, base.rc))
        fails.check(r.stdout == base.stdout, "%s: stdout differs" % label)
        fails.check(r.stderr == base.stderr, "%s: stderr differs" % label)
    fails.check(not os.listdir(logdir), "the loader wrote logs for a non-Python program: %r"
                % os.listdir(logdir))
    return fails.finish("nonpython " + args.prog)


# The SPEC's options that bufsan implements so far; writable_policy comes with
# the WRITABLE checks (issue 3), trace with the post-mortem traces (issue 5).
OPTION_KEYS = ("log_path", "log_format", "exitcode", "halt_on_error", "suppressions", "checks",
               "strict", "stack_depth", "python_stacks", "native_stacks", "help")


def cmd_options(args):
    """A bad option is a one-line error naming the key, and the program does not run."""
    fails = Failures()
    env = Env(args)
    if not prerequisites(fails, env):
        return fails.finish("options")
    marker = os.path.join(env.tmp, "ran")
    prog = [env.python, "-c", "open(%r, 'w').close()" % marker]
    cases = [
        ("unknown key", "no_such_option=1", ("no_such_option", "no-such-option")),
        ("malformed exitcode", "exitcode=abc", ("exitcode",)),
        ("malformed log_format", "log_format=yaml", ("log_format", "log-format")),
    ]
    for label, opt, names in cases:
        k, v = opt.split("=", 1)
        c, e = bufsan_command(env, prog, env.base_environ(), {k: v})
        if os.path.exists(marker):
            os.unlink(marker)
        r = run(label, c, e)
        fails.add_context("%s via %s" % (label, env.via), r.describe())
        what = "%s (%s) via %s" % (label, opt, env.via)
        fails.check(r.rc != 0, "%s: exit status 0" % what)
        fails.check(not os.path.exists(marker), "%s: the program ran" % what)
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        fails.check(len(lines) == 1, "%s: expected a one-line error, got %d lines" % (what, len(lines)))
        fails.check(any(n in r.stderr for n in names), "%s: the error does not name the key" % what)
        if k != "no_such_option":
            fails.check(v in r.stderr, "%s: the error does not show the bad value %r" % (what, v))
    return fails.finish("options via %s" % env.via)


def cmd_options_help(args):
    """help=1 prints every option of the SPEC and does not run the program."""
    fails = Failures()
    env = Env(args)
    if not prerequisites(fails, env):
        return fails.finish("options_help")
    marker = os.path.join(env.tmp, "ran")
    prog = [env.python, "-c", "open(%r, 'w').close()" % marker]
    c, e = bufsan_command(env, prog, env.base_environ(), {"help": "1"})
    r = run("help=1", c, e)
    fails.add_context("help=1", r.describe())
    out = r.stdout + r.stderr
    for key in OPTION_KEYS:
        fails.check(re.search(r"\b%s\b" % key, out), "help=1 does not list %s" % key)
    fails.check(not os.path.exists(marker), "help=1: the program ran")
    return fails.finish("options_help via %s" % env.via)


def cmd_stackopts(args):
    """python_stacks=0, native_stacks=0 and stack_depth=1 shape the stacks."""
    fails = Failures()
    env = Env(args)
    if not prerequisites(fails, env):
        return fails.finish("stackopts")
    path = os.path.join(env.scenarios, "leak_three.py")
    source, meta, bugs = parse_scenario(path)
    for opts, check in (({"python_stacks": "0"}, "python"), ({"native_stacks": "0"}, "native"),
                        ({"stack_depth": "1"}, "depth")):
        res = run_modes(fails, env, [env.python, path], env.base_environ(), opts, modes=("json",))
        j = res["json"]
        tag = ",".join("%s=%s" % kv for kv in opts.items())
        fails.check(j.rc == DEFAULT_EXITCODE, "%s: exit status %d" % (tag, j.rc))
        logs = load_logs(fails, j.logdir, "log", None)
        findings = [r for recs in logs.values() for r in recs if r.get("kind") == "finding"]
        fails.check(sum(f.get("count", 0) for f in findings if f.get("check") == "leaked-export") == len(bugs),
                    "%s: expected %d leaked exports in all" % (tag, len(bugs)))
        for f in findings:
            for s in f.get("stacks", []):
                py, nat = python_frames(s), native_frames(s)
                if check == "python":
                    fails.check(not py and nat, "%s: stack should have native frames only: %r" % (tag, s))
                elif check == "native":
                    fails.check(py and not nat, "%s: stack should have Python frames only: %r" % (tag, s))
                else:
                    fails.check(len(py) == 1 and len(nat) <= 1,
                                "%s: stack should have one Python and at most one native frame: %r" % (tag, s))
                    if py:
                        fails.check(any(py[0]["line"] == b.line for b in bugs),
                                    "%s: the kept Python frame is not the innermost: %r" % (tag, py[0]))
    return fails.finish("stackopts under %s" % env.python)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--source-dir", required=True)
    ap.add_argument("--python", help="interpreter path, or one of %s" % ", ".join(INTERPRETERS))
    ap.add_argument("--via", choices=("preload", "launcher"), default="preload",
                    help="run under bufsan with LD_PRELOAD or with scripts/bufsan")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("scenario", help="run scenarios/NAME.py")
    p.add_argument("name")
    p = sub.add_parser("boot", help="the ctypes leak in one start-up mode")
    p.add_argument("mode", choices=BOOT_MODES)
    p = sub.add_parser("embed", help="the ctypes leak in an embedding C program")
    p.add_argument("lifetimes", nargs="?", default="leak", choices=sorted(EMBED_LIFETIMES),
                   help="the scripts of each lifetime of the interpreter, in order")
    p = sub.add_parser("nonpython", help="a non-Python program is unaffected")
    p.add_argument("prog", choices=sorted(NONPYTHON))
    sub.add_parser("options", help="bad options are refused")
    sub.add_parser("options_help", help="help=1 lists every option")
    sub.add_parser("stackopts", help="python_stacks, native_stacks, stack_depth")
    args = ap.parse_args()
    handler = {"scenario": cmd_scenario, "boot": cmd_boot, "embed": cmd_embed,
               "nonpython": cmd_nonpython, "options": cmd_options,
               "options_help": cmd_options_help, "stackopts": cmd_stackopts}
    return handler[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
