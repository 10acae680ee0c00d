"""The HTML timeline of examples/demo.py in a real browser (headless
Chromium over the DevTools protocol): the findings come first, a click on a
finding fills the details pane, the axis has units, the filters filter.
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


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)
    return cond


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

        # findings that carry a pytest nodeid (`test`) can be filtered by it
        tagged = html.replace('"check": "leaked-export"',
                              '"test": "tests/test_demo.py::test_leak", "check": "leaked-export"')
        tpage = os.path.join(out, "timeline-tests.html")
        with open(tpage, "w", encoding="utf-8") as f:
            f.write(tagged)
        b.load("file://" + tpage)
        tests = b.eval("[...document.getElementById('f-test').options].map(o => o.value)")
        check(tests == ["", "tests/test_demo.py::test_leak"], "test filter offers the nodeids: %r" % tests)
        b.eval("(() => { const s = document.getElementById('f-test'); s.value = s.options[1].value;"
               " s.dispatchEvent(new Event('change')); })()")
        rows = b.eval("[...document.querySelectorAll('tr.finding')].map(r => r.dataset.check)")
        lanes = b.eval("[...document.querySelectorAll('#timeline .group')].map(g => g.dataset.type)")
        check(rows == ["leaked-export", "leaked-export"] and sorted(lanes) == ["bytearray", "bytes"],
              "test filter: findings %r, groups %r" % (rows, lanes))
    finally:
        b.close()
    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    print("timeline in the browser OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
