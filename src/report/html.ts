/**
 * The HTML report of `coar run`: one self-contained file (inline CSS, inline SVG, no
 * scripts, fonts, images or network references) that opens from disk. It shows how
 * well the attributions predict ablated margins (REFERENCE.md, "Evaluation") and which
 * components carry them.
 */
import { writeFileAtomic } from '../io/atomic.js';
import { correlationHistograms, marginScatter, massBars, NEGATIVE, POSITIVE, signedBars, type CorrelationRow } from './plots.js';
import { finiteValues, mean, median, shortName, summarizeAttributions, topByMagnitude, wholeMatrix, type AttributionBlocks, type AttributionSummary } from './stats.js';

export interface ReportData {
  title: string;                       // e.g. "COAR on fashion-cnn"
  model: { arch: string; weights: string; weightsSha256: string; components: number };
  sweep: { alpha: number; masks: number; examples: number; seed: number; passesPerSecond?: number };
  fit: { method: string; seconds?: number };
  /** component table, in order: name like `layer.0.conv1.weight[3]`, layer like `layer.0.conv1` */
  components: { name: string; layer: string }[];
  /**
   * attributions [components x examples], row-major: attributions[j * n + i], held whole or
   * handed by blocks of rows (a file larger than memory: coar report reads it in blocks)
   */
  attributions: Float32Array | AttributionBlocks;
  bias: Float32Array;                  // [examples]
  examples: { index: number; label: number; className: string }[];  // n entries
  classNames: string[];
  /** evaluation at several alphas (fresh masks) */
  eval: {
    alpha: number;
    pearson: Float32Array;             // per example
    spearman: Float32Array;            // per example
    /** for a few examples (e.g. up to 4): true and predicted margins over the eval masks */
    scatter: { example: number; trueMargin: Float32Array; predicted: Float32Array }[];
  }[];
  stages: { name: string; seconds: number }[];   // timing by stage
  extra?: { heading: string; html: string }[];   // optional extra sections (raw HTML, trusted)
}

/** How many components the per-example and per-class rankings list. */
const TOP = 10;
/** At most this many per-class charts. */
const MAX_CLASSES = 20;

export function writeReport(path: string, data: ReportData): void {
  writeFileAtomic(path, [Buffer.from(renderReport(data), 'utf8')]);
}

export function renderReport(data: ReportData): string {
  validate(data);
  const trainingEval = data.eval.find((e) => sameAlpha(e.alpha, data.sweep.alpha) && e.scatter.length > 0)
    ?? data.eval.find((e) => e.scatter.length > 0);
  // one pass over the attributions, for the examples and classes the sections show
  const n = data.examples.length;
  const labels = data.examples.map((e) => e.label);
  const summary = summarizeAttributions(
    data.attributions instanceof Float32Array ? wholeMatrix(data.attributions) : data.attributions, data.components.length, n,
    { examples: shownExamples(data, trainingEval), labels, classes: shownClasses(data), layers: data.components.map((c) => c.layer), k: TOP });
  const sections: Section[] = [
    { id: 'quality', heading: 'How well attributions predict margins', body: qualitySection(data) },
    { id: 'scatter', heading: 'Predicted vs true margins', body: scatterSection(data, trainingEval) },
    { id: 'correlations', heading: 'Per-example correlations', body: histogramSection(data) },
    { id: 'examples', heading: 'Top components per example', body: exampleSection(data, trainingEval, summary) },
    { id: 'classes', heading: 'Top components per class', body: classSection(data, summary) },
    { id: 'layers', heading: 'Attribution mass per layer', body: layerSection(data, summary) },
    ...(data.extra ?? []).map((x, k) => ({ id: `extra-${k}`, heading: esc(x.heading), body: x.html })),
  ];
  return htmlDocument(data.title, `${header(data)}
<nav>${sections.map((s) => `<a href="#${s.id}">${s.heading}</a>`).join('')}</nav>
${sections.map((s) => `<section id="${s.id}">\n<h2>${s.heading}</h2>\n${s.body}\n</section>`).join('\n')}
<footer>Written by webcoar. This file is self-contained: no scripts, fonts or network resources.</footer>
`);
}

