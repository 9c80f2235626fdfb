/**
 * `coar curve` (issue 7): held-out correlation against training masks for every estimator.
 * Stores are written by numpy with a planted linear model (test/reference/curve_reference.py);
 * the held-out scores are checked against scipy, and the curve is checked not to leak: a
 * point's fit depends on the first m training rows only, never on the held-out store.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { curveSizes, headline, masksToReach, type CurvePoint } from '../src/coar/curve.js';
import { readNpy, writeNpy } from '../src/io/npy.js';
import { coar } from './support/cli.js';
import { runReference } from './support/python.js';
import { tempDir } from './support/tmp.js';

const dir = tempDir('coar-curve-');
const C = 16, n = 4;
const ESTIMATORS = 'ols,ridge,lasso,extracted,shared';

function make(name: string, m: number, seed: number, extra: string[] = []): string {
  const d = join(dir, name);
  runReference('curve_reference.py', ['make', d, '--m', String(m), '--c', String(C), '--n', String(n), '--seed', String(seed), ...extra]);
  return d;
}

function curve(train: string, heldout: string, out: string, ...flags: string[]) {
  return coar(['curve', '--store', train, '--heldout', heldout, '--out', out, '--estimators', ESTIMATORS,
    '--min-masks', '64', '--max-masks', '128', '--extracted-epochs', '60', '--quiet', ...flags]);
}

const points = (out: string): CurvePoint[] => JSON.parse(readFileSync(join(out, 'curve.json'), 'utf8')).points;

/**
 * Largest difference between two curves' attributions for a point, relative to the largest
 * attribution. 0 for the deterministic estimators; lasso's FISTA decides when to check for
 * convergence by wall-clock time (fit_solver.ts), so its fits may differ at its tolerance.
 */
function difference(a: string, b: string, p: CurvePoint): number {
  const read = (d: string) => readNpy(join(d, 'points', `${key(p)}.attributions.npy`)).data as Float32Array;
  const x = read(a), y = read(b);
  let d = 0, s = 0;
  for (let i = 0; i < x.length; i++) { d = Math.max(d, Math.abs(x[i]! - y[i]!)); s = Math.max(s, Math.abs(x[i]!)); }
  return d / Math.max(s, 1e-30);
}
const SAME = 1e-3;
const key = (p: CurvePoint) => `${p.estimator}-${p.masks}`;

const train = make('train', 160, 1);
const heldout = make('heldout', 64, 2);
const main = join(dir, 'curve-main');
const first = curve(train, heldout, main);

test('sizes run from |C|/8 to 8|C| in half octaves (13 of them), capped at the rows there are', () => {
  assert.equal(curveSizes(112, 10_000), [14, 20, 28, 40, 56, 79, 112, 158, 224, 317, 448, 634, 896]);
  assert.equal(curveSizes(1792, 100_000).length, 13);
  assert.is(curveSizes(1792, 100_000)[12], 14336);
  assert.equal(curveSizes(112, 500).slice(-2), [448, 500]);
  // a --min-masks that rounds to one less than the top gives the top once, not both
  assert.equal(curveSizes(1792, 100_000, 2534, 5069), [2534, 3584, 5069]);
});

test('masks to reach a correlation: first crossing, interpolated in log m', () => {
  const pt = (masks: number, r: number) => ({ estimator: 'a', masks, summary: { pearsonMean: r } }) as unknown as CurvePoint;
  const ps = [pt(10, 0.2), pt(40, 0.6), pt(160, 0.7)];
  assert.ok(Math.abs(masksToReach(ps, 'a', 0.4)! - 20) < 1e-9);
  assert.is(masksToReach(ps, 'a', 0.1), 10);
  assert.is(masksToReach(ps, 'a', 0.9), undefined);
  const h = headline([...ps, { ...pt(160, 0.5), estimator: 'ols' }, { ...pt(40, 0.45), estimator: 'ols' }], ['a', 'ols']);
  assert.is(h.target!.masks, 160);
  // 'a' crosses 0.5 three quarters of the way from 10 to 40 in log m
  assert.ok(Math.abs(h.target!.reach[0]!.ratio! - 10 * 4 ** 0.75 / 160) < 1e-9);
});

test('every estimator at every size is scored on the held-out masks as scipy scores its attributions', () => {
  assert.is(first.code, 0, first.stderr);
  const ps = points(main);
  assert.is(ps.length, 3 * 5, 'three sizes (64, 91, 128) for each of five estimators');
  for (const p of ps) {
    const ref = JSON.parse(runReference('curve_reference.py', ['score', main, heldout, p.estimator, String(p.masks)]));
    for (let e = 0; e < n; e++) {
      // undefined (null) when the predictions do not vary, in both
      if (ref.pearson[e] === null || p.pearson[e] === null) { assert.is(p.pearson[e], ref.pearson[e], `${key(p)} example ${e}`); continue; }
      assert.ok(Math.abs(p.pearson[e]! - ref.pearson[e]) < 1e-5, `${key(p)} example ${e}: Pearson ${p.pearson[e]} vs scipy ${ref.pearson[e]}`);
      assert.ok(Math.abs(p.spearman[e]! - ref.spearman[e]) < 1e-5, `${key(p)} example ${e}: Spearman ${p.spearman[e]} vs scipy ${ref.spearman[e]}`);
    }
  }
  // the planted margins vary with sd ~0.36 against noise sd 0.1 (a correlation of 0.96 at best):
  // at 128 masks for 16 components every estimator predicts well
  for (const p of ps.filter((x) => x.masks === 128)) assert.ok(p.summary.pearsonMean > 0.8, `${key(p)}: ${p.summary.pearsonMean}`);
});

