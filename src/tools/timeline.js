// The timeline page of `bufsan report --html`, compiled into the tool and
// written inline: no network, no library. D is the embedded data (see the
// writer): processes, lanes (one per exporter), holds (export to release),
// marks (findings, with an optional `test`, a pytest nodeid), stacks (text),
// tests (the nodeids a hold's `test` indexes: the test it was acquired in).
// Findings come first: the table at the top, their lanes first in the
// timeline, the first one selected on load.
'use strict';
const D = JSON.parse(document.getElementById('data').textContent);
const $ = id => document.getElementById(id);
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

// ---- time range and units ----
let t0 = Infinity, t1 = -Infinity;
for (const p of D.processes) { t0 = Math.min(t0, p.start); t1 = Math.max(t1, p.end); }
for (const h of D.holds) { t0 = Math.min(t0, h.start); t1 = Math.max(t1, h.end); }
for (const m of D.marks) { t0 = Math.min(t0, m.t); t1 = Math.max(t1, m.t); }
if (!isFinite(t0)) { t0 = 0; t1 = 1; } else if (t1 <= t0) t1 = t0 + 1;
let v0 = t0, v1 = t1; // the visible window (zoom)
const UNITS = [[1e9, 's'], [1e6, 'ms'], [1e3, '\u00b5s'], [1, 'ns']];
function fmtTime(ns, step) {
  const ref = Math.abs(step || ns) || 1;
  const [div, unit] = UNITS.find(u => ref >= u[0]) || UNITS[3];
  const dec = Math.max(0, Math.min(6, -Math.floor(Math.log10(ref / div) + 1e-9)));
  return (ns / div).toFixed(dec) + ' ' + unit;
}
const pos = t => 100 * (t - v0) / (v1 - v0);
function place(e, start, end) {
  const a = Math.max(0, pos(start)), b = Math.min(100, pos(end));
  e.style.left = a.toFixed(4) + '%';
  e.style.width = Math.max(0, b - a).toFixed(4) + '%';
}