/** A complete, self-contained page: the project's style sheet, a title and the body of <main> (trusted HTML). */
export function htmlDocument(title: string, main: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
${main}</main>
</body>
</html>
`;
}

interface Section { id: string; heading: string; body: string }

function validate(d: ReportData): void {
  const n = d.examples.length, c = d.components.length;
  const problems: string[] = [];
  if (d.attributions instanceof Float32Array && d.attributions.length !== c * n) problems.push(`attributions has ${d.attributions.length} values, expected ${c} components x ${n} examples = ${c * n}`);
  if (d.bias.length !== n) problems.push(`bias has ${d.bias.length} values, expected ${n} (one per example)`);
  for (const e of d.eval) {
    if (e.pearson.length !== n || e.spearman.length !== n) problems.push(`eval at alpha ${e.alpha} has ${e.pearson.length} Pearson and ${e.spearman.length} Spearman values, expected ${n} each`);
    for (const s of e.scatter) {
      if (!(Number.isInteger(s.example) && s.example >= 0 && s.example < n)) problems.push(`scatter example ${s.example} at alpha ${e.alpha} is not an example position in 0..${n - 1}`);
      if (s.trueMargin.length !== s.predicted.length) problems.push(`scatter example ${s.example} at alpha ${e.alpha} has ${s.trueMargin.length} true and ${s.predicted.length} predicted margins`);
    }
  }
  if (problems.length) throw new Error(`report data is inconsistent: ${problems.join('; ')}`);
}

// ---------------------------------------------------------------- sections

function header(d: ReportData): string {
  const n = d.examples.length;
  const at = d.eval.find((e) => sameAlpha(e.alpha, d.sweep.alpha));
  let lede = '';
  if (at) {
    const p = finiteValues(at.pearson), s = finiteValues(at.spearman);
    lede = `<p class="lede">At the sweep's ablation fraction α = ${pct(d.sweep.alpha)}, the attributions predict the margins of the ablated model on fresh masks with a mean Pearson correlation of <b>${corr(mean(p))}</b> (Spearman <b>${corr(mean(s))}</b>) over ${n} example${n === 1 ? '' : 's'}.</p>`;
  }
  const total = d.stages.reduce((a, s) => a + s.seconds, 0);
  const stageRows = d.stages.map((s) => {
    const share = total > 0 ? s.seconds / total : 0;
    return `<tr><td>${esc(s.name)}</td><td class="num">${seconds(s.seconds)}</td><td class="share"><span class="bar" style="width:${(share * 100).toFixed(1)}%"></span><span>${(share * 100).toFixed(0)}%</span></td></tr>`;
  }).join('');
  return `<header>
<h1>${esc(d.title)}</h1>
<p class="sub">Component attributions (COAR): for each example, a linear model that predicts the example's margin from which components an ablation mask keeps.</p>
${lede}
<div class="facts">
<div class="card"><h3>Model</h3><dl>
<dt>architecture</dt><dd>${esc(d.model.arch)}</dd>
<dt>components</dt><dd>${int(d.model.components)}</dd>
<dt>weights</dt><dd><code class="wrap">${esc(d.model.weights)}</code></dd>
<dt>SHA-256</dt><dd><code class="wrap">${esc(d.model.weightsSha256)}</code></dd>
</dl></div>
<div class="card"><h3>Sweep</h3><dl>
<dt>ablation α</dt><dd>${pct(d.sweep.alpha)}</dd>
<dt>masks m</dt><dd>${int(d.sweep.masks)}</dd>
<dt>examples n</dt><dd>${int(d.sweep.examples)}</dd>
<dt>seed</dt><dd>${int(d.sweep.seed)}</dd>
${d.sweep.passesPerSecond !== undefined ? `<dt>passes / s</dt><dd>${rate(d.sweep.passesPerSecond)}</dd>` : ''}
</dl>${d.sweep.passesPerSecond !== undefined ? '<p class="small muted">a pass: one example through the model under one mask</p>' : ''}</div>
<div class="card"><h3>Fit</h3><dl>
<dt>method</dt><dd>${esc(d.fit.method)}</dd>
${d.fit.seconds !== undefined ? `<dt>time</dt><dd>${seconds(d.fit.seconds)}</dd>` : ''}
<dt>attributions</dt><dd>${int(d.components.length)} × ${int(n)}</dd>
</dl></div>
<div class="card"><h3>Time by stage</h3>
${d.stages.length ? `<table class="stages"><thead><tr><th>stage</th><th class="num">time</th><th>share</th></tr></thead><tbody>${stageRows}</tbody><tfoot><tr><td>total</td><td class="num">${seconds(total)}</td><td></td></tr></tfoot></table>` : '<p class="muted">No timings recorded.</p>'}
</div>
</div>
</header>`;
}

