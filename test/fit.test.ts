/**
 * `coar fit` (issue 4): attributions from a mask/margin store written by numpy, checked
 * against scikit-learn run live on the same store (test/reference/fit_sklearn.py), and
 * every bad input rejected with one line and no output files.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fitAttributions } from '../src/coar/fit.js';
import { GpuContext } from '../src/gpu/context.js';
import { readNpy, toFloat32, writeNpy } from '../src/io/npy.js';
import { coar } from './support/cli.js';
import { runReference } from './support/python.js';
import { tempDir } from './support/tmp.js';

const dir = tempDir('coar-fit-');
let stores = 0;

/** A store written by numpy: m masks over c components (alpha ablated), n examples. */
function makeStore(opts: Record<string, string | number> = {}): string {
  const store = join(dir, `store${stores++}`);
  const o = { m: 400, c: 64, n: 8, ...opts };
  runReference('fit_sklearn.py', ['make', store, ...Object.entries(o).flatMap(([k, v]) => [`--${k}`, String(v)])]);
  return store;
}

function reference(...args: string[]): Record<string, any> {
  return JSON.parse(runReference('fit_sklearn.py', args));
}

function fit(store: string, out: string, ...flags: string[]): void {
  const r = coar(['fit', store, '--out', out, '--quiet', ...flags]);
  assert.is(r.code, 0, `coar fit failed: ${r.stderr}`);
}

const main = makeStore({ incomplete: 25, manifest: 1, constant: 2 });

test('ridge equals scikit-learn Ridge on the standardized masks, in raw mask units (Gram path)', () => {
  const out = join(dir, 'ridge-gram');
  fit(main, out, '--method', 'ridge', '--lambda', '10', '--solver', 'gram');
  const r = reference('ridge', main, out, '10');
  assert.ok(r.attributions < 1e-4, `attributions differ by ${r.attributions} relative`);
  assert.ok(r.bias < 1e-4, `bias differs by ${r.bias} relative`);
});

test('the matrix-free path gives the same ridge as scikit-learn', () => {
  const out = join(dir, 'ridge-free');
  fit(main, out, '--method', 'ridge', '--lambda', '10', '--solver', 'matrix-free');
  const r = reference('ridge', main, out, '10');
  assert.ok(r.attributions < 1e-4 && r.bias < 1e-4, JSON.stringify(r));
});

test('ridge is right when most components are ablated (kept bits are the rare ones) and margins are float32', () => {
  const store = makeStore({ alpha: 0.7, dtype: 'f4', seed: 3 });
  const out = join(dir, 'ridge-dense');
  fit(store, out, '--method', 'ridge', '--lambda', '0.5');
  const r = reference('ridge', store, out, '0.5');
  assert.ok(r.attributions < 1e-4 && r.bias < 1e-4, JSON.stringify(r));
});

test('ols equals numpy least squares with an intercept', () => {
  const store = makeStore({ seed: 5 });
  const out = join(dir, 'ols');
  fit(store, out, '--method', 'ols');
  const r = reference('ols', store, out);
  assert.ok(r.attributions < 1e-4 && r.bias < 1e-4, JSON.stringify(r));
});

test('lasso reaches scikit-learn Lasso\'s objective at the same lambda within 1e-5 relative', () => {
  for (const solver of ['gram', 'matrix-free']) {
    const out = join(dir, `lasso-${solver}`);
    fit(main, out, '--method', 'lasso', '--lambda', '0.05', '--solver', solver);
    const r = reference('lasso', main, out, '0.05');
    assert.ok(r.objective < 1e-5, `${solver}: objective ${JSON.stringify(r.ours)} vs scikit-learn ${JSON.stringify(r.sklearn)}`);
  }
});

test('components never ablated get attribution 0, and the manifest names are written beside the attributions', () => {
  const out = join(dir, 'ridge-gram');
  const w = toFloat32(readNpy(join(out, 'attributions.npy')));
  const n = 8;
  for (let j = 0; j < 2; j++) for (let c = 0; c < n; c++) assert.is(w[j * n + c], 0);
  const names = readFileSync(join(out, 'components.txt'), 'utf8').trim().split('\n');
  assert.is(names.length, 64);
  assert.is(names[17], 'layer.weight[17]');
});

test('without --lambda, ridge picks per example the grid lambda with the least validation error, then refits on all rows', () => {
  const out = join(dir, 'ridge-select');
  fit(main, out, '--method', 'ridge');
  const r = reference('select', main, out, 'ridge');
  assert.ok(r.on_grid, 'chosen lambdas are on the grid');
  assert.ok(r.validation_gap < 1e-3, `chosen lambda is ${r.validation_gap} worse than the best on held-out rows`);
  assert.ok(r.attributions < 1e-4 && r.bias < 1e-4, JSON.stringify(r));
  assert.equal(readNpy(join(out, 'lambda.npy')).shape, [8]);
});

