"""pytest plugin: ``pytest --bufsan`` runs the session under bufsan and
gives each test the verdict of the findings made while it ran.

- Not started with the preload, the session re-executes itself under the
  launcher (``python3 -m bufsan run python3 -m pytest ARGS``) before any
  test runs: the core must be loaded before the interpreter starts.
- Started under bufsan already (``bufsan python3 -m pytest``), the plugin
  is on without --bufsan; ``-p no:bufsan`` turns it off (the entry point's
  name).
- Each test is named to the core (findings carry ``"test": nodeid``); a
  finding of severity error during a test's setup, call or teardown fails
  that phase with the finding's first frame in the message.
- After the call phase, ``gc.collect()`` and a checkpoint: the exports the
  test acquired during its call and still holds are reported as
  ``leaked-export`` and fail it.
- ``@pytest.mark.bufsan(expect="leaked-export")``: the test must produce
  that finding (it is then counted as suppressed, not an error);
  ``skip="check"``: findings of that check are ignored for the test.
- A terminal section lists the findings per test; with pytest-xdist the
  workers' findings travel in their reports to the controller's summary.
See docs/pytest.md.
"""
import json
import os
import sys

import pytest

import bufsan

REEXEC_ENV = "BUFSAN_PYTEST_REEXEC"
PROPERTY = "bufsan"


def pytest_addoption(parser):
    group = parser.getgroup("bufsan", "buffer-protocol sanitizer")
    group.addoption("--bufsan", action="store_true", default=None,
                    help="run the session under bufsan (re-executes pytest under the "
                         "launcher when not already preloaded); findings fail their test")
    group.addoption("--bufsan-options", default=None, metavar="KEY=VALUE[:KEY=VALUE...]",
                    help="bufsan options (BUFSAN_OPTIONS syntax), applied when pytest "
                         "re-executes itself under the launcher")
    group.addoption("--bufsan-report", default=None, metavar="PATH",
                    help="file for the full reports of the findings (default: the "
                         "bufsan_report ini value, bufsan-report.txt in the rootdir)")
    parser.addini("bufsan", type="bool", default=False, help="run under bufsan (as --bufsan)")
    parser.addini("bufsan_options", default="", help="bufsan options (as --bufsan-options)")
    parser.addini("bufsan_report", default="bufsan-report.txt",
                  help="file for the full reports of the findings (relative to rootdir)")


# The config whose session the plugin runs in this process: a pytest run
# inside a test (pytester's in-process runs) is not checked again unless
# it asks with --bufsan, or it would rename the outer test to the core.
_running = None


def _enabled(config):
    """--bufsan, the bufsan ini key, or "auto": the process was started
    under bufsan (the launcher, LD_PRELOAD) and no session of this process
    runs the plugin yet."""
    opt = config.getoption("bufsan")
    if opt or config.getini("bufsan"):
        return True
    if _running is None and bufsan.active():
        return "auto"
    return False


def _options(config):
    return config.getoption("bufsan_options") or config.getini("bufsan_options") or ""


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "bufsan(expect=None, skip=None): bufsan checks this test expects "
                   "(they must fire; not errors) or ignores (a name or a list of names)")
    enabled = _enabled(config)
    if not enabled:
        return
    if not bufsan.active():
        if os.environ.get(REEXEC_ENV):
            raise pytest.UsageError(
                "bufsan: pytest was re-executed under the launcher but the bufsan core is "
                "not active in it (see the warning above; an interpreter without a core?)")
        _reexec(config)
    elif _options(config) and not os.environ.get(REEXEC_ENV):
        # already preloaded by the user: the core read its options at start
        config.issue_config_time_warning(pytest.PytestConfigWarning(
            "bufsan: --bufsan-options/bufsan_options ignored: the process was started under "
            "bufsan already (set them on the launcher or in BUFSAN_OPTIONS)"), stacklevel=2)
    global _running
    _running = config
    config.pluginmanager.register(BufsanSession(config, enabled == "auto"), "bufsan-session")


def pytest_unconfigure(config):
    global _running
    if _running is config:
        _running = None