function qualitySection(d: ReportData): string {
  if (!d.eval.length) return '<p class="muted">No evaluation was run.</p>';
  const n = d.examples.length;
  const rows = [...d.eval].sort((a, b) => a.alpha - b.alpha).map((e) => {
    const p = finiteValues(e.pearson), s = finiteValues(e.spearman);
    const undefinedCount = n - Math.min(p.length, s.length);
    const training = sameAlpha(e.alpha, d.sweep.alpha);
    return `<tr${training ? ' class="training"' : ''}><td>${pct(e.alpha)}${training ? ' <span class="tag">sweep α</span>' : ''}</td>`
      + `<td class="num">${n}${undefinedCount ? ` <span class="muted">(${undefinedCount} undefined)</span>` : ''}</td>`
      + `<td class="num">${corr(mean(p))}</td><td class="num">${corr(median(p))}</td>`
      + `<td class="num">${corr(mean(s))}</td><td class="num">${corr(median(s))}</td></tr>`;
  }).join('\n');
  return `<table class="summary">
<thead><tr><th rowspan="2">evaluation α</th><th rowspan="2" class="num">examples</th><th colspan="2" class="group">Pearson</th><th colspan="2" class="group">Spearman</th></tr>
<tr><th class="num">mean</th><th class="num">median</th><th class="num">mean</th><th class="num">median</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
<p class="note">For each α, fresh ablation masks (independent of the sweep's masks) drop each component with probability α. For every example, the true margin of the ablated model (logit of the true class minus the largest other logit) is compared with the margin the attributions predict (the sum of the attributions of the kept components plus the example's bias), and the correlation is taken across masks. The table gives the mean and median over examples. Pearson measures linear agreement, as in the reference code; Spearman, a rank correlation (the LDS of Karchmer's post), measures whether the masks are put in the right order. A correlation is undefined when an example's margin does not vary across masks.</p>`;
}

function scatterSection(d: ReportData, e: ReportData['eval'][number] | undefined): string {
  if (!e) return '<p class="muted">No margins were recorded for a scatter plot.</p>';
  const cells = e.scatter.map((s) => {
    const ex = d.examples[s.example]!;
    return `<figure class="cell">
<figcaption><b>${exampleName(ex)}</b><br><span class="muted">Pearson ${corr(e.pearson[s.example]!)} · Spearman ${corr(e.spearman[s.example]!)}</span></figcaption>
${marginScatter(s.trueMargin, s.predicted)}
</figure>`;
  }).join('\n');
  return `<div class="cells">
${cells}
</div>
<p class="note">Each point is one of the ${[...new Set(e.scatter.map((s) => s.trueMargin.length))].join(' / ')} fresh ablation masks at α = ${pct(e.alpha)}. Horizontal: the margin the ablated model actually gives the example; vertical: the margin predicted from the component attributions (sum over the components the mask keeps, plus the bias). Points on the dashed line y = x are predicted exactly; the spread around it is what the correlations above summarise.</p>`;
}

