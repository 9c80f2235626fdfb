/**
 * The report's plots, drawn by Observable Plot into a linkedom document (a DOM without
 * a browser) and serialised to SVG markup for inlining. linkedom escapes text and
 * attribute values on serialisation, so names from the data are safe in the output.
 * Avoid continuous colour legends: Plot draws those ramps on a <canvas>, which a
 * browserless DOM does not have.
 */
import * as Plot from '@observablehq/plot';
import { parseHTML } from 'linkedom';

/** Positive attribution: ablating the component lowers the margin. */
export const POSITIVE = '#2f6db3';
export const NEGATIVE = '#d1603d';
const INK = '#1d232b';
const MUTED = '#7a8594';

let dom: Document | undefined;

export function svg(options: Plot.PlotOptions): string {
  dom ??= parseHTML('<!doctype html><html><head></head><body></body></html>').document;
  const el = Plot.plot({
    style: { fontSize: '11px', fontFamily: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif', color: INK, background: 'transparent', overflow: 'visible' },
    ...options,
    document: dom,
  });
  return el.outerHTML;
}

/** Pixels kept free beyond a bar's end for the value printed there. */
const VALUE_ROOM = 52;

/** Rough width in pixels of a label at 11 px, for margins that fit long component names. */
function labelWidth(labels: readonly string[]): number {
  return Math.max(0, ...labels.map((l) => l.length)) * 6.3 + 12;
}

/** Predicted against true margin over the evaluation masks, with the y = x line. */
export function marginScatter(trueMargin: ArrayLike<number>, predicted: ArrayLike<number>, size = 236): string {
  const points: { t: number; p: number }[] = [];
  for (let i = 0; i < trueMargin.length; i++) {
    const t = trueMargin[i]!, p = predicted[i]!;
    if (Number.isFinite(t) && Number.isFinite(p)) points.push({ t, p });
  }
  let lo = Infinity, hi = -Infinity;
  for (const { t, p } of points) { lo = Math.min(lo, t, p); hi = Math.max(hi, t, p); }
  if (!(hi > lo)) { lo = (Number.isFinite(lo) ? lo : 0) - 1; hi = lo + 2; }
  const pad = (hi - lo) * 0.05;
  const domain = [lo - pad, hi + pad];
  return svg({
    width: size, height: size, marginLeft: 44, marginBottom: 36, marginTop: 12, marginRight: 12,
    x: { domain, label: 'true margin', labelAnchor: 'center', labelArrow: 'none', ticks: 4, grid: true },
    y: { domain, label: 'predicted margin', labelAnchor: 'center', labelArrow: 'none', ticks: 4, grid: true },
    marks: [
      Plot.line([[domain[0]!, domain[0]!], [domain[1]!, domain[1]!]], { stroke: MUTED, strokeDasharray: '4,3' }),
      Plot.dot(points, { x: 't', y: 'p', r: 2.2, fill: POSITIVE, fillOpacity: 0.55 }),
    ],
  });
}

export interface CorrelationRow { metric: string; alpha: string; r: number }

/**
 * Histograms of per-example correlations on [lo, 1]: one column per metric, one row per
 * α, a solid rule at each panel's mean.
 */
export function correlationHistograms(rows: readonly CorrelationRow[], metrics: readonly string[], alphas: readonly string[], width = 1000): string {
  const means = [];
  for (const metric of metrics) {
    for (const alpha of alphas) {
      const rs = rows.filter((x) => x.metric === metric && x.alpha === alpha).map((x) => x.r);
      if (rs.length) means.push({ metric, alpha, r: rs.reduce((a, b) => a + b, 0) / rs.length });
    }
  }
  // [0, 1] when no correlation is negative, else down to the lowest (a multiple of 0.1)
  const lowest = rows.reduce((a, x) => Math.min(a, x.r), 0);
  const lo = Math.max(-1, Math.floor(lowest * 10) / 10);
  const thresholds = Array.from({ length: 41 }, (_, i) => lo + (i * (1 - lo)) / 40);
  return svg({
    width, height: 40 + 130 * Math.max(1, alphas.length), marginLeft: 44, marginRight: 70, marginTop: 26, marginBottom: 38,
    x: { domain: [lo, 1], label: 'correlation across evaluation masks (per example)', labelAnchor: 'center', labelArrow: 'none', ticks: 10 },
    y: { label: 'examples', labelArrow: 'none', grid: true, ticks: 3 },
    fx: { domain: [...metrics], label: null, padding: 0.08 },
    fy: { domain: [...alphas], label: null, padding: 0.15 },
    color: { domain: [...metrics], range: [POSITIVE, '#4f9a76'] },
    marks: [
      Plot.frame({ stroke: '#e3e7ec' }),
      Plot.rectY(rows, Plot.binX<Plot.RectYOptions>({ y: 'count' }, { x: 'r', fx: 'metric', fy: 'alpha', fill: 'metric', thresholds, domain: [lo, 1], inset: 0.5 })),
      Plot.ruleX(means, { x: 'r', fx: 'metric', fy: 'alpha', stroke: INK, strokeWidth: 1.5 }),
      Plot.text(means, { x: 'r', fx: 'metric', fy: 'alpha', text: (d: { r: number }) => `mean ${d.r.toFixed(2)}`, frameAnchor: 'top', dy: 6, dx: -4, textAnchor: 'end', fill: INK }),
      Plot.ruleY([0], { stroke: MUTED }),
    ],
  });
}

export interface Bar { label: string; value: number }

/**
 * Horizontal bars of signed values in the given order, blue when positive and orange
 * when negative, with the value printed at the bar's end.
 */
export function signedBars(bars: readonly Bar[], format: (v: number) => string, width = 520): string {
  const labels = bars.map((b) => b.label);
  let lo = 0, hi = 0;
  for (const b of bars) if (Number.isFinite(b.value)) { lo = Math.min(lo, b.value); hi = Math.max(hi, b.value); }
  if (lo === 0 && hi === 0) hi = 1;
  const marginLeft = Math.min(Math.round(width * 0.55), labelWidth(labels));
  // keep VALUE_ROOM px beyond the longest bar on each side with bars, for its printed value
  const sides = (lo < 0 ? 1 : 0) + (hi > 0 ? 1 : 0);
  const inner = width - marginLeft - 16;
  const span = (hi - lo) / Math.max(1 - (sides * VALUE_ROOM) / inner, 0.2);
  const pad = (VALUE_ROOM * span) / inner;
  const domain = [lo < 0 ? lo - pad : 0, hi > 0 ? hi + pad : 0];
  return svg({
    width, height: 24 + 19 * Math.max(1, bars.length), marginLeft, marginRight: 16, marginTop: 4, marginBottom: 20,
    x: { domain, label: null, ticks: 4, grid: true, tickFormat: (v: number) => format(v) },
    y: { domain: labels, label: null, tickSize: 0 },
    marks: [
      Plot.barX(bars, { x: 'value', y: 'label', fill: (d: Bar) => (d.value >= 0 ? POSITIVE : NEGATIVE), insetTop: 2, insetBottom: 2 }),
      Plot.text(bars.filter((b) => b.value >= 0), { x: 'value', y: 'label', text: (d: Bar) => format(d.value), textAnchor: 'start', dx: 4, fill: INK }),
      Plot.text(bars.filter((b) => b.value < 0), { x: 'value', y: 'label', text: (d: Bar) => format(d.value), textAnchor: 'end', dx: -4, fill: INK }),
      Plot.ruleX([0], { stroke: INK }),
    ],
  });
}

/** Non-negative horizontal bars with a note (e.g. a component count) after each. */
export function massBars(bars: readonly (Bar & { note: string })[], format: (v: number) => string, width = 1000): string {
  const labels = bars.map((b) => b.label);
  const marginLeft = Math.min(Math.round(width * 0.4), labelWidth(labels));
  return svg({
    width, height: 34 + 20 * Math.max(1, bars.length), marginLeft, marginRight: 150, marginTop: 4, marginBottom: 30,
    x: { label: 'sum of |attribution| over the layer\'s components, mean over examples', labelAnchor: 'center', labelArrow: 'none', grid: true, ticks: 6, nice: true, tickFormat: (v: number) => format(v) },
    y: { domain: labels, label: null, tickSize: 0 },
    marks: [
      Plot.barX(bars, { x: 'value', y: 'label', fill: POSITIVE, insetTop: 2, insetBottom: 2 }),
      Plot.text(bars, { x: 'value', y: 'label', text: (d: Bar & { note: string }) => `${format(d.value)} · ${d.note}`, textAnchor: 'start', dx: 5, fill: INK }),
      Plot.ruleX([0], { stroke: INK }),
    ],
  });
}
