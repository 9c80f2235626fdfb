/**
 * The page `coar curve` writes: held-out correlation against the number of training masks
 * for every estimator (plot and tables), and the headline: masks needed to reach a given
 * correlation, and to match the reference's estimator at its largest m. Same look and same
 * rules as the run report (html.ts): one self-contained file, inline SVG, no scripts.
 */
import * as Plot from '@observablehq/plot';
import type { CurvePoint, Headline } from '../coar/curve.js';
import { esc, htmlDocument } from './html.js';
import { svg } from './plots.js';

export interface CurvePageData {
  title: string;
  train: string;
  heldout: string;
  components: number;
  examples: number;
  heldoutMasks: number;
  alpha: number | null;
  valFrac: number;
  sizes: number[];
  estimators: string[];
  headline: Headline;
  points: CurvePoint[];
}

const COLORS: Record<string, string> = { ols: '#1d232b', ridge: '#7a8594', lasso: '#b08a2e', extracted: '#d1603d', shared: '#2f6db3' };
const color = (e: string) => COLORS[e] ?? '#4f9a76';

const DESCRIPTIONS: Record<string, string> = {
  ols: 'least squares on standardized masks with an intercept, no penalty: the reference\'s estimator (minimum-norm solution when m < |C|)',
  ridge: 'ridge, λ chosen per example on the held-out share of the training rows, then refitted on all of them',
  lasso: 'LASSO, λ chosen per example in the same way',
  extracted: 'seed 004: a 2-layer ReLU network per example trained by minibatch AdamW on the device, read off without its ReLU (w = W2 W1) and scaled by least squares; learning rate and weight decay chosen on the held-out training rows',
  shared: 'one Gaussian prior over the attributions of all examples (a mean and a variance per component, a noise level per example) learned by empirical Bayes (EM), each example\'s attributions its posterior mean',
};

const fmt = (v: number | undefined, d = 3) => (v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(d).replace(/^-/, '\u2212'));
const int = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '–' : Math.round(v).toLocaleString('en-US'));

function curvePlot(points: CurvePoint[], estimators: string[], metric: 'pearson' | 'spearman', reference?: { masks: number; pearson: number }): string {
  const rows = points.filter((p) => estimators.includes(p.estimator)).map((p) => ({
    estimator: p.estimator, m: p.masks,
    mean: metric === 'pearson' ? p.summary.pearsonMean : p.summary.spearmanMean,
    lo: metric === 'pearson' ? p.summary.pearsonQ25 : p.summary.spearmanMean - p.summary.spearmanSd,
    hi: metric === 'pearson' ? p.summary.pearsonQ75 : p.summary.spearmanMean + p.summary.spearmanSd,
  })).filter((r) => Number.isFinite(r.mean)).sort((a, b) => a.m - b.m);
  const marks: Plot.Markish[] = [
    Plot.areaY(rows, { x: 'm', y1: 'lo', y2: 'hi', z: 'estimator', fill: 'estimator', fillOpacity: 0.08 }),
    Plot.line(rows, { x: 'm', y: 'mean', z: 'estimator', stroke: 'estimator', strokeWidth: 2 }),
    Plot.dot(rows, { x: 'm', y: 'mean', fill: 'estimator', r: 3 }),
  ];
  if (reference && metric === 'pearson') {
    marks.push(Plot.ruleY([reference.pearson], { stroke: '#1d232b', strokeDasharray: '4,3', strokeOpacity: 0.6 }));
    marks.push(Plot.ruleX([reference.masks / 5], { stroke: '#2f6db3', strokeDasharray: '2,3', strokeOpacity: 0.6 }));
  }
  return svg({
    width: 1000, height: 440, marginLeft: 50, marginBottom: 42, marginRight: 20,
    x: { type: 'log', label: 'training masks m (forward passes per example)', labelAnchor: 'center', labelArrow: 'none', grid: true },
    y: { label: `mean ${metric === 'pearson' ? 'Pearson' : 'Spearman'} correlation on held-out masks`, labelArrow: 'none', grid: true, domain: [Math.min(0, ...rows.map((r) => r.lo)), 1] },
    color: { domain: estimators, range: estimators.map(color), legend: true },
    marks,
  });
}

