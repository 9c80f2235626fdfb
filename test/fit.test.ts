/**
 * `coar fit` (issue 4): attributions from a mask/margin store written by numpy, checked
 * against scikit-learn run live on the same store (test/reference/fit_sklearn.py), and
 * every bad input rejected with one line and no output files.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fitAttributions, type FitOptions } from '../src/coar/fit.js';
import { packMasks } from '../src/coar/fit_masks.js';
import { openStore, readMargins, readMaskRows } from '../src/coar/store.js';
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

// ---- solver paths (stored Gram, stored kernel matrix, products with index lists), forced and automatic ----

let shared: GpuContext | undefined;

/** Fit a store in this process through the API, write the outputs as `coar fit` would; returns the solver used. */
async function apiFit(store: string, out: string, opts: FitOptions): Promise<string> {
  shared ??= await GpuContext.open();
  const s = openStore(store);
  const margins = readMargins(s, s.usedRows);
  const masks = packMasks((a, b) => readMaskRows(s, a, b), s.usedRows, s.components);
  s.close();
  const res = await fitAttributions(shared, masks, margins, s.examples, opts);
  fitOutputs(out, res.attributions, res.bias, s.components, s.examples);
  return res.solver;
}

function ridgeAgrees(store: string, lambda: number, outs: string[]): void {
  const r = reference('ridge_many', store, String(lambda), ...outs);
  for (const out of outs) assert.ok(r[out].attributions < 1e-4 && r[out].bias < 1e-4, `${out}: ${JSON.stringify(r[out])}`);
}

test('m > |C|: the kernel-matrix (dual) solver and products cut into many blocks and chunks give scikit-learn\'s ridge', async () => {
  const dual = join(dir, 'ridge-dual-tall');
  const blocked = join(dir, 'ridge-blocked-tall');
  assert.is(await apiFit(main, dual, { method: 'ridge', lambda: 10, solver: 'dual' }), 'dual');
  await apiFit(main, blocked, { method: 'ridge', lambda: 10, solver: 'matrix-free', blocking: { width: 7, entries: 500 } });
  ridgeAgrees(main, 10, [dual, blocked]);
});

// (The stored primal Gram matrix is not among them: with m < |C| its null space holds |C| - m + 1
// eigenvalues equal to lambda, and f32 rounding that leaks there is amplified by
// bulk eigenvalue / lambda: ~2e-4 relative at these sizes. That is why m < |C| solves in the dual.)
test('m < |C|: the dual solvers give scikit-learn\'s ridge; the automatic choice is the kernel matrix for dense masks, products for sparse ones', async () => {
  const dense = makeStore({ m: 150, c: 400, n: 6, seed: 22, alpha: 0.5 });
  const sparse = makeStore({ m: 150, c: 400, n: 6, seed: 21 });
  const outs: Record<string, string[]> = { [dense]: [], [sparse]: [] };
  for (const [store, solver, expected] of [
    [dense, 'auto', 'dual'], [dense, 'matrix-free', 'matrix-free'], [sparse, 'auto', 'matrix-free'], [sparse, 'dual', 'dual'],
  ] as const) {
    const out = join(dir, `ridge-wide-${outs[store]!.length}-${store === dense ? 'dense' : 'sparse'}`);
    assert.is(await apiFit(store, out, { method: 'ridge', lambda: 3, solver }), expected);
    outs[store]!.push(out);
  }
  ridgeAgrees(dense, 3, outs[dense]!);
  ridgeAgrees(sparse, 3, outs[sparse]!);
});

test('m < |C|: choosing lambda in the dual space (one multi-shift CG run for the path), each solver picks scikit-learn\'s best lambda on held-out rows', () => {
  const store = makeStore({ m: 150, c: 400, n: 6, seed: 21 });
  for (const solver of ['matrix-free', 'dual']) {
    const out = join(dir, `ridge-wide-select-${solver}`);
    fit(store, out, '--method', 'ridge', '--solver', solver);
    const r = reference('select', store, out, 'ridge');
    assert.ok(r.on_grid, `${solver}: chosen lambdas are on the grid`);
    assert.ok(r.validation_gap < 1e-3, `${solver}: chosen lambda is ${r.validation_gap} worse than the best on held-out rows`);
    assert.ok(r.attributions < 1e-4 && r.bias < 1e-4, `${solver}: ${JSON.stringify(r)}`);
  }
});

test('m < |C|: OLS returns the minimum-norm solution in standardized units, as numpy\'s lstsq on the centred standardized masks', async () => {
  const store = makeStore({ m: 120, c: 360, n: 5, seed: 23, alpha: 0.3 });
  const outs = [join(dir, 'ols-wide-auto'), join(dir, 'ols-wide-free')];
  await apiFit(store, outs[0]!, { method: 'ols' });
  assert.is(await apiFit(store, outs[1]!, { method: 'ols', solver: 'matrix-free' }), 'matrix-free');
  const r = reference('ols_min_norm', store, ...outs);
  assert.is(r.rank, 119, 'the centred design has rank m - 1');
  for (const out of outs) assert.ok(r[out].attributions < 1e-4 && r[out].bias < 1e-4, `${out}: ${JSON.stringify(r[out])}`);
});

test('LASSO refuses the dual solver with a clear message', async () => {
  shared ??= await GpuContext.open();
  try {
    await fitAttributions(shared, { data: new Uint8Array(40).fill(1), rows: 10, components: 4 }, new Float32Array(10), 1, { method: 'lasso', lambda: 0.1, solver: 'dual' });
    assert.unreachable('should have thrown');
  } catch (e) {
    assert.match((e as Error).message, /--solver dual solves ridge and OLS only/);
  }
});

test.after(() => { shared?.destroy(); });

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