function histogramSection(d: ReportData): string {
  if (!d.eval.length) return '<p class="muted">No evaluation was run.</p>';
  const evals = [...d.eval].sort((a, b) => a.alpha - b.alpha);
  const alphaLabel = (a: number) => `α = ${pct(a)}${sameAlpha(a, d.sweep.alpha) ? ' (sweep)' : ''}`;
  const rows: CorrelationRow[] = [];
  for (const e of evals) {
    for (const r of finiteValues(e.pearson)) rows.push({ metric: 'Pearson', alpha: alphaLabel(e.alpha), r });
    for (const r of finiteValues(e.spearman)) rows.push({ metric: 'Spearman', alpha: alphaLabel(e.alpha), r });
  }
  return `<figure class="wide">${correlationHistograms(rows, ['Pearson', 'Spearman'], evals.map((e) => alphaLabel(e.alpha)))}</figure>
<p class="note">One count per example: the correlation, across the evaluation masks, between the example's true and predicted margins. Columns: Pearson and Spearman; rows: the ablation fraction α of the evaluation masks (the attributions were fitted on masks at α = ${pct(d.sweep.alpha)}). The vertical line marks the mean over examples. Mass near 1 means the linear model in the component mask explains that example's margin well.</p>`;
}

/** The examples whose top components are listed: those of the scatter plot, else the first four. */
function shownExamples(d: ReportData, e: ReportData['eval'][number] | undefined): number[] {
  const n = d.examples.length;
  const shown = e ? e.scatter.map((s) => s.example) : [];
  if (!shown.length && n > 0) shown.push(...Array.from({ length: Math.min(4, n) }, (_, i) => i));
  return shown;
}

/** The classes charted: many classes (ImageNet), the best-represented ones, in label order. */
function shownClasses(d: ReportData): number[] {
  const counts = classCounts(d);
  return [...counts.keys()].sort((a, b) => counts.get(b)! - counts.get(a)! || a - b).slice(0, MAX_CLASSES).sort((a, b) => a - b);
}

function classCounts(d: ReportData): Map<number, number> {
  const counts = new Map<number, number>();
  for (const e of d.examples) counts.set(e.label, (counts.get(e.label) ?? 0) + 1);
  return counts;
}

function exampleSection(d: ReportData, e: ReportData['eval'][number] | undefined, summary: AttributionSummary): string {
  const shown = shownExamples(d, e);
  if (!shown.length) return '<p class="muted">No examples.</p>';
  const cards = shown.map((i) => {
    const ex = d.examples[i]!;
    const top = summary.top.get(i)!;
    const rows = top.map((t, r) => `<tr><td class="num muted">${r + 1}</td><td><code>${esc(d.components[t.component]!.name)}</code></td><td class="num ${t.value >= 0 ? 'pos' : 'neg'}">${value(t.value)}</td></tr>`).join('');
    return `<div class="card example">
<h3>${exampleName(ex)} <span class="muted">· bias ${value(d.bias[i]!)}</span></h3>
<div class="pair">
<table class="top"><thead><tr><th class="num">#</th><th>component</th><th class="num">attribution</th></tr></thead><tbody>${rows}</tbody></table>
<figure>${signedBars(top.map((t) => ({ label: shortName(d.components[t.component]!.name), value: t.value })), value, 480)}</figure>
</div>
</div>`;
  }).join('\n');
  return `${signLegend()}
${cards}
<p class="note">The ${TOP} components with the largest |attribution| for each example above. A mask marks components as kept, so a <span class="pos">positive</span> attribution means ablating the component lowers the example's margin (the component supports the correct class), and a <span class="neg">negative</span> one means ablating it raises the margin. Attributions are in margin units: in the linear model, ablating a component changes the predicted margin by minus its attribution. The bias is the linear model's intercept, its prediction for a mask that ablates every component, far from any mask it was fitted on: only the bias plus the attributions of the kept components reads as a margin.</p>`;
}

