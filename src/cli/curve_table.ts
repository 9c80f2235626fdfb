/**
 * The table `coar curve` prints: mean Pearson per estimator and m, then the headline (masks
 * to reach each correlation, and to match the reference's estimator).
 */
import { headline, type CurvePoint } from '../coar/curve.js';

/** A number with `d` decimals, or – where there is none. */
export const fmt = (v: number | undefined, d = 3) => (v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(d));

export function printCurve(points: CurvePoint[], sizes: number[], estimators: string[]): void {
  console.log(`mean Pearson (± sd over examples) on held-out masks`);
  console.log(['m'.padStart(6), ...estimators.map((e) => e.padStart(15))].join(' '));
  for (const m of sizes) {
    const cells = estimators.map((e) => {
      const p = points.find((x) => x.estimator === e && x.masks === m);
      return (p ? `${fmt(p.summary.pearsonMean)} ± ${fmt(p.summary.pearsonSd, 2)}` : '').padStart(15);
    });
    console.log([String(m).padStart(6), ...cells].join(' '));
  }
  const h = headline(points, estimators);
  console.log(`\nmasks (= forward passes per example) to reach a mean Pearson of ${h.thresholds.join(', ')}; best reached`);
  for (const r of h.rows) console.log(`${r.estimator.padEnd(10)} ${r.masks.map((m) => (m === undefined ? '–' : Math.round(m).toString()).padStart(7)).join(' ')}   best ${fmt(r.best)} at m = ${r.bestAt}`);
  if (h.target) {
    console.log(`\nto match ${h.target.estimator} at m = ${h.target.masks} (mean Pearson ${fmt(h.target.pearson)}):`);
    for (const r of h.target.reach) console.log(`${r.estimator.padEnd(10)} ${r.masks === undefined ? 'not reached' : `${Math.round(r.masks)} masks (${fmt(r.ratio, 2)} of ${h.target.masks})`}`);
  }
}
