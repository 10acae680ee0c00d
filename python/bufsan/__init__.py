"""bufsan from Python: is the sanitizer loaded in this process, what has it
found so far, and checks around a block of code.

The core answers audit events named ``bufsan.*`` (``sys.audit``); without
bufsan nobody answers them, so everything here works, and reports "not
active", in any interpreter. Loading the core itself needs the preload
(``python3 -m bufsan run ...``, ``LD_PRELOAD``): see ``docs/pytest.md``.
"""
import contextlib
import gc
import json
import os
import sys

__all__ = ["active", "findings", "expect_no_findings", "FindingsError", "Checkpoint",
           "libdir", "launcher"]

CHECKS = (
    "leaked-export", "exporter-freed-while-exported", "release-unknown",
    "release-decrefs-obj", "mutated-while-shared", "readonly-mutated",
    "moved-while-exported", "writable-while-shared", "inconsistent-writable",
    "writable-request-ignored", "error-left-obj", "error-without-exception",
    "success-with-exception", "bad-view-obj", "field-not-requested", "field-missing",
    "bad-view-fields", "not-contiguous", "consumer-modified-view", "no-gil",
)


def _query():
    out = {}
    sys.audit("bufsan.query", out)
    return out


def active():
    """True when the bufsan core is loaded and intercepting in this process."""
    return bool(_query().get("active"))


def info():
    """The core's state: active, pid, errors so far, log_format, log_path,
    fold_frames ({} without bufsan)."""
    return _query()


def _occurrences(start):
    out = []
    sys.audit("bufsan.findings", start, out)
    res = []
    for text, test, kind in out:
        f = json.loads(text)
        # the report was written when the finding was first seen; this
        # occurrence's test is the one running now
        f["test"] = test
        f["repeat"] = kind == 1
        f["expected"] = kind == 2
        if not test:
            f.pop("test")
        res.append(f)
    return res


def findings():
    """Every finding reported in this process so far, as dicts in the JSON
    Lines format of the SPEC (docs/options.md), oldest first. A finding that
    repeats an earlier one (same check and stacks) appears once per test it
    occurred in, with "repeat": true. Findings the program expected
    (expect=) have "expected": true. Empty without bufsan."""
    return _occurrences(0)


def set_test(name):
    """Names the test running now (None: none): the core's reports of
    findings until the next call carry it ("test" in JSON)."""
    sys.audit("bufsan.context", name)


def set_expected(checks):
    """Findings of these checks are expected until the next call: counted
    as suppressed (no error, no failing exit status), still listed by
    findings()."""
    sys.audit("bufsan.expect", list(checks))


class Checkpoint:
    """A mark of the exports live now and of the findings reported so far.
    leaks() reports (as leaked-export) the exports acquired since the mark
    and still held, after a garbage collection; new() returns the findings
    reported since the mark."""

    def __init__(self):
        live = []
        sys.audit("bufsan.live", live)
        self._live = frozenset(live)
        self._start = self._count()

    @staticmethod
    def _count():
        out = []
        sys.audit("bufsan.findings", 0, out)
        return len(out)

    def leaks(self):
        live = []
        sys.audit("bufsan.live", live)
        if self._live.issuperset(live):
            return 0  # nothing acquired since the mark is held: no collection needed
        gc.collect()
        out = []
        sys.audit("bufsan.checkpoint", self._live, out)
        return out[0] if out else 0

    def new(self):
        found = _occurrences(self._start)
        self._start += len(found)
        return found


class FindingsError(AssertionError):
    """bufsan reported findings inside expect_no_findings()."""

    def __init__(self, found):
        self.findings = found
        super().__init__("bufsan: %d finding%s:\n%s" % (
            len(found), "" if len(found) == 1 else "s",
            "\n".join("  " + describe(f) for f in found)))


