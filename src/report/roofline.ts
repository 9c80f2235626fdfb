/**
 * The page `coar bench --profile --html` (and `coar bench compare --html`) writes: every
 * kernel of a profiled pass as a point (arithmetic intensity, achieved GFLOP/s) under the
 * adapter's measured ceilings (the copy bandwidth's slope up to the ridge point, the GEMM
 * ceiling after it, log-log), coloured by kernel kind; the time per kernel as bars; and,
 * given a second profile, the time ratio of every kernel. Same look and same rules as the
 * run report (html.ts): one self-contained file, inline SVG, no scripts.
 */
import * as Plot from '@observablehq/plot';
import { writeFileAtomic } from '../io/atomic.js';
import type { Comparison } from '../models/profile_compare.js';
import type { KernelKind, KernelProfile } from '../models/profile.js';
import type { ProfileFile } from '../models/profile_file.js';
import { esc, htmlDocument } from './html.js';
import { svg } from './plots.js';

export interface RooflinePageData {
  profile: ProfileFile;
  /** what the profile is called on the page (its file name) */
  name: string;
  /** with `coar bench compare`: the other profile (A; `profile` is B) and the comparison */
  compare?: { base: ProfileFile; comparison: Comparison };
}

const KIND_COLORS: Record<KernelKind, string> = {
  conv: '#2f6db3', gemm: '#d1603d', attention: '#b08a2e', layernorm: '#7a5ea8', pool: '#4f9a76',
  tokens: '#3b9bb0', copy: '#a0677a', mask: '#9aa3ae', margin: '#5d6673', other: '#7a8594',
};
const INK = '#1d232b';
const MUTED = '#7a8594';
const kindColor = (k: KernelKind) => KIND_COLORS[k] ?? KIND_COLORS.other;

/** A kernel on the roofline: it needs FLOPs and bytes (mask expansion and margin have no FLOPs counted). */
export function plotted(k: KernelProfile): boolean {
  return k.flops > 0 && k.bytes > 0 && k.seconds > 0;
}

export function writeRooflinePage(path: string, data: RooflinePageData): void {
  writeFileAtomic(path, [Buffer.from(renderRooflinePage(data), 'utf8')]);
}

export function renderRooflinePage(d: RooflinePageData): string {
  const p = d.profile;
  const title = `Kernel roofline: ${p.arch} ${p.size}×${p.size}`;
  const sections = [
    { id: 'roofline', heading: 'Roofline', body: rooflineSection(d) },
    { id: 'time', heading: 'Time per kernel', body: timeSection(p) },
    ...(d.compare ? [{ id: 'compare', heading: 'Compared with another profile', body: compareSection(d.compare.comparison) }] : []),
    { id: 'kernels', heading: 'Every kernel', body: kernelTable(p) },
  ];
  return htmlDocument(title, `<header>
<h1>${esc(title)}</h1>
<p class="sub">One batched ablated forward pass, ${p.masks} masks × ${p.examples} example${p.examples === 1 ? '' : 's'}, every kernel timed on its own (${esc(p.profile.method)} timing, best of ${p.repeats}). Profile: <code>${esc(d.name)}</code>, measured ${esc(p.date)}.</p>
<div class="facts">
<div class="card"><h3>Adapter</h3><p><code class="wrap">${esc(p.adapter)}</code></p></div>
<div class="card"><h3>Ceilings</h3><dl>
<dt>GEMM (f32)</dt><dd>${num(p.ceiling.gemm.gflops)} GFLOP/s</dd>
<dt>copy</dt><dd>${num(p.ceiling.copy.gbps)} GB/s</dd>
<dt>ridge point</dt><dd>${num(ridge(p))} FLOP/B</dd>
</dl><p class="small muted">GEMM ${p.ceiling.gemm.size}³, tile ${esc(p.ceiling.gemm.tile)}; copy of ${p.ceiling.copy.mib} MiB</p></div>
<div class="card"><h3>Model</h3><dl>
<dt>architecture</dt><dd>${esc(p.arch)}</dd>
<dt>input</dt><dd>${p.size}×${p.size}</dd>
<dt>precision</dt><dd>${esc(p.precision)}</dd>
<dt>per pass</dt><dd>${num(p.flopsPerPass / 1e6)} MFLOP</dd>
</dl></div>
<div class="card"><h3>End to end</h3><dl>
<dt>passes / s</dt><dd>${num(p.passesPerSecond)}</dd>
<dt>of ceiling</dt><dd>${(p.ofCeiling * 100).toFixed(1)}%</dd>
<dt>kernel time</dt><dd>${num(p.profile.total.seconds * 1e3)} ms</dd>
</dl><p class="small muted">a pass: one example through the model under one mask</p></div>
</div>
</header>
<nav>${sections.map((s) => `<a href="#${s.id}">${s.heading}</a>`).join('')}</nav>
${sections.map((s) => `<section id="${s.id}">\n<h2>${s.heading}</h2>\n${s.body}\n</section>`).join('\n')}
<footer>Written by webcoar (<code>coar bench</code>). This file is self-contained: no scripts, fonts or network resources.</footer>
`);
}