function classSection(d: ReportData, summary: AttributionSummary): string {
  const counts = classCounts(d);
  const shown = shownClasses(d);
  const means = summary.classMeans;
  const className = (c: number) => d.classNames[c] ?? `class ${c}`;
  const cells = shown.map((c) => {
    const m = means.get(c)!;
    const top = topByMagnitude(m.length, (j) => m[j]!, TOP);
    const k = counts.get(c)!;
    return `<figure class="card class">
<figcaption><b>${esc(className(c))}</b> <span class="muted">· label ${c} · ${k} example${k === 1 ? '' : 's'}</span></figcaption>
${signedBars(top.map((t) => ({ label: shortName(d.components[t.component]!.name), value: t.value })), value, 500)}
</figure>`;
  });
  const absent = d.classNames.map((_, c) => c).filter((c) => !counts.has(c));
  const notes: string[] = [];
  if (counts.size > shown.length) notes.push(`Showing the ${shown.length} classes with the most examples, of ${counts.size} classes with examples.`);
  if (absent.length) {
    notes.push(absent.length <= 12
      ? `No examples of: ${absent.map((c) => esc(className(c))).join(', ')}.`
      : `No examples of ${absent.length} of the ${d.classNames.length} classes.`);
  }
  return `${signLegend()}
<div class="classes">
${cells.join('\n')}
</div>
${notes.length ? `<p class="muted">${notes.join(' ')}</p>` : ''}
<p class="note">For each class, the mean attribution of every component over that class's examples, and the ${TOP} components with the largest mean |attribution|. A <span class="pos">positive</span> mean means ablating the component lowers the margin of that class's examples on average (the component helps the model recognise the class); a <span class="neg">negative</span> mean means ablating it raises their margin on average. These are the components COAR-Edit would ablate to lower or raise that class's margins.</p>`;
}

function layerSection(d: ReportData, summary: AttributionSummary): string {
  const masses = summary.layers;
  if (!masses.length) return '<p class="muted">No components.</p>';
  const bars = masses.map((m) => ({ label: shortName(m.layer), value: m.mass, note: `${int(m.components)} component${m.components === 1 ? '' : 's'}` }));
  return `<figure class="wide">${massBars(bars, value)}</figure>
<p class="note">For each layer, in model order: the sum over its components of |attribution|, averaged over the ${d.examples.length} examples. It shows where in the network ablating components moves the margins. A layer with many components can gather a large total from many small attributions, so each bar notes its component count.</p>`;
}

function signLegend(): string {
  return `<p class="legend"><span class="swatch" style="background:${POSITIVE}"></span>positive: ablating lowers the margin <span class="swatch" style="background:${NEGATIVE}"></span>negative: ablating raises the margin</p>`;
}

// ---------------------------------------------------------------- formatting

/** Escape text for HTML element content and double-quoted attribute values. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function exampleName(ex: ReportData['examples'][number]): string {
  return `Example #${ex.index} · ${esc(ex.className)}`;
}

function sameAlpha(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
}

function minus(s: string): string {
  return s.replace(/^-/, '\u2212');
}

/** α as a percentage: 0.05 -> "5%", 0.025 -> "2.5%". */
function pct(a: number): string {
  return Number.isFinite(a) ? `${Number((a * 100).toPrecision(4))}%` : '–';
}

function corr(r: number): string {
  return Number.isFinite(r) ? minus(r.toFixed(3)) : '–';
}

/** An attribution, bias or mass: three significant digits, exponent when very small or large. */
function value(v: number): string {
  if (!Number.isFinite(v)) return '–';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e-3 && a < 1e5) return minus(String(Number(v.toPrecision(3))));
  return minus(v.toExponential(2).replace(/\.?0+e/, 'e').replace('e+', 'e'));
}

function int(v: number): string {
  return Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '–';
}

