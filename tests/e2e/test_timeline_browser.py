"""The HTML timeline of examples/demo.py in a real browser (headless
Chromium over the DevTools protocol): the findings come first, a click on a
finding fills the details pane, the axis has units, the filters filter;
the test filter on the trace of a real pytest session (one leaky, one
clean test).
Exit 77 (skipped) without chromium.

    test_timeline_browser.py BUILD_DIR SOURCE_DIR PYTHON OUT_DIR
"""
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cdp  # noqa: E402

failures = []

SUITE = '''\
import _bufsan_testext as ext


def test_clean():
    assert ext.acquire_release(bytearray(b"abcd")) == 4


def test_leaky():
    ext.leak(bytearray(b"abcdefgh"))
'''
CLEAN = "tests/test_codec.py::test_clean"
LEAKY = "tests/test_codec.py::test_leaky"


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)
    return cond


def pytest_session_page(build, src, python, out):
    """The timeline of a trace of SUITE run by pytest under the launcher
    (the plugin names each test to the core, the trace records it)."""
    build, src, out = (os.path.realpath(a) for a in (build, src, out))
    work = tempfile.mkdtemp(prefix="pytest-", dir=out)
    os.makedirs(os.path.join(work, "tests"))
    with open(os.path.join(work, "tests", "test_codec.py"), "w") as f:
        f.write(SUITE)
    with open(os.path.join(work, "pytest.ini"), "w") as f:
        f.write("[pytest]\n")  # the rootdir, not the checkout the build dir is in
    env = dict(os.environ, PYTHONPATH=os.path.join(build, "tests", "ext"))
    launcher = os.path.join(src, "scripts", "bufsan")
    run = subprocess.run([launcher, "--trace=" + os.path.join(work, "t"), python, "-m", "pytest",
                          "-q", "-p", "no:cacheprovider", "tests"],
                         cwd=work, env=env, capture_output=True, text=True, timeout=300)
    if not check("1 failed, 1 passed" in run.stdout, "the session fails the leaky test only"):
        print(run.stdout[-2000:] + run.stderr[-2000:])
        return None
    traces = [os.path.join(work, n) for n in os.listdir(work) if n.startswith("t.")]
    page = os.path.join(out, "timeline-tests.html")
    subprocess.run([launcher, "report", "--html=" + page] + traces, capture_output=True,
                   text=True, timeout=120)
    return page if os.path.exists(page) else None


def pick_test(b, nodeid):
    b.eval("(() => { const s = document.getElementById('f-test'); s.value = %s;"
           " s.dispatchEvent(new Event('change')); })()" % json.dumps(nodeid))