const ridge = (p: ProfileFile) => p.ceiling.gemm.gflops / p.ceiling.copy.gbps;

interface Point { label: string; kind: KernelKind; intensity: number; gflops: number; ms: number; kernel: string; profile: string }

function points(p: ProfileFile, profile: string): Point[] {
  return p.profile.kernels.filter(plotted).map((k) => ({
    label: k.label, kind: k.kind, intensity: k.flops / k.bytes, gflops: k.gflops, ms: k.seconds * 1e3, kernel: k.kernel, profile,
  }));
}

/** The roof: bandwidth x intensity up to the ridge, the GEMM ceiling after it. */
function roof(p: ProfileFile, lo: number, hi: number): { copy: [number, number][]; compute: [number, number][]; ridge: number } {
  const r = ridge(p), g = p.ceiling.gemm.gflops, c = p.ceiling.copy.gbps;
  return { copy: [[lo, c * lo], [r, g]], compute: [[r, g], [hi, g]], ridge: r };
}

function rooflinePlot(d: RooflinePageData): string {
  const p = d.profile;
  const pts = points(p, 'B');
  const base = d.compare ? points(d.compare.base, 'A') : [];
  const all = [...pts, ...base];
  const profiles = [p, ...(d.compare ? [d.compare.base] : [])];
  const xs = [...all.map((q) => q.intensity), ...profiles.map(ridge)];
  const ys = [...all.map((q) => q.gflops), ...profiles.map((q) => q.ceiling.gemm.gflops)];
  const lo = Math.min(...xs) / 3, hi = Math.max(...xs) * 3;
  const ylo = Math.min(...ys, ...profiles.map((q) => q.ceiling.copy.gbps * lo)) / 2, yhi = Math.max(...ys) * 2.5;
  const title = (q: Point) => `${q.label} (${q.kernel}): ${num(q.intensity)} FLOP/byte, ${num(q.gflops)} GFLOP/s, ${num(q.ms)} ms`;
  const marks: Plot.Markish[] = [];
  if (d.compare) {
    const r = roof(d.compare.base, lo, hi);
    marks.push(
      Plot.line(r.copy, { stroke: MUTED, strokeWidth: 1.5, strokeDasharray: '5,4', className: 'ceiling-copy-a' }),
      Plot.line(r.compute, { stroke: MUTED, strokeWidth: 1.5, strokeDasharray: '5,4', className: 'ceiling-compute-a' }),
    );
  }
  const r = roof(p, lo, hi);
  marks.push(
    Plot.line(r.copy, { stroke: INK, strokeWidth: 2, className: 'ceiling-copy', ariaDescription: 'copy ceiling' }),
    Plot.line(r.compute, { stroke: INK, strokeWidth: 2, className: 'ceiling-compute', ariaDescription: 'compute ceiling' }),
    Plot.ruleX([r.ridge], { stroke: MUTED, strokeDasharray: '2,3', className: 'ridge-rule' }),
    Plot.dot([[r.ridge, p.ceiling.gemm.gflops]], { r: 4, fill: INK, className: 'ridge', ariaDescription: 'ridge point' }),
    Plot.text([[r.ridge, p.ceiling.gemm.gflops]], { text: () => `ridge ${num(r.ridge)} FLOP/B`, dy: -10, textAnchor: 'end', dx: -4, fill: INK }),
    Plot.text([[hi, p.ceiling.gemm.gflops]], { text: () => `GEMM ceiling ${num(p.ceiling.gemm.gflops)} GFLOP/s`, dy: -8, textAnchor: 'end', fill: INK }),
    Plot.text([r.copy[0]!], { text: () => `copy ${num(p.ceiling.copy.gbps)} GB/s`, dy: -10, dx: 6, textAnchor: 'start', fill: INK }),
  );
  if (base.length) {
    marks.push(Plot.dot(base, { x: 'intensity', y: 'gflops', r: 5, stroke: (q: Point) => kindColor(q.kind), strokeWidth: 1.5, fill: 'none', className: 'kernel-points-a', ariaLabel: (q: Point) => `A ${q.label}`, title: (q: Point) => `A: ${title(q)}` }));
  }
  marks.push(Plot.dot(pts, { x: 'intensity', y: 'gflops', r: 5, fill: (q: Point) => kindColor(q.kind), fillOpacity: 0.85, stroke: '#fff', strokeWidth: 0.8, className: 'kernel-points', ariaLabel: (q: Point) => q.label, title }));
  return svg({
    width: 1000, height: 520, marginLeft: 60, marginBottom: 44, marginRight: 24, marginTop: 24,
    x: { type: 'log', domain: [lo, hi], label: 'arithmetic intensity (FLOP per byte moved)', labelAnchor: 'center', labelArrow: 'none', grid: true, tickFormat: logTick },
    y: { type: 'log', domain: [ylo, yhi], label: 'achieved GFLOP/s', labelAnchor: 'center', labelArrow: 'none', grid: true, tickFormat: logTick },
    marks,
  });
}