def _reexec(config):
    """Replaces this process by the same pytest command under the launcher."""
    args = list(config.invocation_params.args)
    if list(sys.argv[1:]) != args:
        raise pytest.UsageError(
            "bufsan: --bufsan re-executes pytest's command line, but pytest was started "
            "through pytest.main(); run the program under the launcher instead "
            "(python3 -m bufsan run ...)")
    env_opts = os.environ.get("BUFSAN_OPTIONS", "")
    extra = _options(config)
    try:
        argv, env = bufsan.launcher_argv((), [sys.executable, "-m", "pytest"] + args)
    except RuntimeError as e:
        raise pytest.UsageError(str(e))
    if extra:
        env["BUFSAN_OPTIONS"] = env_opts + (":" if env_opts else "") + extra
    env[REEXEC_ENV] = "1"
    capman = config.pluginmanager.getplugin("capturemanager")
    if capman is not None:
        capman.stop_global_capturing()
    sys.stdout.flush()
    sys.stderr.flush()
    os.chdir(str(config.invocation_params.dir))
    os.execve(argv[0], argv, env)


def _names(value, what):
    if value is None:
        return []
    names = [value] if isinstance(value, str) else list(value)
    for n in names:
        if n not in bufsan.CHECKS:
            raise pytest.UsageError("bufsan marker: %s=%r: unknown check (expected one of %s)"
                                    % (what, n, ", ".join(bufsan.CHECKS)))
    return names


def _marker(item):
    expect, skip = [], []
    for m in item.iter_markers("bufsan"):
        expect += _names(m.kwargs.get("expect"), "expect")
        skip += _names(m.kwargs.get("skip"), "skip")
    return expect, skip


def _message(found):
    lines = []
    for f in found:
        lines.append("bufsan: %s: %s" % (f.get("check"), f.get("message")))
        lines.append("  at %s" % bufsan.first_frame(f))
        nat = bufsan.native_frame(f)
        if nat:
            lines.append("  native: %s" % nat)
    return "\n".join(lines)


def _longrepr(text, where):
    """TEXT as a failure's longrepr that pytest's short summary (-r) can
    quote: its first line becomes "FAILED nodeid - bufsan: check: message".
    A plain string has no reprcrash, so pytest would print the nodeid
    alone. Built from pytest's own repr classes (those of pytest.fail(...,
    pytrace=False)), which pytest-xdist serializes from worker to
    controller; the plain string if they ever move."""
    try:
        from _pytest._code.code import (ReprEntry, ReprExceptionInfo, ReprFileLocation,
                                        ReprTraceback)
        path, lineno = where
        entry = ReprEntry(lines=text.split("\n"), reprfuncargs=None, reprlocals=None,
                          reprfileloc=None, style="value")
        return ReprExceptionInfo(
            reprtraceback=ReprTraceback(reprentries=[entry], extraline=None, style="value"),
            reprcrash=ReprFileLocation(path=path, lineno=lineno, message=text.split("\n", 1)[0]))
    except (ImportError, TypeError):
        return text


def _where(item, found):
    """File and line of the first finding's first frame outside the runner,
    else the test's own."""
    for f in found:
        for st in f.get("stacks", []):
            for fr in st.get("frames", []):
                if fr.get("kind") == "python" and not bufsan._runner_frame(fr) and \
                        not fr.get("file", "").startswith("<frozen "):
                    return fr["file"], fr["line"]
    path, lineno, _ = item.location
    return os.path.join(str(item.config.rootpath), path), (lineno or 0) + 1


def _fail(rep, text, where):
    if rep.passed:
        rep.outcome = "failed"
        rep.longrepr = _longrepr(text, where)
    else:
        rep.sections.append(("bufsan", text))