export function renderCurvePage(d: CurvePageData): string {
  const n = d.examples;
  const t = d.headline.target;
  const best = t?.reach.filter((r) => r.estimator !== t.estimator && r.masks !== undefined).sort((a, b) => a.masks! - b.masks!)[0];
  const lede = t ? `<p class="lede">The reference's estimator (${esc(t.estimator)}) reaches a mean Pearson correlation of <b>${fmt(t.pearson)}</b> with m = ${int(t.masks)} masks. `
    + (best ? `<b>${esc(best.estimator)}</b> reaches it with <b>${int(best.masks)}</b> masks, ${fmt(best.ratio, 2)} of the forward passes${best.ratio! <= 0.2 ? ' (at most one fifth)' : ''}.` : 'No other estimator reaches it within the curve.') + '</p>' : '';
  const bySize = d.sizes.map((m) => `<tr><td class="num">${int(m)}</td>${d.estimators.map((e) => {
    const p = d.points.find((x) => x.estimator === e && x.masks === m);
    return p ? `<td class="num">${fmt(p.summary.pearsonMean)} <span class="muted">± ${fmt(p.summary.pearsonSd, 2)}</span></td><td class="num">${fmt(p.summary.spearmanMean)}</td><td class="num muted">${p.seconds.toFixed(1)}</td>` : '<td></td><td></td><td></td>';
  }).join('')}</tr>`).join('\n');
  const head = d.headline;
  const reachRows = head.rows.map((r) => `<tr><td><span class="swatch" style="background:${color(r.estimator)}"></span>${esc(r.estimator)}</td>${r.masks.map((m) => `<td class="num">${int(m)}</td>`).join('')}<td class="num">${fmt(r.best)}</td><td class="num">${int(r.bestAt)}</td></tr>`).join('\n');
  const targetRows = t ? t.reach.map((r) => `<tr><td><span class="swatch" style="background:${color(r.estimator)}"></span>${esc(r.estimator)}</td><td class="num">${r.masks === undefined ? 'not reached' : int(r.masks)}</td><td class="num">${r.ratio === undefined ? '–' : fmt(r.ratio, 2)}</td></tr>`).join('\n') : '';
  return htmlDocument(d.title, `<header>
<h1>${esc(d.title)}</h1>
<p class="sub">How many ablated forward passes each estimator needs: correlation of predicted and true margins on held-out masks, against the number of training masks m.</p>
${lede}
<div class="card"><dl>
<dt>components |C|</dt><dd>${int(d.components)}</dd>
<dt>examples n</dt><dd>${int(n)}</dd>
<dt>ablation α</dt><dd>${d.alpha === null ? '–' : `${Number((d.alpha * 100).toPrecision(4))}%`}</dd>
<dt>held-out masks</dt><dd>${int(d.heldoutMasks)}</dd>
<dt>training store</dt><dd><code class="wrap">${esc(d.train)}</code></dd>
<dt>held-out store</dt><dd><code class="wrap">${esc(d.heldout)}</code></dd>
</dl></div>
</header>
<section id="curve">
<h2>Held-out correlation against training masks</h2>
<figure class="wide">${curvePlot(d.points, d.estimators, 'pearson', t)}</figure>
<p class="note">Each point: an estimator fitted on the first m masks of the training store (all estimators see the same rows; the rows of a smaller m are a prefix of a larger one's), then scored on the ${int(d.heldoutMasks)} masks of the held-out store (another seed, the same α): per example, the Pearson correlation across those masks between the true margin and the predicted one; the line is the mean over the ${int(n)} examples, the band the middle half of the examples (25th to 75th percentile). ${t ? `The dashed horizontal line is ${esc(t.estimator)} at its largest m; the dotted vertical line is one fifth of that m.` : ''} Hyperparameters are chosen on the last ${Math.round(d.valFrac * 100)}% of each point's own training rows, never on the held-out masks.</p>
<figure class="wide">${curvePlot(d.points, d.estimators, 'spearman')}</figure>
<p class="note">The same with Spearman's rank correlation (seed 004's LDS); the band is ± one standard deviation over examples.</p>
</section>
<section id="headline">
<h2>Forward passes to reach a correlation</h2>
<table class="summary"><thead><tr><th>estimator</th>${head.thresholds.map((x) => `<th class="num">to reach ${fmt(x, 1)}</th>`).join('')}<th class="num">best mean Pearson</th><th class="num">at m</th></tr></thead>
<tbody>
${reachRows}
</tbody></table>
${t ? `<h3 style="margin-top:18px">To match ${esc(t.estimator)} at m = ${int(t.masks)} (mean Pearson ${fmt(t.pearson)})</h3>
<table class="summary"><thead><tr><th>estimator</th><th class="num">masks</th><th class="num">share of ${int(t.masks)}</th></tr></thead><tbody>
${targetRows}
</tbody></table>` : ''}
<p class="note">Masks m are forward passes per example (a sweep over n examples costs m × n passes). The masks needed to reach a mean correlation are read off each curve at its first crossing, interpolated linearly in log m between the two sizes around it; "–" means the curve never reaches it.</p>
</section>
<section id="table">
<h2>All points</h2>
<div style="overflow-x:auto">
<table class="summary"><thead><tr><th rowspan="2" class="num">m</th>${d.estimators.map((e) => `<th colspan="3" class="group">${esc(e)}</th>`).join('')}</tr>
<tr>${d.estimators.map(() => '<th class="num">Pearson ± sd</th><th class="num">Spearman</th><th class="num">fit s</th>').join('')}</tr></thead>
<tbody>
${bySize}
</tbody></table>
</div>
</section>
<section id="estimators">
<h2>Estimators</h2>
<dl>${d.estimators.map((e) => `<dt><span class="swatch" style="background:${color(e)}"></span>${esc(e)}</dt><dd style="white-space:normal">${esc(DESCRIPTIONS[e] ?? '')}</dd>`).join('\n')}</dl>
</section>
<footer>Written by webcoar (coar curve). This file is self-contained: no scripts, fonts or network resources.</footer>
`);
}
