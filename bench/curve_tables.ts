/**
 * BENCHMARKS.md tables from the curve.json files `coar curve` writes:
 *   node --import tsx bench/curve_tables.ts NAME=out/curve-cnn/curve.json [NAME=a.json,b.json ...]
 * prints, per curve, the masks each estimator needs to reach mean Pearson 0.3 / 0.4 / 0.5,
 * the best it reaches, the masks it needs to match ols at the largest m, and the fit time.
 * Several files for one NAME (runs on the same stores and held-out masks) are merged point
 * by point, a later file's point replacing an earlier one's at the same (estimator, m); the
 * table then says which file each estimator's points came from.
 */
import { readFileSync } from 'node:fs';
import { headline, type CurvePoint } from '../src/coar/curve.js';

interface CurveFile { estimators: string[]; points: CurvePoint[]; components: number; examples: number; heldoutMasks: number; sizes: number[]; train: string; heldout: string }

const int = (v: number | undefined) => (v === undefined ? '–' : Math.round(v).toLocaleString('en-US'));
for (const arg of process.argv.slice(2)) {
  const [name, list] = arg.includes('=') ? arg.split('=') as [string, string] : [arg, arg];
  const paths = list.split(',');
  const files = paths.map((p) => JSON.parse(readFileSync(p, 'utf8')) as CurveFile);
  const c = files[0]!;
  for (const [i, f] of files.entries()) {
    if (f.train !== c.train || f.heldout !== c.heldout || f.components !== c.components || f.examples !== c.examples || f.heldoutMasks !== c.heldoutMasks) {
      throw new Error(`${paths[i]} is a curve of other stores than ${paths[0]}: not merged`);
    }
  }
  const merged = new Map<string, { point: CurvePoint; file: number }>();
  files.forEach((f, i) => { for (const p of f.points) merged.set(`${p.estimator}-${p.masks}`, { point: p, file: i }); });
  const entries = [...merged.values()];
  const points = entries.map((e) => e.point);
  const estimators = [...new Set(files.flatMap((f) => f.estimators))].filter((e) => points.some((p) => p.estimator === e));
  const sizes = [...new Set(points.map((p) => p.masks))].sort((a, b) => a - b);
  const allSizes = [...new Set(files.flatMap((f) => f.sizes))].sort((a, b) => a - b);
  const h = headline(points, estimators);
  console.log(`\n${name}: |C| = ${c.components}, n = ${c.examples}, ${c.heldoutMasks} held-out masks, m = ${sizes[0]} … ${sizes[sizes.length - 1]}\n`);
  if (files.length > 1) {
    for (const e of estimators) {
      const from = [...new Set(entries.filter((x) => x.point.estimator === e).map((x) => x.file))].map((i) => {
        const ms = entries.filter((x) => x.point.estimator === e && x.file === i).map((x) => x.point.masks).sort((a, b) => a - b);
        return `${paths[i]} (m = ${ms.map(int).join(', ')})`;
      });
      console.log(`- ${e}: ${from.join('; ')}`);
    }
    console.log('');
  }
  console.log(`| estimator | masks to 0.3 | to 0.4 | to 0.5 | best mean Pearson (at m) | masks to match ols at m = ${int(h.target?.masks)} (${h.target?.pearson.toFixed(3)}) | ratio | fit time, all points (s) |`);
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of h.rows) {
    const t = h.target?.reach.find((x) => x.estimator === r.estimator);
    const own = points.filter((p) => p.estimator === r.estimator);
    const seconds = own.reduce((a, p) => a + p.seconds, 0);
    // a curve cut short (coar curve --kept-only) says how far the estimator got
    const top = Math.max(...own.map((p) => p.masks));
    const short = top < allSizes[allSizes.length - 1]! ? ` (ran to m = ${int(top)})` : '';
    console.log(`| ${r.estimator}${short} | ${r.masks.map(int).join(' | ')} | ${r.best.toFixed(3)} (${int(r.bestAt)}) | ${t?.masks === undefined ? 'not reached' : int(t.masks)} | ${t?.ratio === undefined ? '–' : t.ratio.toFixed(2)} | ${seconds.toFixed(0)} |`);
  }
  console.log(`\n| m | ${estimators.join(' | ')} |`);
  console.log(`|---|${estimators.map(() => '---').join('|')}|`);
  for (const m of sizes) {
    console.log(`| ${int(m)} | ${estimators.map((e) => { const p = points.find((x) => x.estimator === e && x.masks === m); return p ? `${p.summary.pearsonMean.toFixed(3)} ± ${p.summary.pearsonSd.toFixed(2)}` : ''; }).join(' | ')} |`);
  }
}