test('without --lambda, lasso picks per example along the lambda_max path, then refits on all rows', () => {
  const out = join(dir, 'lasso-select');
  fit(main, out, '--method', 'lasso');
  const r = reference('select', main, out, 'lasso');
  assert.ok(r.on_grid, 'chosen lambdas are on the path');
  assert.ok(r.validation_gap < 1e-3, `chosen lambda is ${r.validation_gap} worse than the best on held-out rows`);
  assert.ok(r.attributions < 1e-3, JSON.stringify(r));
});

test('fitAttributions takes 0/1 mask rows in memory and agrees with scikit-learn', async () => {
  const store = makeStore({ seed: 9, m: 300, c: 40, n: 5 });
  const masks = readNpy(join(store, 'masks.npy'));
  const margins = toFloat32(readNpy(join(store, 'test_margins.npy')));
  const ctx = await GpuContext.open();
  try {
    const res = await fitAttributions(ctx, { data: masks.data as Uint8Array, rows: 300, components: 40 }, margins, 5, { method: 'ridge', lambda: 2 });
    const out = join(dir, 'api');
    fitOutputs(out, res.attributions, res.bias, 40, 5);
    const r = reference('ridge', store, out, '2');
    assert.ok(r.attributions < 1e-4 && r.bias < 1e-4, JSON.stringify(r));
  } finally {
    ctx.destroy();
  }
});

/** Write what the API returned as `coar fit` would, for the reference to read. */
function fitOutputs(out: string, w: Float32Array, b: Float32Array, c: number, n: number): void {
  mkdirSync(out, { recursive: true });
  writeNpy(join(out, 'attributions.npy'), 'f4', [c, n], w);
  writeNpy(join(out, 'bias.npy'), 'f4', [n], b);
}

// ---- bad input: one line, exit 1, nothing written ----

/** Run `coar fit` expecting failure; returns the message. */
function rejects(store: string, flags: string[] = [], out = join(dir, `bad${stores++}`)): string {
  const r = coar(['fit', store, '--out', out, '--quiet', ...flags]);
  assert.is(r.code, 1, `expected exit 1, got ${r.code}: ${r.stderr}`);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('coar:'));
  assert.is(lines.length, 1, `one error line, got: ${r.stderr}`);
  assert.not.ok(existsSync(join(out, 'attributions.npy')) || existsSync(join(store, 'attributions.npy')), 'no output written');
  assert.not.ok(existsSync(out) && readdirSync(out).length > 0, `nothing in ${out}`);
  return lines[0]!;
}

function badStore(edit: (path: (f: string) => string) => void): string {
  const store = makeStore({ m: 50, c: 16, n: 3, seed: 11 });
  edit((f) => join(store, f));
  return store;
}

test('mismatched row counts between masks and margins are rejected with both counts', () => {
  const store = badStore((p) => {
    const g = readNpy(p('test_margins.npy'));
    writeNpy(p('test_margins.npy'), 'f2', [49, 3], (g.data as Uint16Array).subarray(0, 49 * 3));
  });
  assert.match(rejects(store), /masks\.npy has 50 rows, test_margins\.npy has 49/);
});

test('masks that are not boolean are rejected with the dtype or the value', () => {
  const store = badStore((p) => writeNpy(p('masks.npy'), 'f4', [50, 16], new Float32Array(50 * 16).fill(1)));
  assert.match(rejects(store), /masks must be boolean.*f4/);
  const store2 = badStore((p) => {
    const m = readNpy(p('masks.npy'));
    const d = m.data as Uint8Array;
    d[7 * 16 + 3] = 2;
    writeNpy(p('masks.npy'), 'u1', [50, 16], d);
  });
  assert.match(rejects(store2), /row 7 holds the value 2/);
});

test('NaN and Inf margins are rejected naming the rows', () => {
  const store = badStore((p) => {
    const g = readNpy(p('test_margins.npy'));
    const d = g.data as Uint16Array;
    d[4 * 3 + 1] = 0x7e00; // NaN
    d[31 * 3] = 0x7c00; // +Inf
    writeNpy(p('test_margins.npy'), 'f2', [50, 3], d);
  });
  assert.match(rejects(store, ['--lambda', '1']), /NaN or Inf margins in rows 4, 31/);
});

test('a negative lambda is rejected with its value', () => {
  const store = badStore(() => {});
  assert.match(rejects(store, ['--lambda', '-1']), /--lambda must be a number >= 0, got -1/);
});

test('an empty completed set is rejected', () => {
  const store = badStore((p) => writeNpy(p('_completed.npy'), 'b1', [50], new Uint8Array(50)));
  assert.match(rejects(store, ['--lambda', '1']), /no completed rows/);
});

test.run();