function seconds(s: number): string {
  if (!Number.isFinite(s)) return '–';
  if (s < 10) return `${s.toFixed(2)} s`;
  if (s < 100) return `${s.toFixed(1)} s`;
  if (s < 6000) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

function rate(r: number): string {
  if (!Number.isFinite(r)) return '–';
  return r >= 100 ? int(r) : String(Number(r.toPrecision(3)));
}

/** The report's style sheet, shared by the pages src/report writes. */
export const CSS = `
:root { --ink: #1d232b; --muted: #66717f; --line: #e3e7ec; --page: #f5f6f8; --card: #fff; --pos: ${POSITIVE}; --neg: ${NEGATIVE}; }
* { box-sizing: border-box; }
html { background: var(--page); }
body { margin: 0; color: var(--ink); font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 28px 24px 48px; }
h1 { font-size: 26px; line-height: 1.2; margin: 0 0 6px; }
h2 { font-size: 19px; margin: 0 0 14px; }
h3 { font-size: 14px; margin: 0 0 8px; }
p { margin: 8px 0; }
.sub { color: var(--muted); margin: 0 0 10px; }
.lede { font-size: 15.5px; margin: 10px 0 16px; }
.muted { color: var(--muted); font-weight: normal; }
code { font-family: ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12px; }
code.wrap { word-break: break-all; }
.facts { display: grid; grid-template-columns: minmax(0, 1.75fr) minmax(0, 1fr) minmax(0, 1fr) minmax(0, 1.2fr); gap: 14px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 3px 12px; margin: 0; }
dt { color: var(--muted); }
dd { margin: 0; min-width: 0; font-variant-numeric: tabular-nums; white-space: nowrap; }
dd code.wrap { white-space: normal; }
nav { display: flex; flex-wrap: wrap; gap: 6px 18px; margin: 22px 0 0; padding: 10px 0; border-top: 1px solid var(--line); border-bottom: 1px solid var(--line); }
nav a { color: var(--pos); text-decoration: none; }
nav a:hover { text-decoration: underline; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 20px 24px; margin: 22px 0; }
section .card { border-color: var(--line); }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { font-weight: 600; color: var(--muted); font-size: 12.5px; }
th.group { text-align: center; border-bottom-color: var(--muted); }
.num { text-align: right; white-space: nowrap; }
tfoot td { font-weight: 600; border-bottom: none; }
table.summary td, table.summary th { padding: 5px 16px; }
tr.training td { background: #f0f5fc; }
.tag { display: inline-block; font-size: 11px; color: var(--pos); border: 1px solid #bcd0ea; border-radius: 4px; padding: 0 5px; margin-left: 4px; }
table.stages { width: 100%; }
table.stages td, table.stages th { padding: 3px 6px; }
td.share { width: 45%; white-space: nowrap; }
td.share .bar { display: inline-block; height: 9px; background: #9db8dc; border-radius: 2px; margin-right: 6px; vertical-align: middle; }
.note { color: #3c4552; max-width: 82ch; font-size: 13.5px; margin-top: 14px; }
figure { margin: 0; }
figure svg { display: block; max-width: 100%; height: auto; }
figure.wide svg { margin: 0 auto; }
.cells { display: grid; grid-template-columns: repeat(auto-fill, minmax(236px, 1fr)); gap: 12px; }
.cell figcaption { font-size: 13px; margin-bottom: 4px; }
.example { margin: 12px 0; }
.pair { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 480px); gap: 18px; align-items: start; }
table.top td, table.top th { padding: 2px 8px; font-size: 12.5px; }
table.top code { overflow-wrap: anywhere; }
.classes { display: grid; grid-template-columns: repeat(auto-fill, minmax(460px, 1fr)); gap: 12px; }
.class figcaption { font-size: 13px; margin-bottom: 4px; }
.pos { color: var(--pos); }
.neg { color: var(--neg); }
.small { font-size: 12px; margin: 6px 0 0; }
.legend { font-size: 13px; color: var(--muted); }
.swatch { display: inline-block; width: 11px; height: 11px; border-radius: 2px; vertical-align: -1px; margin: 0 5px 0 0; }
.legend .swatch:not(:first-child) { margin-left: 16px; }
footer { color: var(--muted); font-size: 12px; text-align: center; margin-top: 28px; }
@media (max-width: 860px) { .facts { grid-template-columns: 1fr 1fr; } .pair { grid-template-columns: 1fr; } .classes { grid-template-columns: 1fr; } }
@media print { html { background: #fff; } section { break-inside: avoid-page; border: none; padding: 0; } }
`;