class BufsanSession:
    """Per-process state: the occurrences read so far, the current test's
    expectations and mark."""

    def __init__(self, config, auto=False):
        self.config = config
        self.auto = auto
        self.read_from = 0
        self.mark = None
        self.expect = []
        self.skip = []
        self.expected_seen = set()
        self.results = []      # (nodeid, finding) for the summary (controller)
        self.is_worker = hasattr(config, "workerinput")

    def _new(self):
        found = bufsan._occurrences(self.read_from)
        self.read_from += len(found)
        return found

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_protocol(self, item, nextitem):
        self._between_tests()
        self.expect, self.skip = _marker(item)
        self.expected_seen = set()
        self.mark = None
        bufsan.set_test(item.nodeid)
        bufsan.set_expected(self.expect + self.skip)
        try:
            yield
        finally:
            bufsan.set_test(None)
            bufsan.set_expected([])

    # trylast: inside the capture plugin's wrapper, so the core's report of
    # a leak goes to the test's captured stderr, shown with its failure
    @pytest.hookimpl(hookwrapper=True, trylast=True)
    def pytest_runtest_call(self, item):
        self.mark = bufsan.Checkpoint()
        try:
            yield
        finally:
            self.mark.leaks()
            self.mark = None

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        rep = outcome.get_result()
        found = [f for f in self._new() if f.get("check") not in self.skip]
        for f in found:
            if f.get("expected"):
                self.expected_seen.add(f.get("check"))
            rep.user_properties.append((PROPERTY, json.dumps(f)))
        errors = [f for f in found if f.get("severity") == "error" and not f.get("expected")]
        if errors:
            _fail(rep, _message(errors), _where(item, errors))
        if call.when == "call":
            missing = [c for c in self.expect if c not in self.expected_seen]
            if missing:
                _fail(rep, "bufsan: expected %s, bufsan reported none during the test"
                      % ", ".join(missing), _where(item, []))

    def pytest_report_header(self, config):
        if self.auto:
            return "bufsan: on, the process runs under bufsan (-p no:bufsan turns the plugin off)"
        return None

    def pytest_runtest_logreport(self, report):
        for name, value in getattr(report, "user_properties", ()):
            if name == PROPERTY:
                f = json.loads(value)
                self.results.append((report.nodeid, report.when, f))

    def _between_tests(self):
        """Findings made outside any test (collection, module imports,
        session fixtures): listed under <session> by the controller; a
        worker's stay in its own report and the launcher's verdict."""
        for f in self._new():
            if not self.is_worker:
                self.results.append(("<session>", "session", f))

    def pytest_sessionfinish(self, session):
        self._between_tests()

    def _report_path(self):
        p = self.config.getoption("bufsan_report") or self.config.getini("bufsan_report")
        return os.path.join(str(self.config.rootpath), p)

    def pytest_terminal_summary(self, terminalreporter):
        if self.is_worker:
            return
        tr = terminalreporter
        tr.section("bufsan")
        errors = [(n, w, f) for n, w, f in self.results
                  if f.get("severity") == "error" and not f.get("expected")]
        expected = [r for r in self.results if r[2].get("expected")]
        width = max([len(n) for n, _, _ in self.results] + [10])
        for nodeid, when, f in self.results:
            nat = bufsan.native_frame(f)
            where = nat or bufsan.first_frame(f)
            line = "%-*s  %s  %s" % (width, nodeid, f.get("check"), where)
            if nat:
                line += "  (%s at %s)" % ("acquired" if f.get("check") == "leaked-export"
                                          else "called", _short(bufsan.first_frame(f)))
            if f.get("expected"):
                line += "  [expected]"
            elif when != "call" and nodeid != "<session>":
                line += "  [%s]" % when
            tr.write_line(line)
        path = self._report_path()
        try:
            with open(path, "w") as out:
                fold = bufsan.info().get("fold_frames", True)
                for nodeid, when, f in self.results:
                    out.write(render(f, nodeid, when, fold))
            where = "full reports: %s" % os.path.relpath(path)
        except OSError as e:
            where = "cannot write %s: %s" % (path, e.strerror)
        tests = {n for n, _, _ in errors}
        tr.write_line("%d error%s in %d test%s, %d expected; %s" % (
            len(errors), "" if len(errors) == 1 else "s", len(tests),
            "" if len(tests) == 1 else "s", len(expected), where))


def _short(location):
    path, _, rest = location.partition(":")
    return os.path.basename(path) + ":" + rest.split(" in ")[0] if rest else location


def render(f, nodeid, when, fold=True):
    """A finding as text, like the core's report; with FOLD (the core's
    fold_frames) runner frames folded."""
    out = ["%s: bufsan: %s: %s" % ("EXPECTED" if f.get("expected") else
                                   "ERROR" if f.get("severity") == "error" else "WARNING",
                                   f.get("check"), f.get("message")),
           "  during test %s (%s)" % (nodeid, when)]
    for st in f.get("stacks", []):
        out.append("  %s stack (thread T%s):" % (st.get("role"), st.get("thread")))
        frames = st.get("frames", [])
        i = 0
        while i < len(frames):
            fr = frames[i]
            j = i
            while fold and j < len(frames) and bufsan._runner_frame(frames[j]):
                j += 1
            if j - i >= 2:
                out.append("    ... %d frames of the test runner and import system ..." % (j - i))
                i = j
                continue
            if fr.get("kind") == "python":
                out.append("    #%d %s:%s in %s" % (i, fr["file"], fr["line"], fr["function"]))
            else:
                out.append("    #%d %s in %s (%s+%s)%s" % (
                    i, fr.get("pc"), fr.get("function") or "??", fr.get("module"),
                    fr.get("offset"), " %s:%s" % (fr["file"], fr["line"]) if fr.get("file") else ""))
            i += 1
    out.append("SUMMARY: bufsan: %s %s" % (f.get("check"), bufsan.first_frame(f)))
    return "\n".join(out) + "\n\n"