def main():
    build, src, python, out = sys.argv[1:5]
    if not cdp.find_chromium():
        print("SKIP: no chromium (scripts/install-deps installs it)")
        return 77
    os.makedirs(out, exist_ok=True)
    tdir = tempfile.mkdtemp(prefix="trace-", dir=out)
    env = dict(os.environ, PYTHONPATH=os.path.join(build, "examples"))
    run = subprocess.run([os.path.join(src, "scripts", "bufsan"), "--trace=" + os.path.join(tdir, "t"),
                          python, os.path.join(src, "examples", "demo.py")],
                         env=env, capture_output=True, text=True, timeout=120)
    check(run.returncode == 66, "demo under bufsan exits 66 (got %d)" % run.returncode)
    traces = [os.path.join(tdir, f) for f in os.listdir(tdir)]
    page = os.path.join(out, "timeline.html")
    rep = subprocess.run([os.path.join(src, "scripts", "bufsan"), "report", "--html=" + page] + traces,
                         capture_output=True, text=True, timeout=120)
    if not check(os.path.exists(page), "report --html wrote the page (%s)" % rep.stderr[-500:]):
        return 1
    html = open(page, encoding="utf-8").read()
    check(not re.search(r"https?://|<link|<script src|<img", html), "the page is self-contained")

    b = cdp.Browser()
    try:
        b.load("file://" + page)
        rows = b.eval("[...document.querySelectorAll('tr.finding')].map(r => r.dataset.check)")
        check(rows == ["release-decrefs-obj", "leaked-export", "leaked-export"],
              "findings table lists the demo's 3 findings, errors by time: %r" % rows)
        first_block = b.eval("document.getElementById('findings').getBoundingClientRect().top <"
                             " document.getElementById('timeline').getBoundingClientRect().top")
        check(first_block, "the findings come before the timeline")
        det = b.eval("document.getElementById('details').textContent")
        check(det.startswith("release-decrefs-obj [error]") and "exports involved (1)" in det,
              "the first finding is selected on load: %r" % det[:120])
        lane = b.eval("(() => { const l = document.querySelector('#timeline .lane');"
                      " return [l.className, l.textContent]; })()")
        check("involved" in lane[0] and "checksum.Block" in lane[1],
              "the first lane is the exporter of the first finding: %r" % lane)
        ticks = b.eval("[...document.querySelectorAll('.axis .tick')].map(t => t.textContent)")
        check(len(ticks) >= 3 and all(re.fullmatch(r"\d+(\.\d+)? (ns|\u00b5s|ms|s)", t) for t in ticks),
              "time axis ticks carry units: %r" % ticks)
        groups = b.eval("document.querySelectorAll('#timeline .group').length")
        open_lanes = b.eval("document.querySelectorAll('#timeline .lane').length")
        check(groups >= 4 and open_lanes <= 8,
              "lanes grouped (%d groups), only the findings' groups open (%d lanes)" % (groups, open_lanes))

        # a real click on the second finding
        b.click("tr.finding:nth-of-type(3)")
        det = b.eval("document.getElementById('details').textContent")
        check(det.startswith("leaked-export [error]: 1 export of bytearray") and
              "acquired by thread T0 with PyBUF_SIMPLE at:\n#0 " in det and "demo.py:10 in total" in det,
              "clicking the bytearray leak shows its stacks: %r" % det[:200])
        sel = b.eval("[...document.querySelectorAll('tr.finding.selected')].map(r => r.textContent)")
        check(len(sel) == 1 and "bytearray" in sel[0], "the clicked row is selected: %r" % sel)
        hits = b.eval("[...document.querySelectorAll('.lane .bar.hit')].map(e => e.closest('.lane').textContent)")
        check(len(hits) == 1 and "bytearray" in hits[0], "its export is highlighted: %r" % hits)

        # a click on a bar shows the hold
        b.click(".lane.involved .bar")
        det = b.eval("document.getElementById('details').textContent")
        check("acquired at:\n#0 " in det and "export, PyBUF_SIMPLE" in det, "clicking a bar: %r" % det[:160])

        # the release-decrefs-obj finding: its export lasts microseconds
        b.click("tr.finding:nth-of-type(2)")
        b.click("#zoom-finding")
        title = b.eval("document.getElementById('timeline-title').textContent")
        ticks = b.eval("[...document.querySelectorAll('.axis .tick')].map(t => t.textContent)")
        check("zoomed" in title and any(t.endswith("\u00b5s") or t.endswith(" ns") for t in ticks),
              "zoom to the finding: %r, ticks %r" % (title, ticks))
        b.click("#zoom-reset")

        # filters
        b.eval("(() => { const s = document.getElementById('f-type'); s.value = 'bytes';"
               " s.dispatchEvent(new Event('change')); })()")
        rows = b.eval("[...document.querySelectorAll('tr.finding')].map(r => r.textContent)")
        types = b.eval("[...document.querySelectorAll('#timeline .group')].map(g => g.dataset.type)")
        check(len(rows) == 1 and "bytes" in rows[0] and set(types) == {"bytes"},
              "type filter: %d findings, groups %r" % (len(rows), types))
        b.eval("(() => { const s = document.getElementById('f-type'); s.value = '';"
               " s.dispatchEvent(new Event('change')); })()")
        threads = b.eval("[...document.getElementById('f-thread').options].map(o => o.value)")
        pids = b.eval("[...document.getElementById('f-pid').options].map(o => o.value)")
        check(threads == ["", "0"] and len(pids) == 2, "thread and process filters: %r %r" % (threads, pids))
        hidden = b.eval("getComputedStyle(document.getElementById('f-test-box')).display")
        check(hidden == "none", "no test filter when no finding names a test")

        b.eval("(() => { const s = document.getElementById('f-type'); s.value = '';"
               " s.dispatchEvent(new Event('change')); })()")
        b.load("file://" + page)  # the first finding selected, as it opens
        b.screenshot(os.path.join(out, "timeline.png"))
        print("page %s, screenshot %s" % (page, os.path.join(out, "timeline.png")))

        # the test filter, on the trace of a real pytest session (the plugin's
        # test records): one leaky test with a C consumer, one clean
        tests_page = pytest_session_page(build, src, python, out)
        if check(tests_page is not None, "a pytest session's trace made a page"):
            b.load("file://" + tests_page)
            tests = b.eval("[...document.getElementById('f-test').options].map(o => o.value)")
            shown = b.eval("getComputedStyle(document.getElementById('f-test-box')).display")
            check(shown != "none" and sorted(tests) == ["", CLEAN, LEAKY],
                  "test filter shown (%s) with both nodeids: %r" % (shown, tests))
            rows = b.eval("[...document.querySelectorAll('tr.finding')].map(r => [r.dataset.check,"
                          " r.lastChild.textContent])")
            check([r for r in rows if r[0] == "leaked-export"] == [["leaked-export", LEAKY]],
                  "the leak's row names the leaky test: %r" % rows)
            pick_test(b, LEAKY)
            rows = b.eval("[...document.querySelectorAll('tr.finding')].map(r => r.dataset.check)")
            bars = b.eval("document.querySelectorAll('#timeline .bar').length")
            check(rows == ["leaked-export"] and bars >= 1,
                  "filtered to the leaky test: findings %r, %d bars" % (rows, bars))
            pick_test(b, CLEAN)
            rows = b.eval("[...document.querySelectorAll('tr.finding')].map(r => r.dataset.check)")
            title = b.eval("document.getElementById('findings-title').textContent")
            lanes = b.eval("[...document.querySelectorAll('#timeline .group')].map(g => g.textContent)")
            check(rows == [] and "Findings (0 of" in title,
                  "filtered to the clean test, the leak's finding is hidden: %r, %r" % (rows, title))
            # a lane group is named by its acquiring stack's innermost frame:
            # the test extension's function each test calls
            check(any("in test_clean" in l or "testext_acquire_release" in l for l in lanes) and
                  not any("test_leaky" in l or "testext_leak_buffer" in l for l in lanes),
                  "the clean test's holds are shown, the leak's are not: %r" % lanes[:5])
    finally:
        b.close()
    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    print("timeline in the browser OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
