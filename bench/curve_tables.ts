/**
 * BENCHMARKS.md tables from the curve.json files `coar curve` writes:
 *   node --import tsx bench/curve_tables.ts NAME=out/curve-cnn/curve.json [NAME=...]
 * prints, per curve, the masks each estimator needs to reach mean Pearson 0.3 / 0.4 / 0.5,
 * the best it reaches, the masks it needs to match ols at the largest m, and the fit time.
 */
import { readFileSync } from 'node:fs';
import { headline, type CurvePoint } from '../src/coar/curve.js';

const int = (v: number | undefined) => (v === undefined ? '–' : Math.round(v).toLocaleString('en-US'));
for (const arg of process.argv.slice(2)) {
  const [name, path] = arg.includes('=') ? arg.split('=') as [string, string] : [arg, arg];
  const c = JSON.parse(readFileSync(path, 'utf8')) as { estimators: string[]; points: CurvePoint[]; components: number; examples: number; heldoutMasks: number; sizes: number[] };
  const h = headline(c.points, c.estimators);
  console.log(`\n${name}: |C| = ${c.components}, n = ${c.examples}, ${c.heldoutMasks} held-out masks, m = ${c.sizes[0]} … ${c.sizes[c.sizes.length - 1]}\n`);
  console.log(`| estimator | masks to 0.3 | to 0.4 | to 0.5 | best mean Pearson (at m) | masks to match ols at m = ${int(h.target?.masks)} (${h.target?.pearson.toFixed(3)}) | share | fit time, all points (s) |`);
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of h.rows) {
    const t = h.target?.reach.find((x) => x.estimator === r.estimator);
    const own = c.points.filter((p) => p.estimator === r.estimator);
    const seconds = own.reduce((a, p) => a + p.seconds, 0);
    // a curve cut short (coar curve --kept-only) says how far the estimator got
    const top = Math.max(...own.map((p) => p.masks));
    const short = top < c.sizes[c.sizes.length - 1]! ? ` (ran to m = ${int(top)})` : '';
    console.log(`| ${r.estimator}${short} | ${r.masks.map(int).join(' | ')} | ${r.best.toFixed(3)} (${int(r.bestAt)}) | ${t?.masks === undefined ? 'not reached' : int(t.masks)} | ${t?.ratio === undefined ? '–' : t.ratio.toFixed(2)} | ${seconds.toFixed(0)} |`);
  }
  console.log(`\n| m | ${c.estimators.join(' | ')} |`);
  console.log(`|---|${c.estimators.map(() => '---').join('|')}|`);
  for (const m of c.sizes) {
    console.log(`| ${int(m)} | ${c.estimators.map((e) => { const p = c.points.find((x) => x.estimator === e && x.masks === m); return p ? `${p.summary.pearsonMean.toFixed(3)} ± ${p.summary.pearsonSd.toFixed(2)}` : ''; }).join(' | ')} |`);
  }
}