function legend(kinds: Iterable<KernelKind>): string {
  return `<p class="legend">${[...new Set(kinds)].map((k) => `<span class="swatch" style="background:${kindColor(k)}"></span>${esc(k)}`).join(' ')}</p>`;
}

function rooflineSection(d: RooflinePageData): string {
  const p = d.profile;
  const shown = p.profile.kernels.filter(plotted);
  const left = p.profile.kernels.filter((k) => !plotted(k)).map((k) => k.label);
  const cmp = d.compare ? ' Filled points are profile B, rings profile A, whose ceilings are dashed (the two profiles are named in the comparison below).' : '';
  return `${legend(shown.map((k) => k.kind))}
<figure class="wide">${rooflinePlot(d)}</figure>
<p class="note">One point per kernel (${shown.length} of them): horizontally, its FLOPs over the least bytes it must move (read its inputs and weights once, write its output once), from the kernel's shape; vertically, the FLOPs it did per second. The solid line is the roof on this adapter: up to the ridge point a kernel cannot beat the copy bandwidth times its intensity, after it the best GEMM that WGSL reaches here. The distance below the roof is what a better kernel could still gain.${cmp}${left.length ? ` Not on the roofline (no FLOPs counted): ${left.map(esc).join(', ')}.` : ''}</p>`;
}