// ---- the data, linked ----
const stackText = i => (i >= 0 && i < D.stacks.length) ? D.stacks[i] : '<no stack>\n';
const topFrame = i => (i >= 0 && i < D.stacks.length)
  ? D.stacks[i].split('\n')[0].replace(/^#0 /, '') : 'no stack recorded';
// "0x7f.. in fn (/lib/mod.so+0x1a) /src/f.c:49" -> "fn f.c:49"; "/a/b.py:10 in f" -> "b.py:10 in f"
const base = p => p.replace(/^.*\//, '');
function shortFrame(f) {
  let m = /^0x[0-9a-f]+ in (\S+) \(([^)]*?)(?:\+0x[0-9a-f]+)?\)(?: (\S+))?$/.exec(f);
  if (m) return m[1] + ' ' + (m[3] ? base(m[3]) : '(' + base(m[2]) + ')');
  m = /^(.*):(\d+) in (.*)$/.exec(f);
  return m ? base(m[1]) + ':' + m[2] + ' in ' + m[3] : f;
}
D.tests = D.tests || [];
for (const h of D.holds) h.test = h.test >= 0 ? D.tests[h.test] : undefined;
D.lanes.forEach((l, i) => { l.i = i; l.holds = []; l.marks = []; });
D.holds.forEach((h, i) => { h.i = i; if (D.lanes[h.lane]) D.lanes[h.lane].holds.push(h); });
D.marks.forEach((m, i) => {
  m.i = i;
  if (D.lanes[m.lane]) D.lanes[m.lane].marks.push(m);
  if (!m.type) m.type = D.lanes[m.lane] ? D.lanes[m.lane].type : '';
  const acq = new Set(m.stacks.map(s => s.stack).filter(s => s >= 0));
  // the exports a finding involves: those of its exporter, and those with
  // one of its stacks that were live then or never released (grouped leaks)
  m.holds = D.holds.filter(h => h.pid === m.pid && (h.lane === m.lane ||
    (acq.has(h.acq) && (!m.type || D.lanes[h.lane].type === m.type) &&
     (h.held || (h.start <= m.t && m.t <= h.end)))));
  m.lanes = new Set(m.holds.map(h => h.lane));
  if (m.lane >= 0) m.lanes.add(m.lane);
});
D.marks.sort((a, b) => (b.severity === 'error') - (a.severity === 'error') || a.t - b.t);
for (const l of D.lanes) {
  l.acq = l.holds.length ? l.holds[0].acq : -1;
  l.first = Infinity;
  for (const h of l.holds) l.first = Math.min(l.first, h.start);
  for (const m of l.marks) l.first = Math.min(l.first, m.t);
}

// Lanes grouped by exporter type and acquiring stack (by text: stack
// indexes differ between processes).
const groupOf = new Map();
const groups = [];
for (const l of D.lanes) {
  const key = l.type + '\u0000' + (l.acq >= 0 ? D.stacks[l.acq] : '');
  let g = groupOf.get(key);
  if (!g) {
    g = { key, type: l.type, acq: l.acq, lanes: [], open: false };
    groupOf.set(key, g);
    groups.push(g);
  }
  l.group = g;
  g.lanes.push(l);
}
// Groups and lanes in the order of the first finding involving them (errors
// first, then by time), then the busiest groups.
const involved = new Set();
const laneRank = new Map();
D.marks.forEach((m, r) => {
  for (const li of m.lanes) {
    involved.add(li);
    if (!laneRank.has(li)) laneRank.set(li, r);
  }
});
const rankOf = l => laneRank.has(l.i) ? laneRank.get(l.i) : Infinity;
for (const g of groups) {
  g.nholds = g.lanes.reduce((n, l) => n + l.holds.length, 0);
  g.rank = Infinity;
  for (const l of g.lanes) g.rank = Math.min(g.rank, rankOf(l));
  g.open = isFinite(g.rank);
  g.lanes.sort((a, b) => (rankOf(a) - rankOf(b)) || a.first - b.first);
}
groups.sort((a, b) => (a.rank - b.rank) || (b.nholds - a.nholds));
if (!D.marks.length && groups.length) groups[0].open = true;

// ---- filters: type, thread, process, test ----
const F = { type: '', thread: '', pid: '', test: '' };
let testLanes = null;
// a test shows the holds acquired during it and the lanes its findings involve
const holdOk = h => (!F.type || D.lanes[h.lane].type === F.type) &&
  (!F.thread || String(h.thread) === F.thread) && (!F.pid || String(h.pid) === F.pid) &&
  (!F.test || h.test === F.test || testLanes.has(h.lane));
const markOk = m => (!F.type || m.type === F.type) &&
  (!F.thread || String(m.thread) === F.thread) && (!F.pid || String(m.pid) === F.pid) &&
  (!F.test || m.test === F.test);
function fillSelect(id, values, label) {
  const s = $(id);
  s.appendChild(el('option', '', 'all')).value = '';
  for (const [v, n] of values) s.appendChild(el('option', '', label(v) + ' (' + n + ')')).value = String(v);
  s.onchange = () => { F[id.slice(2)] = s.value; applyFilters(); };
}
function counted(items, keyf) {
  const c = new Map();
  for (const x of items) { const k = keyf(x); if (k !== undefined && k !== null && k !== '') c.set(k, (c.get(k) || 0) + 1); }
  return [...c.entries()].sort((a, b) => b[1] - a[1]);
}
fillSelect('f-type', counted(D.lanes, l => l.type), v => v);
fillSelect('f-thread', counted(D.holds, h => h.thread).sort((a, b) => a[0] - b[0]), v => 'T' + v);
fillSelect('f-pid', counted(D.holds, h => h.pid).sort((a, b) => a[0] - b[0]), v => 'pid ' + v);
// every test that acquired an export or has a finding (a clean test too)
const tests = counted(D.holds.concat(D.marks), x => x.test);
fillSelect('f-test', tests, v => v);
if (!tests.length) $('f-test-box').style.display = 'none';

// ---- summary ----
const S = $('summary');
const byCheck = {};
for (const m of D.marks) byCheck[m.check] = (byCheck[m.check] || 0) + 1;
const items = [['processes', D.processes.length], ['exporters', D.lanes.length],
  ['holds', D.holds.length], ['findings', D.marks.length],
  ['held at end', D.holds.filter(h => h.held).length]];
for (const k in byCheck) items.push([k, byCheck[k]]);
for (const [k, v] of items) {
  const s = el('span', 'count');
  s.dataset.name = k;
  s.innerHTML = '<b>' + v + '</b> ';
  s.appendChild(document.createTextNode(k));
  S.appendChild(s);
}

// ---- findings table ----
let selected = null;
function renderFindings() {
  const box = $('findings');
  box.textContent = '';
  const shown = D.marks.filter(markOk);
  $('findings-title').textContent = 'Findings (' + shown.length +
    (shown.length !== D.marks.length ? ' of ' + D.marks.length : '') + ')';
  if (!shown.length) { box.appendChild(el('div', '', D.marks.length ? 'none match the filters' : 'no findings')); return; }
  const t = el('table');
  const cols = [['check', '150px'], ['message', ''], ['exporter', '120px'], ['where', '230px'],
    ['process', '110px']];
  if (tests.length) cols.push(['test', '200px']);
  const cg = t.appendChild(el('colgroup'));
  for (const [, w] of cols) { const c = cg.appendChild(el('col')); if (w) c.style.width = w; }
  const hr = t.appendChild(el('tr'));
  for (const [c] of cols) hr.appendChild(el('th', '', c));
  const cell = (r, cls, text) => { const c = r.appendChild(el('td', cls, text)); c.title = text; return c; };
  for (const m of shown) {
    const r = el('tr', 'finding' + (m === selected ? ' selected' : ''));
    r.dataset.i = m.i;
    r.dataset.check = m.check;
    cell(r, 'sev-' + m.severity, m.check);
    cell(r, 'msg', m.message);
    cell(r, '', m.type || '-');
    cell(r, '', m.stacks.length ? shortFrame(topFrame(m.stacks[0].stack)) : '');
    cell(r, '', 'pid ' + m.pid + (m.thread >= 0 ? ' T' + m.thread : ''));
    if (tests.length) cell(r, '', m.test || '');
    r.onclick = () => selectFinding(m, true);
    t.appendChild(r);
  }
  box.appendChild(t);
}

// ---- details ----
const det = $('details');
function holdLine(h) {
  return h.kind + ' export, ' + h.flags + ', ' + h.len + ' bytes, view ' + h.view + ', pid ' +
    h.pid + ' thread T' + h.thread + ', at ' + fmtTime(h.start - t0) +
    (h.held ? ', held at end of trace' : ', held ' + fmtTime(h.end - h.start));
}
function showHold(h) {
  const l = D.lanes[h.lane];
  det.textContent = (h.held ? 'HELD AT END OF TRACE\n' : '') + holdLine(h) + '\nexporter: ' +
    (l ? l.type + ' @' + l.obj : '?') + '\nacquired at:\n' + stackText(h.acq) +
    (h.held ? '' : 'released at:\n' + stackText(h.rel));
}
function showFinding(m) {
  const l = D.lanes[m.lane];
  let s = m.check + ' [' + m.severity + ']: ' + m.message + '\n';
  s += 'process ' + m.pid + (m.thread >= 0 ? ', thread T' + m.thread : '') + ', at ' + fmtTime(m.t - t0) +
    (m.count > 1 ? ', ' + m.count + ' exports, ' + m.bytes + ' bytes' : '') + '\n';
  if (m.test) s += 'test: ' + m.test + '\n';
  s += 'exporter: ' + (l ? l.type + ' @' + l.obj : 'none') + '\n';
  for (const x of m.stacks) s += x.title + '\n' + stackText(x.stack);
  s += 'exports involved (' + m.holds.length + '):\n';
  for (const h of m.holds) s += '  ' + holdLine(h) + '\n';
  det.textContent = s;
}
function selectFinding(m, scroll) {
  selected = m;
  for (const r of document.querySelectorAll('tr.finding'))
    r.classList.toggle('selected', Number(r.dataset.i) === m.i);
  for (const li of m.lanes) D.lanes[li].group.open = true;
  showFinding(m);
  renderTimeline();
  if (scroll) {
    const row = document.querySelector('.lane.involved');
    const T = $('timeline');
    if (row && (row.offsetTop < T.scrollTop + 24 || row.offsetTop + 24 > T.scrollTop + T.clientHeight))
      T.scrollTop = Math.max(0, row.offsetTop - 70);
  }
}
$('zoom-finding').onclick = () => {
  if (!selected) return;
  let a = selected.t, b = selected.t;
  for (const h of selected.holds) { a = Math.min(a, h.start); b = Math.max(b, h.end); }
  const pad = Math.max((b - a) * 0.1, 1000);
  v0 = Math.max(t0, a - pad); v1 = Math.min(t1, b + pad);
  if (v1 <= v0) v1 = v0 + 1;
  renderTimeline();
};
$('zoom-reset').onclick = () => { v0 = t0; v1 = t1; renderTimeline(); };

// ---- timeline ----
function barFor(h, inGroup) {
  const b = el('div', 'bar ' + h.kind + (h.held ? ' held' : '') +
    (selected && selected.holds.includes(h) ? ' hit' : ''));
  place(b, h.start, h.held ? Math.max(h.end, h.start) : h.end);
  b.title = h.kind + ' ' + h.flags + ' len ' + h.len + ', ' +
    (h.held ? 'held at end' : fmtTime(h.end - h.start));
  if (!inGroup) b.onclick = ev => { ev.stopPropagation(); showHold(h); };
  return b;
}
function markFor(m) {
  const k = el('div', 'mark' + (m === selected ? ' selected' : ''));
  k.style.left = pos(m.t).toFixed(4) + '%';
  k.title = m.check + ': ' + m.message;
  k.onclick = ev => { ev.stopPropagation(); selectFinding(m, false); };
  return k;
}
const visibleInWindow = (s, e) => e >= v0 && s <= v1;
function renderAxis(T) {
  const row = el('div', 'axis');
  row.appendChild(el('div', 'label', 'time since the first process started'));
  const tr = row.appendChild(el('div', 'track'));
  const span = v1 - v0, raw = span / 8, p = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map(x => x * p).find(s => s >= raw) || 10 * p;
  for (let x = Math.ceil((v0 - t0) / step) * step; t0 + x <= v1; x += step) {
    const k = tr.appendChild(el('div', 'tick', fmtTime(x, step)));
    k.style.left = pos(t0 + x).toFixed(4) + '%';
  }
  T.appendChild(row);
}
function renderTimeline() {
  const T = $('timeline');
  const keep = T.scrollTop;
  T.textContent = '';
  renderAxis(T);
  let nlanes = 0;
  for (const g of groups) {
    const lanes = g.lanes.map(l => ({ l, holds: l.holds.filter(holdOk), marks: l.marks.filter(markOk) }))
      .filter(x => x.holds.length || x.marks.length);
    if (!lanes.length) continue;
    const nmarks = lanes.reduce((n, x) => n + x.marks.length, 0);
    const nholds = lanes.reduce((n, x) => n + x.holds.length, 0);
    const head = el('div', 'group' + (nmarks ? ' has-findings' : ''));
    head.dataset.type = g.type;
    const lab = head.appendChild(el('div', 'label',
      (g.open ? '\u25be ' : '\u25b8 ') + g.type + ' \u2190 ' + shortFrame(topFrame(g.acq)) + '  [' + lanes.length +
      ' exporter' + (lanes.length > 1 ? 's' : '') + ', ' + nholds + ' hold' + (nholds !== 1 ? 's' : '') +
      (nmarks ? ', ' + nmarks + ' finding' + (nmarks > 1 ? 's' : '') : '') + ']'));
    lab.title = g.type + ' acquired at:\n' + stackText(g.acq);
    const gt = head.appendChild(el('div', 'track'));
    if (!g.open) {
      for (const x of lanes) {
        for (const h of x.holds) if (visibleInWindow(h.start, h.end)) gt.appendChild(barFor(h, true));
        for (const m of x.marks) gt.appendChild(markFor(m));
      }
    }
    head.onclick = () => { g.open = !g.open; renderTimeline(); };
    T.appendChild(head);
    if (!g.open) continue;
    for (const x of lanes) {
      const l = x.l;
      const row = el('div', 'lane' + (selected && selected.lanes.has(l.i) ? ' involved' : ''));
      row.dataset.lane = l.i;
      const ll = row.appendChild(el('div', 'label', 'pid ' + l.pid + ' ' + l.type + ' @' + l.obj));
      ll.title = ll.textContent;
      const tr = row.appendChild(el('div', 'track'));
      for (const h of x.holds) if (visibleInWindow(h.start, h.end)) tr.appendChild(barFor(h, false));
      for (const m of x.marks) if (m.t >= v0 && m.t <= v1) tr.appendChild(markFor(m));
      T.appendChild(row);
      nlanes++;
    }
  }
  T.scrollTop = keep;
  $('timeline-title').textContent = 'Exporters by type and acquiring stack (' + nlanes + ' lanes shown' +
    (v0 > t0 || v1 < t1 ? ', zoomed to ' + fmtTime(v0 - t0, (v1 - v0) / 8) + ' \u2013 ' + fmtTime(v1 - t0, (v1 - v0) / 8) : '') + ')';
}
function applyFilters() {
  testLanes = null;
  if (F.test) {
    testLanes = new Set();
    for (const m of D.marks) if (m.test === F.test) for (const li of m.lanes) testLanes.add(li);
  }
  if (selected && !markOk(selected)) selected = null;
  renderFindings();
  renderTimeline();
}

renderFindings();
const first = D.marks[0];
if (first) selectFinding(first, true); else renderTimeline();

// #selftest: click the first finding and the first bar, note what showed
if (location.hash === '#selftest') {
  const r = {};
  const f = document.querySelector('tr.finding');
  if (f) { f.click(); r.mark = det.textContent; }
  const b = document.querySelector('.lane .bar');
  if (b) { b.click(); r.bar = det.textContent; }
  if (f) f.click();
  document.body.setAttribute('data-selftest', JSON.stringify(r));
}
