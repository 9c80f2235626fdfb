/**
 * `coar curve` at scale (issue 18.4): ols / ridge / lasso read each point's training margins
 * from the store a chunk of examples at a time under --memory, never the m x n margins whole.
 * numpy writes the stores (test/reference/curve_reference.py) and fits OLS by least squares;
 * the chunked points must equal numpy's and the one-chunk points (to float32 rounding), and memory must
 * stay bounded when the margins outgrow it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { CurvePoint } from '../src/coar/curve.js';
import { readNpy } from '../src/io/npy.js';
import { coar } from './support/cli.js';
import { runReference } from './support/python.js';
import { tempDir } from './support/tmp.js';

const dir = tempDir('coar-curve-stream-');
const C = 16, N = 256;

function make(name: string, m: number, n: number, seed: number): string {
  const d = join(dir, name);
  runReference('curve_reference.py', ['make', d, '--m', String(m), '--c', String(C), '--n', String(n), '--seed', String(seed)]);
  return d;
}
function curve(train: string, heldout: string, out: string, estimators: string, flags: string[] = [], opts: { peakRss?: boolean; maxMasks?: number } = {}) {
  return coar(['curve', '--store', train, '--heldout', heldout, '--out', out, '--estimators', estimators, '--min-masks', '64', '--max-masks', String(opts.maxMasks ?? 128), '--quiet', ...flags], opts);
}
const points = (out: string): CurvePoint[] => JSON.parse(readFileSync(join(out, 'curve.json'), 'utf8')).points;
const attributions = (out: string, p: CurvePoint) => readNpy(join(out, 'points', `${p.estimator}-${p.masks}.attributions.npy`)).data as Float32Array;

const train = make('train', 160, N, 1);
const heldout = make('heldout', 64, N, 2);
// ~4.4 kB per example of a chunk at m = 128 (fit/cost.ts memoryModel): 0.45 MB fits ~100 examples of 256
const small = join(dir, 'small'), whole = join(dir, 'whole');
const a = curve(train, heldout, small, 'ols,ridge', ['--memory', String(0.45 / 1024)]);
const b = curve(train, heldout, whole, 'ols,ridge');

test('under a small --memory every ols and ridge point is fitted in several example chunks, and equals the one-chunk fit to float32 rounding', () => {
  assert.is(a.code, 0, a.stderr);
  assert.is(b.code, 0, b.stderr);
  const ps = points(small), qs = points(whole);
  assert.is(ps.length, 6, 'sizes 64, 91, 128 for two estimators');
  for (const [k, p] of ps.entries()) {
    const q = qs[k]!;
    assert.ok((p.details.chunks as number) >= 2, `${p.estimator} m = ${p.masks}: ${p.details.chunks} chunks of ${p.details.chunkExamples}`);
    assert.is(q.details.chunks, 1, `${q.estimator} m = ${q.masks} by default`);
    // each example's solve is its own; the solver's products over a chunk's vec4 columns may round differently with its width
    const x = attributions(small, p), y = attributions(whole, q);
    let d = 0, top = 0;
    for (let i = 0; i < x.length; i++) { d = Math.max(d, Math.abs(x[i]! - y[i]!)); top = Math.max(top, Math.abs(y[i]!)); }
    assert.ok(d <= 1e-6 * top, `${p.estimator} m = ${p.masks}: largest difference ${d} of ${top}`);
    p.pearson.forEach((r, e) => assert.ok(Math.abs(r - q.pearson[e]!) < 1e-6, `${p.estimator} m = ${p.masks} example ${e}: Pearson ${r} vs ${q.pearson[e]}`));
  }
});

test('the chunked OLS points equal numpy\'s least squares on the first m rows', () => {
  for (const p of points(small).filter((x) => x.estimator === 'ols')) {
    const ref = JSON.parse(runReference('curve_reference.py', ['ols', train, String(p.masks), String(N)])) as { attributions: number[][]; bias: number[] };
    const got = attributions(small, p);
    let d = 0, s = 0;
    for (let j = 0; j < C; j++) for (let e = 0; e < N; e++) { d = Math.max(d, Math.abs(got[j * N + e]! - ref.attributions[j]![e]!)); s = Math.max(s, Math.abs(ref.attributions[j]![e]!)); }
    assert.ok(d / s < 1e-3, `ols m = ${p.masks}: largest difference ${d} of ${s}`);
  }
});

test('a point whose attributions span several row blocks (16 x 4,096, 64 KiB blocks) equals numpy\'s least squares', () => {
  // the assembly once wrote every block with the last one's rows: outputs beyond one block were wrong
  const n = 4096, t = make('blocks-train', 64, n, 7), h = make('blocks-heldout', 16, n, 8), out = join(dir, 'blocks');
  const r = curve(t, h, out, 'ols', ['--memory', String(0.9 / 1024)], { maxMasks: 64 });
  assert.is(r.code, 0, r.stderr);
  const p = points(out)[0]!;
  assert.ok((p.details.chunks as number) >= 2, `${p.details.chunks} chunks`);
  const ref = JSON.parse(runReference('curve_reference.py', ['ols', t, '64', String(n)])) as { attributions: number[][] };
  const got = attributions(out, p);
  let d = 0, s = 0;
  for (let j = 0; j < C; j++) for (let e = 0; e < n; e++) { d = Math.max(d, Math.abs(got[j * n + e]! - ref.attributions[j]![e]!)); s = Math.max(s, Math.abs(ref.attributions[j]![e]!)); }
  assert.ok(d / s < 1e-3, `largest difference ${d} of ${s}`);
});

test('memory stays bounded: a point of 2,048 masks x 20,000 examples (164 MB of margins) is fitted and scored under --memory 0.05', () => {
  const bigTrain = join(dir, 'big-train'), bigHeld = join(dir, 'big-heldout');
  runReference('curve_reference.py', ['make', bigTrain, '--m', '2048', '--c', String(C), '--n', '20000', '--seed', '3']);
  runReference('curve_reference.py', ['make', bigHeld, '--m', '16', '--c', String(C), '--n', '20000', '--seed', '4']);
  const base = curve(train, heldout, join(dir, 'base'), 'ols', ['--memory', '0.05'], { peakRss: true, maxMasks: 64 });
  assert.is(base.code, 0, base.stderr);
  const q = coar(['curve', '--store', bigTrain, '--heldout', bigHeld, '--out', join(dir, 'big'), '--estimators', 'ols', '--min-masks', '2048', '--max-masks', '2048', '--memory', '0.05', '--quiet'], { peakRss: true });
  assert.is(q.code, 0, q.stderr);
  const grew = q.peakRssMiB! - base.peakRssMiB!;
  if (process.env.COAR_TEST_SHOW_RSS) console.log(`peak RSS small ${base.peakRssMiB!.toFixed(0)} MiB, 2,048 x 20,000 ${q.peakRssMiB!.toFixed(0)} MiB`);
  // whole, the point's margins are 156 MiB (the code before this test held them, 920 MB peak)
  assert.ok(grew < 100, `peak RSS ${q.peakRssMiB!.toFixed(0)} MiB, ${grew.toFixed(0)} MiB above the small store's: the margins were held whole`);
  const p = points(join(dir, 'big'))[0]!;
  assert.ok((p.details.chunks as number) >= 10, `${p.details.chunks} chunks`);
});

test('a point\'s attributions go to disk a chunk at a time: from 1,000 to 20,000 examples of 4,000 components (16 to 320 MB of attributions) under --memory 0.05', () => {
  const cw = 4000;
  const wide = (nw: number) => {
    const t = join(dir, `wide-train-${nw}`), h = join(dir, `wide-heldout-${nw}`), out = join(dir, `wide-${nw}`);
    runReference('curve_reference.py', ['make', t, '--m', '64', '--c', String(cw), '--n', String(nw), '--seed', '5']);
    runReference('curve_reference.py', ['make', h, '--m', '16', '--c', String(cw), '--n', String(nw), '--seed', '6']);
    const r = coar(['curve', '--store', t, '--heldout', h, '--out', out, '--estimators', 'ols', '--min-masks', '64', '--max-masks', '64', '--memory', '0.05', '--quiet'], { peakRss: true });
    assert.is(r.code, 0, r.stderr);
    return { out, rss: r.peakRssMiB! };
  };
  const base = wide(1000), big = wide(20_000);
  const grew = big.rss - base.rss;
  if (process.env.COAR_TEST_SHOW_RSS) console.log(`peak RSS 4,000 x 1,000 ${base.rss.toFixed(0)} MiB, 4,000 x 20,000 ${big.rss.toFixed(0)} MiB`);
  // held whole, the attributions alone grow by 290 MiB; streamed, what grows is the garbage of
  // chunk-sized buffers the collector has not freed yet (78-138 MiB measured at 10,000 examples)
  assert.ok(grew < 200, `peak RSS ${big.rss.toFixed(0)} MiB, ${grew.toFixed(0)} MiB above 1,000 examples': the attributions were held whole`);
  const p = points(big.out)[0]!;
  assert.ok((p.details.chunks as number) >= 10, `${p.details.chunks} chunks`);
  assert.equal(readNpy(join(big.out, 'points', 'ols-64.attributions.npy')).shape, [cw, 20_000]);
  assert.not.ok(existsSync(join(big.out, 'points', 'ols-64.work')), 'the chunks are removed once the point is written');
  assert.ok(p.pearson.length === 20_000 && p.pearson.every(Number.isFinite));
});

test.run();