test('the held-out store never reaches a fit: other held-out margins, the same attributions', () => {
  // the same held-out masks with other margins (another planted model): scores change, fits must not
  const other = make('heldout-other', 64, 2, ['--wseed', '9']);
  const out = join(dir, 'curve-other-heldout');
  const r = curve(train, other, out);
  assert.is(r.code, 0, r.stderr);
  const a = points(main), b = points(out);
  for (const p of a) {
    const d = difference(main, out, p);
    assert.ok(d <= SAME, `${key(p)}: the fit changed with the held-out store (by ${d})`);
    if (p.estimator !== 'lasso') assert.is(b.find((x) => key(x) === key(p))!.fingerprint, p.fingerprint, key(p));
  }
  assert.ok(a.some((p) => p.summary.pearsonMean !== b.find((x) => key(x) === key(p))!.summary.pearsonMean), 'the scores should differ');
});

test('the point at m uses the first m training rows only (nested): rows after 64 changed, points up to 64 unchanged', () => {
  const changed = join(dir, 'train-changed');
  runReference('curve_reference.py', ['make', changed, '--m', '160', '--c', String(C), '--n', String(n), '--seed', '1']);
  const y = readNpy(join(changed, 'test_margins.npy'));
  const v = y.data as Float32Array;
  for (let i = 64 * n; i < v.length; i++) v[i] = v[i]! + Math.sin(i);
  writeNpy(join(changed, 'test_margins.npy'), 'f4', y.shape, v);
  const out = join(dir, 'curve-changed-rows');
  const r = curve(changed, heldout, out);
  assert.is(r.code, 0, r.stderr);
  const a = points(main), b = points(out);
  for (const p of a) {
    const d = difference(main, out, p);
    if (p.masks <= 64) assert.ok(d <= SAME, `${key(p)} depends on rows beyond ${p.masks} (changed by ${d})`);
    else assert.ok(d > 100 * SAME, `${key(p)} ignored its rows beyond 64 (changed by ${d})`);
  }
});

test('a second run keeps every point and computes none again; the page is self-contained with the plot and tables', () => {
  const before = readFileSync(join(main, 'points', 'shared-64.json'), 'utf8');
  const r = curve(train, heldout, main);
  assert.is(r.code, 0, r.stderr);
  assert.is(readFileSync(join(main, 'points', 'shared-64.json'), 'utf8'), before);
  assert.match(r.stdout, /to match ols at m = 128/);
  const html = readFileSync(join(main, 'curve.html'), 'utf8');
  assert.match(html, /<svg/);
  assert.match(html, /Forward passes to reach a correlation/);
  assert.not.match(html, /<script|https?:\/\/(?!www\.w3\.org)/);
});

test('--kept-only fits nothing: the page and table hold the points there are; with none, one line and no curve', () => {
  const r = coar(['curve', '--store', train, '--heldout', heldout, '--out', main, '--estimators', ESTIMATORS,
    '--min-masks', '64', '--max-masks', '160', '--extracted-epochs', '60', '--quiet', '--kept-only']);
  assert.is(r.code, 0, r.stderr);
  const ps = points(main);
  assert.is(Math.max(...ps.map((p) => p.masks)), 128);
  assert.is(ps.length, 3 * ESTIMATORS.split(',').length);
  assert.not.ok(existsSync(join(main, 'points', 'ols-160.json')), 'a point was fitted');
  const sizes = JSON.parse(readFileSync(join(main, 'curve.json'), 'utf8')).sizes;
  assert.equal(sizes[sizes.length - 1], 160);
  const empty = join(dir, 'kept-empty');
  const e = curve(train, heldout, empty, '--kept-only');
  assert.is.not(e.code, 0);
  assert.is(e.stderr.split('\n').length, 1, e.stderr);
  assert.match(e.stderr, /holds no points/);
  assert.not.ok(existsSync(join(empty, 'curve.json')));
});

test('bad inputs: one line each, no curve written', () => {
  const cases: [string[], RegExp][] = [
    [['--store', train, '--heldout', train], /must not be the training store/],
    [['--store', train, '--heldout', make('heldout-same-seed', 64, 1)], /has the training store's seed/],
    [['--store', train, '--heldout', make('heldout-alpha', 64, 2, ['--alpha', '0.2'])], /alpha is 0.2, the training store's 0.1/],
    [['--store', train], /--store needs --heldout/],
    [['--store', train, '--heldout', heldout, '--estimators', 'ols,magic'], /unknown estimator 'magic'/],
    [['--store', train, '--heldout', heldout, '--max-masks', '3'], /--max-masks must be an integer >= 4/],
  ];
  cases.forEach(([args, message], i) => {
    const out = join(dir, `bad-${i}`);
    const r = coar(['curve', ...args, '--out', out, '--quiet']);
    assert.is.not(r.code, 0, `${args.join(' ')} was accepted`);
    assert.is(r.stderr.split('\n').length, 1, r.stderr);
    assert.match(r.stderr, message);
    assert.not.ok(existsSync(join(out, 'curve.json')), 'no curve for rejected input');
  });
  // a different C in the held-out store
  const wide = join(dir, 'heldout-wide');
  runReference('curve_reference.py', ['make', wide, '--m', '64', '--c', String(C + 1), '--n', String(n), '--seed', '2']);
  const r = coar(['curve', '--store', train, '--heldout', wide, '--out', join(dir, 'bad-wide'), '--quiet']);
  assert.match(r.stderr, /held-out store has 17 components, the training store 16/);
});

test.run();