function timeSection(p: ProfileFile): string {
  const ks = p.profile.kernels;
  const bars = ks.map((k, i) => ({ label: `${i + 1}. ${k.label}`, ms: k.seconds * 1e3, kind: k.kind, kernel: k.kernel }));
  const width = 1000;
  const marginLeft = Math.min(420, Math.max(...bars.map((b) => b.label.length)) * 6.3 + 12);
  const plot = svg({
    width, height: 34 + 19 * Math.max(1, bars.length), marginLeft, marginRight: 90, marginTop: 4, marginBottom: 30,
    x: { label: 'device time (ms, best of the repeats)', labelAnchor: 'center', labelArrow: 'none', grid: true, nice: true },
    y: { domain: bars.map((b) => b.label), label: null, tickSize: 0 },
    marks: [
      Plot.barX(bars, { x: 'ms', y: 'label', fill: (b: (typeof bars)[number]) => kindColor(b.kind), insetTop: 2, insetBottom: 2, className: 'time-bars', title: (b: (typeof bars)[number]) => `${b.label} (${b.kernel}): ${num(b.ms)} ms` }),
      Plot.text(bars, { x: 'ms', y: 'label', text: (b: (typeof bars)[number]) => `${num(b.ms)} ms`, textAnchor: 'start', dx: 4, fill: INK }),
      Plot.ruleX([0], { stroke: INK }),
    ],
  });
  return `${legend(ks.map((k) => k.kind))}
<figure class="wide">${plot}</figure>
<p class="note">The kernels in the order the pass runs them, each timed in its own compute pass between two timestamp queries; the total is ${num(p.profile.total.seconds * 1e3)} ms.</p>`;
}

function compareSection(c: Comparison): string {
  const rows = c.rows.map((r) => `<tr><td><code>${esc(r.label)}</code></td><td><span class="swatch" style="background:${kindColor(r.kind)}"></span>${esc(r.kind)}</td>`
    + `<td><code>${esc(r.a?.kernel ?? '–')}</code></td><td><code>${esc(r.b?.kernel ?? '–')}</code></td>`
    + `<td class="num">${r.a ? num(r.a.seconds * 1e3) : '–'}</td><td class="num">${r.b ? num(r.b.seconds * 1e3) : '–'}</td>`
    + `<td class="num ratio">${r.ratio !== undefined ? `${r.ratio.toFixed(2)}×` : '–'}</td></tr>`).join('\n');
  const matched = c.rows.filter((r) => r.ratio !== undefined && r.ratio > 0 && Number.isFinite(r.ratio));
  const rs = matched.map((r) => r.ratio!);
  const lo = Math.min(0.5, ...rs) / 1.3, hi = Math.max(2, ...rs) * 1.3;
  const marginLeft = Math.min(420, Math.max(...matched.map((r) => r.label.length), 4) * 6.3 + 12);
  const plot = matched.length ? svg({
    width: 1000, height: 34 + 19 * matched.length, marginLeft, marginRight: 70, marginTop: 4, marginBottom: 30,
    x: { type: 'log', domain: [lo, hi], label: 'time B / time A (log; left of 1: B is faster)', labelAnchor: 'center', labelArrow: 'none', grid: true, tickFormat: logTick },
    y: { domain: matched.map((r) => r.label), label: null, tickSize: 0 },
    marks: [
      Plot.barX(matched, { x1: 1, x2: 'ratio', y: 'label', fill: (r: (typeof matched)[number]) => kindColor(r.kind), insetTop: 2, insetBottom: 2, className: 'ratio-bars' }),
      Plot.text(matched.filter((r) => r.ratio! >= 1), { x: 'ratio', y: 'label', text: (r: (typeof matched)[number]) => `${r.ratio!.toFixed(2)}×`, textAnchor: 'start', dx: 4, fill: INK }),
      Plot.text(matched.filter((r) => r.ratio! < 1), { x: 'ratio', y: 'label', text: (r: (typeof matched)[number]) => `${r.ratio!.toFixed(2)}×`, textAnchor: 'end', dx: -4, fill: INK }),
      Plot.ruleX([1], { stroke: INK }),
    ],
  }) : '<p class="muted">No kernel is in both profiles.</p>';
  return `<p>A: <code>${esc(c.a)}</code><br>B: <code>${esc(c.b)}</code></p>
<figure class="wide">${plot}</figure>
<table class="compare"><thead><tr><th>op</th><th>kind</th><th>A kernel</th><th>B kernel</th><th class="num">A ms</th><th class="num">B ms</th><th class="num">B / A</th></tr></thead>
<tbody>
${rows}
</tbody>
<tfoot><tr><td colspan="4">total over the kernels in both</td><td class="num">${num(c.matched.a * 1e3)}</td><td class="num">${num(c.matched.b * 1e3)}</td><td class="num">${c.matched.ratio.toFixed(2)}×</td></tr></tfoot></table>
<p class="note">Kernels are matched by their op's name. A ratio below 1 means the kernel took less time in B. The kernel column shows each dispatch's kernel and tile, so a change of tile between the two profiles is visible.</p>`;
}

