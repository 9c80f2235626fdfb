/**
 * COAR-Edit in the report: for each edit, accuracy before and after on the target,
 * reference and validation sets, the ablated components by name with their scores, and
 * the validation curve that chose k. `editSection` is a report section (ReportData.extra
 * takes it); `editPage` is a self-contained page in the report's style (no scripts).
 */
import * as Plot from '@observablehq/plot';
import { esc, htmlDocument } from './html.js';
import { NEGATIVE, POSITIVE, svg } from './plots.js';
import type { SetScore } from '../coar/edit.js';
import type { EditRecord } from '../coar/edit_record.js';

export type { EditRecord, SetScore };

const SET_NAMES: Record<string, string> = {
  target: 'target (attributed)', reference: 'reference (attributed)',
  valTarget: 'validation target', valReference: 'validation reference',
};

const pct = (a: number) => (Number.isFinite(a) ? `${(100 * a).toFixed(2)}%` : '–');
const points = (d: number) => (Number.isFinite(d) ? `${d > 0 ? '+' : d < 0 ? '\u2212' : '±'}${Math.abs(100 * d).toFixed(2)}` : '–');
const num = (v: number) => (Number.isFinite(v) ? String(Number(v.toPrecision(3))).replace(/^-/, '\u2212') : v > 0 ? '+∞' : v < 0 ? '\u2212∞' : '–');

/** Validation accuracy of the target and reference sets against k, the chosen k marked. */
export function curvePlot(r: EditRecord, width = 520): string {
  const rows = r.curve.flatMap((p) => [
    { k: p.k, set: 'validation target', accuracy: 100 * p.valTarget.accuracy },
    { k: p.k, set: 'validation reference', accuracy: 100 * p.valReference.accuracy },
  ]);
  const floor = 100 * r.curve[0]!.valReference.accuracy - r.maxDrop;
  return svg({
    width, height: 230, marginLeft: 44, marginRight: 16, marginTop: 14, marginBottom: 36,
    x: { label: 'components ablated (k)', labelAnchor: 'center', labelArrow: 'none', grid: true, ticks: Math.min(10, r.curve.length) },
    y: { label: 'accuracy (%)', labelArrow: 'none', grid: true, domain: [0, 100] },
    color: { domain: ['validation target', 'validation reference'], range: [NEGATIVE, POSITIVE], legend: true },
    marks: [
      Plot.ruleY([floor], { stroke: POSITIVE, strokeDasharray: '4,3', strokeOpacity: 0.7 }),
      Plot.ruleX([r.chosen.k], { stroke: '#1d232b', strokeWidth: 1.2 }),
      Plot.line(rows, { x: 'k', y: 'accuracy', stroke: 'set', strokeWidth: 1.6 }),
      Plot.dot(rows, { x: 'k', y: 'accuracy', fill: 'set', r: 2.2 }),
    ],
  });
}

export function editSection(r: EditRecord): string {
  const setRows = Object.entries(r.sets).map(([key, s]) => `<tr><td>${esc(SET_NAMES[key] ?? key)}</td><td><code class="wrap">${esc(s.spec)}</code></td>`
    + `<td class="num">${s.indices.length.toLocaleString('en-US')}</td><td class="num">${pct(s.before.accuracy)}</td><td class="num">${pct(s.after.accuracy)}</td>`
    + `<td class="num">${points(s.after.accuracy - s.before.accuracy)}</td><td class="num">${num(s.before.meanMargin)} → ${num(s.after.meanMargin)}</td></tr>`).join('\n');
  const comps = r.chosen.components.map((c, i) => `<tr><td class="num muted">${i + 1}</td><td><code>${esc(c.name)}</code></td><td class="num">${num(c.score)}</td></tr>`).join('');
  return `<p>${r.direction === 'lower' ? 'Lower' : 'Raise'} the target margins by ablating the ${r.direction === 'lower' ? 'top' : 'bottom'}-k components by Welch t-statistic (target vs reference attributions); k chosen on the validation sets with a budget of ${r.maxDrop} point${r.maxDrop === 1 ? '' : 's'} for the validation reference accuracy${r.maxClassDrop === undefined ? '' : ` and ${r.maxClassDrop} for each of its classes`}${r.search === 'skip'
    ? `, adding the next ranked component that stays within the budget and moves the validation target the right way (${(r.skipped ?? []).length} ranked component${(r.skipped ?? []).length === 1 ? ' was' : 's were'} passed over)`
    : ', ablating the top of the ranking'}.</p>
<table class="summary"><thead><tr><th>set</th><th>examples from</th><th class="num">examples</th><th class="num">accuracy before</th><th class="num">after</th><th class="num">change (points)</th><th class="num">mean margin</th></tr></thead>
<tbody>
${setRows}
</tbody></table>
<div class="pair">
<div><h3>${r.chosen.k} component${r.chosen.k === 1 ? '' : 's'} ablated</h3>${r.chosen.k ? `<table class="top"><thead><tr><th class="num">#</th><th>component</th><th class="num">t</th></tr></thead><tbody>${comps}</tbody></table>` : '<p class="muted">No k within the budget improved the validation target set: the model is left as it was.</p>'}</div>
<figure>${curvePlot(r)}</figure>
</div>
<p class="note">Edited weights: <code>${esc(r.edited)}</code> (the original safetensors with these components' weight rows set to zero; every tensor keeps its name). The plot shows the validation accuracies for each k ${r.search === 'skip' ? 'accepted (the search stops when the target set cannot improve, at the most components allowed, or at the end of the ranked candidates)' : 'tried (the search stops once the target set cannot improve or several ks in a row are over the budget)'}; the dashed line is the lowest reference accuracy the budget allows, the solid line the chosen k. ${r.seconds.toFixed(1)} s on the device.</p>`;
}

/** A self-contained page: an optional summary (trusted HTML), then one section per edit. */
export function editPage(records: readonly EditRecord[], opts: { title?: string; summary?: string; collapse?: boolean } = {}): string {
  const title = opts.title ?? (records.length === 1 ? records[0]!.title : 'COAR-Edit');
  const sections = records.map((r, i) => opts.collapse
    ? `<section id="edit-${i}"><details><summary><b>${esc(r.title)}</b> · ${r.chosen.k} component${r.chosen.k === 1 ? '' : 's'}</summary>\n${editSection(r)}\n</details></section>`
    : `<section id="edit-${i}">\n<h2>${esc(r.title)}</h2>\n${editSection(r)}\n</section>`).join('\n');
  const m = records[0]?.model;
  return htmlDocument(title, `<header><h1>${esc(title)}</h1>
${m ? `<p class="sub">${esc(m.arch)} · ${m.components.toLocaleString('en-US')} components · <code class="wrap">${esc(m.weights)}</code></p>` : ''}
</header>
${opts.summary ? `<section id="summary">${opts.summary}</section>` : ''}
${sections}
<footer>Written by webcoar. This file is self-contained: no scripts, fonts or network resources.</footer>
`);
}