def first_frame(finding):
    """'file:line in function' of the first stack's first Python frame
    outside the test runner (the program's call; an extension's frames come
    before it, see native_frame), else of its first frame."""
    for st in finding.get("stacks", []):
        frames = st.get("frames", [])
        for fr in frames:
            if fr.get("kind") == "python" and not _runner_frame(fr) and \
                    not fr.get("file", "").startswith("<frozen "):
                return "%s:%s in %s" % (fr["file"], fr["line"], fr["function"])
        for fr in frames[:1]:
            return "%s:%s in %s" % (fr.get("file") or fr.get("module"), fr.get("line", "?"),
                                    fr.get("function") or "??")
    return "<unknown location>"


def native_frame(finding):
    """'file:line in function' of the innermost native frame of the first
    stack (the extension code), or None."""
    for st in finding.get("stacks", [])[:1]:
        for fr in st.get("frames", []):
            if fr.get("kind") == "native":
                where = ("%s:%s" % (os.path.basename(fr["file"]), fr["line"]) if fr.get("file")
                         else os.path.basename(fr.get("module", "?")))
                return "%s in %s" % (where, fr.get("function") or "??")
    return None


def _runner_frame(frame):
    """A frame of the test runner or the import system: the core marks them
    ("runner": "pytest"), the ones its text reports fold."""
    return bool(frame.get("runner"))


def describe(finding):
    """One line: check, first frame, message."""
    return "%s: %s: %s" % (finding.get("check"), first_frame(finding), finding.get("message"))


@contextlib.contextmanager
def expect_no_findings(leaks=True):
    """Fails (FindingsError) when bufsan reports an error finding inside the
    block, or, with leaks=True, when exports acquired inside it are still
    held at its end (after gc.collect()). Without bufsan it checks nothing."""
    if not active():
        yield
        return
    cp = Checkpoint()
    yield cp
    if leaks:
        cp.leaks()
    found = [f for f in cp.new() if f.get("severity") == "error" and not f.get("expected")]
    if found:
        raise FindingsError(found)


def _package_dir():
    return os.path.dirname(os.path.abspath(__file__))


def _recorded(name):
    """A path the CMake install rules recorded in bufsan/_installed.py
    (cmake --install, the .deb), or None for a pip install or a checkout."""
    try:
        from . import _installed as rec
    except ImportError:
        return None
    path = getattr(rec, name, None)
    return os.path.join(_package_dir(), path) if path else None


def libdir():
    """The directory with libbufsan.so, the cores and bufsan-tool: $BUFSAN_LIBDIR,
    else the package's own copy (pip install), else where cmake --install or
    the .deb put them, else build/lib of the checkout the package lives in.
    None when none has them."""
    here = _package_dir()
    for d in (os.environ.get("BUFSAN_LIBDIR"), os.path.join(here, "_lib"), _recorded("LIBDIR"),
              os.path.join(here, "..", "..", "build", "lib")):
        if d and os.path.isfile(os.path.join(d, "libbufsan.so")) and \
                os.access(os.path.join(d, "bufsan-tool"), os.X_OK):
            return os.path.realpath(d)
    return None


def launcher():
    """The launcher script: the package's copy (pip install), the installed
    bin/bufsan (cmake --install, the .deb) or the checkout's scripts/bufsan."""
    here = _package_dir()
    for p in (os.path.join(here, "_lib", "bufsan"), _recorded("LAUNCHER"),
              os.path.join(here, "..", "..", "scripts", "bufsan")):
        if p and os.path.isfile(p):
            return os.path.realpath(p)
    return None


def launcher_argv(flags=(), command=()):
    """argv and environment that run COMMAND under the launcher with
    --key=value FLAGS. Raises RuntimeError when the libraries are missing."""
    lib, sh = libdir(), launcher()
    if not lib or not sh:
        raise RuntimeError("bufsan: cannot find libbufsan.so and the launcher (build the "
                           "checkout, install it, or set BUFSAN_LIBDIR)")
    env = dict(os.environ, BUFSAN_LIBDIR=lib)
    return ["/bin/sh", sh] + list(flags) + ["--"] + list(command), env