function shapeText(k: KernelProfile): string {
  const s = k.shape;
  if (!s) return '–';
  if (k.kind === 'conv') return `${s.h}×${s.w}×${s.cin} → ${s.oh}×${s.ow}×${s.cout}, ${s.kh}×${s.kw}/${s.stride}`;
  if (k.kind === 'gemm') return `m ${s.m} · n ${s.n} · k ${s.k}`;
  if (k.kind === 'pool') return `${s.h}×${s.w}×${s.c} → ${s.oh}×${s.ow}, ${s.k}×${s.k}/${s.stride}`;
  return Object.entries(s).map(([a, v]) => `${a} ${v}`).join(' · ');
}

function kernelTable(p: ProfileFile): string {
  const rows = p.profile.kernels.map((k, i) => `<tr><td class="num muted">${i + 1}</td><td><code>${esc(k.label)}</code></td>`
    + `<td><span class="swatch" style="background:${kindColor(k.kind)}"></span>${esc(k.kind)}</td><td><code>${esc(k.kernel)}</code></td><td>${esc(shapeText(k))}</td>`
    + `<td class="num">${num(k.seconds * 1e3)}</td><td class="num">${num(k.flops / 1e6)}</td><td class="num">${num(k.bytes / 1e6)}</td>`
    + `<td class="num">${plotted(k) ? num(k.flops / k.bytes) : '–'}</td><td class="num">${num(k.gflops)}</td><td class="num">${num(k.gbps)}</td>`
    + `<td>${esc(k.bound ?? '–')}</td><td class="num">${k.ofCeiling === undefined ? '–' : `${(k.ofCeiling * 100).toFixed(0)}%`}</td></tr>`).join('\n');
  const T = p.profile.total;
  return `<style>table.kernels td, table.compare td { white-space: nowrap; } table.kernels { font-size: 13px; } table.kernels td, table.kernels th { padding: 4px 7px; }</style>
<div style="overflow-x:auto"><table class="kernels"><thead><tr><th class="num">#</th><th>op</th><th>kind</th><th>kernel (tile)</th><th>shape (per item)</th><th class="num">ms</th><th class="num">MFLOP</th><th class="num">MB</th><th class="num">FLOP/B</th><th class="num">GFLOP/s</th><th class="num">GB/s</th><th>bound</th><th class="num">% ceiling</th></tr></thead>
<tbody>
${rows}
</tbody>
<tfoot><tr><td></td><td>total</td><td></td><td></td><td></td><td class="num">${num(T.seconds * 1e3)}</td><td class="num">${num(T.flops / 1e6)}</td><td class="num">${num(T.bytes / 1e6)}</td><td></td><td class="num">${num(T.flops / T.seconds / 1e9)}</td><td class="num">${num(T.bytes / T.seconds / 1e9)}</td><td></td><td></td></tr></tfoot></table></div>
<p class="note">FLOPs count 2 per multiply-add over every item the kernel computes (${p.profile.items} items; the first conv computes once per example and writes every item). Bytes are the least the kernel must move: its inputs read once per computed item, its output written once per item, its weights read once. The bound is whichever ceiling limits the kernel at its intensity; % ceiling is the roofline time over the measured time.</p>`;
}

/** Log-axis ticks: only the powers of ten and their 2 and 5 multiples are labelled, in plain numbers. */
function logTick(v: number): string {
  const m = v / 10 ** Math.floor(Math.log10(v) + 1e-9);
  return [1, 2, 5].some((x) => Math.abs(m - x) < 1e-6) ? num(v) : '';
}

/** Three significant digits, no exponent for the sizes on this page. */
function num(v: number): string {
  if (!Number.isFinite(v)) return '–';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toLocaleString('en-US');
  if (a >= 1e-3) return String(Number(v.toPrecision(3)));
  return v.toExponential(2);
}
