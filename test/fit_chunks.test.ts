/**
 * The fit in chunks of examples (issues 16.1, 18.2): device memory does not grow with the
 * lambda grid or the number of chunks; slices `--examples a:b` assemble to the whole fit
 * exactly; a fit killed by SIGKILL resumes from its chunks to the same bytes; and the chunked
 * fit of a store is still scikit-learn's ridge (test/reference/fit_sklearn.py, live).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fitAttributions, fitStore, type FitStoreOptions } from '../src/coar/fit.js';
import { GpuContext } from '../src/gpu/context.js';
import { DiskLedger } from '../src/coar/fit/chunks.js';
import { readNpy, toFloat32 } from '../src/io/npy.js';
import { coar } from './support/cli.js';
import { npyRelDiff } from './support/npy_compare.js';
import { PYTHON, runReference } from './support/python.js';
import { tempDir } from './support/tmp.js';

const dir = tempDir('coar-fit-chunks-');
let stores = 0;
function makeStore(opts: Record<string, string | number>): string {
  const store = join(dir, `store${stores++}`);
  runReference('fit_sklearn.py', ['make', store, ...Object.entries(opts).flatMap(([k, v]) => [`--${k}`, String(v)])]);
  return store;
}
const reference = (...args: string[]) => JSON.parse(runReference('fit_sklearn.py', args));
const store = makeStore({ m: 400, c: 64, n: 22, seed: 31, incomplete: 10 });
let ctx: GpuContext;
test.before(async () => { ctx = await GpuContext.open(); });
test.after(() => ctx.destroy());

const quietFit = (out: string, o: Partial<FitStoreOptions>) => fitStore(store, { method: 'ridge', out, ctx, examplesPerChunk: 8, ...o });
const bytes = (out: string, f: string) => readFileSync(join(out, f));

test('device memory does not grow with the number of chunks, nor LASSO\'s with the lambda grid; ridge\'s path is one multi-shift CG run, two vectors per extra lambda', async () => {
  const m = 300, C = 40;
  const masks = new Uint8Array(m * C).map((_, i) => ((i * 2654435761) >>> 0) % 17 === 0 ? 0 : 1);
  const fit = async (n: number, lambdaPath: number, method: 'ridge' | 'lasso') => {
    const margins = Float32Array.from({ length: m * n }, (_, i) => Math.sin(i * 0.37) + masks[(Math.floor(i / n) * C) + (i % C)]!);
    return fitAttributions(ctx, { data: masks, rows: m, components: C }, margins, n, { method, lambdaPath, examplesPerChunk: 4, maxIter: 300 });
  };
  const lasso = (await fit(4, 3, 'lasso')).peakDeviceBytes;
  assert.is((await fit(4, 13, 'lasso')).peakDeviceBytes, lasso, 'lasso: 13 lambdas use the device memory of 3');
  assert.is((await fit(16, 13, 'lasso')).peakDeviceBytes, lasso, 'lasso: 4 chunks use the device memory of 1');
  const [three, thirteen, chunks] = [await fit(4, 3, 'ridge'), await fit(4, 13, 'ridge'), await fit(16, 13, 'ridge')];
  // 270 train rows > 40 components: the primal, [40 x 1 vec4] per vector; per shift x, p, 4 + 3 scalars per column
  assert.is(thirteen.peakDeviceBytes - three.peakDeviceBytes, 10 * (2 * 40 * 16 + 7 * 16), 'ridge: 10 more lambdas, 10 more shifted systems');
  assert.is(thirteen.iterations, three.iterations, 'ridge: 13 lambdas take the CG iterations of 3');
  assert.is(chunks.peakDeviceBytes, thirteen.peakDeviceBytes, 'ridge: 4 chunks use the device memory of 1');
});

test('the console of a chunked fit: a start and an end line; chunk progress without a terminal; the plan and the lambda search with --verbose', () => {
  const args = ['fit', store, '--out', join(dir, 'console'), '--examples-per-chunk', '8'];
  const plain = coar(args);
  assert.is(plain.code, 0, plain.stderr);
  const lines = plain.stderr.trim().split('\n');
  assert.is(lines.length, 2, plain.stderr);
  assert.match(lines[0]!, /^fit: \d+ of \d+ rows, 64 components, examples 0-22 of 22/);
  assert.match(lines[1]!, /^fit: wrote .*attributions\.npy \[64, 22\]/);
  // a progress line per chunk when every line is due (COAR_PROGRESS_SECONDS=0), none at the last
  const progress = coar(args, { env: { COAR_PROGRESS_SECONDS: '0' } });
  assert.is(progress.code, 0, progress.stderr);
  for (const phase of ['choosing lambda', 'fitting']) {
    assert.match(progress.stderr, `fit: ${phase}: 33% (1/3 chunks)`);
    assert.match(progress.stderr, `fit: ${phase}: 66% (2/3 chunks)`);
    assert.not.match(progress.stderr, `fit: ${phase}: 100%`);
  }
  const loud = coar([...args, '--verbose']);
  assert.is(loud.code, 0, loud.stderr);
  assert.match(loud.stderr, /fit: 22 examples in 3 chunks of up to 8 \(/);
  assert.match(loud.stderr, /fit: choosing lambda on \d+ train \/ \d+ validation rows/);
  assert.match(loud.stderr, /fit: examples 16-22 fitted \(\d+ iterations\)/);
});

test('the chunked fit of a store (lambda chosen per example) is scikit-learn\'s ridge, and slices a:b assemble to it exactly', async () => {
  const whole = join(dir, 'whole');
  const r = await quietFit(whole, {});
  assert.is(r.summary.chunks, 3);
  const sel = reference('select', store, whole, 'ridge');
  assert.ok(sel.on_grid && sel.validation_gap < 1e-3 && sel.attributions < 1e-4 && sel.bias < 1e-4, JSON.stringify(sel));
  assert.not.ok(existsSync(join(whole, '.fit-chunks')), 'the chunks are removed once assembled');
  // slices that do not start on the chunk grid, through the CLI
  const parts = [[0, 5], [5, 13], [13, 22]].map(([a, b]) => {
    const out = join(dir, `slice-${a}-${b}`);
    const c = coar(['fit', store, '--out', out, '--quiet', '--examples', `${a}:${b}`, '--examples-per-chunk', '8']);
    assert.is(c.code, 0, c.stderr);
    return { a: a!, b: b!, out };
  });
  const C = 64, n = 22;
  const w = toFloat32(readNpy(join(whole, 'attributions.npy')));
  const bias = toFloat32(readNpy(join(whole, 'bias.npy')));
  const lambda = toFloat32(readNpy(join(whole, 'lambda.npy')));
  for (const { a, b, out } of parts) {
    const k = b - a;
    const ws = toFloat32(readNpy(join(out, 'attributions.npy')));
    assert.equal(readNpy(join(out, 'attributions.npy')).shape, [C, k]);
    for (let j = 0; j < C; j++) for (let e = 0; e < k; e++) assert.is(ws[j * k + e], w[j * n + a + e], `attribution ${j}, example ${a + e}`);
    assert.equal(Array.from(toFloat32(readNpy(join(out, 'bias.npy')))), Array.from(bias.subarray(a, b)));
    assert.equal(Array.from(toFloat32(readNpy(join(out, 'lambda.npy')))), Array.from(lambda.subarray(a, b)));
  }
});

test('chunks are assembled block by block into numpy\'s concatenation of the chunk files, when the output spans many blocks', () => {
  // 90 MB of attributions at |C| = 22,720, n = 1,000 spanned three 32 MiB blocks, and each was
  // written with the last one's contents; here blocks of 5 component rows, the last one partial
  const C = 23, out = join(dir, 'assembled'), ref = join(dir, 'assembled-numpy');
  const chunks: [number, number][] = [[0, 7], [7, 14], [14, 17]];
  const ledger = new DiskLedger(out, C, { test: 'assemble' });
  ledger.begin({});
  for (const [c0, c1] of chunks) {
    const w = c1 - c0;
    ledger.saveFit(c0, c1, { attributions: Float32Array.from({ length: C * w }, (_, i) => Math.sin(1 + c0 * 1000 + i)), bias: Float32Array.from({ length: w }, (_, e) => c0 + e), iterations: 1, converged: true });
  }
  const n = 17;
  ledger.assemble(out, chunks, 5 * n * 4);
  mkdirSync(ref, { recursive: true });
  execFileSync(PYTHON, ['-c', `
import sys, numpy as np
d, ref = sys.argv[1], sys.argv[2]
parts = [np.load(f"{d}/fit-{a}-{b}.npy", allow_pickle=False) for a, b in [(0, 7), (7, 14), (14, 17)]]
whole = np.concatenate(parts, axis=1)
np.save(f"{ref}/attributions.npy", whole[:-1]); np.save(f"{ref}/bias.npy", whole[-1])
`, ledger.dir, ref]);
  const d = npyRelDiff(out, ref, ['attributions.npy', 'bias.npy']);
  for (const f of ['attributions.npy', 'bias.npy']) assert.ok(d[f]!.same && d[f]!.rel === 0, `${f}: ${JSON.stringify(d[f])}`);
  assert.equal(d['attributions.npy']!.shape, [C, n]);
});

test('lasso slices assemble to the whole lasso fit exactly (FISTA freezes each converged column)', async () => {
  const whole = join(dir, 'lasso-whole');
  await quietFit(whole, { method: 'lasso', lambda: 0.05 });
  const lasso = reference('lasso', store, whole, '0.05');
  assert.ok(lasso.objective < 1e-5, JSON.stringify(lasso));
  const part = join(dir, 'lasso-part');
  await quietFit(part, { method: 'lasso', lambda: 0.05, examples: [3, 17] });
  const w = toFloat32(readNpy(join(whole, 'attributions.npy')));
  const ws = toFloat32(readNpy(join(part, 'attributions.npy')));
  for (let j = 0; j < 64; j++) for (let e = 0; e < 14; e++) assert.is(ws[j * 14 + e], w[j * 22 + 3 + e]);
});

/** Run `coar ARGS` and SIGKILL it once `out` holds `chunks` solved chunks; the chunks it held then. */
function killAfterChunks(args: string[], out: string, chunks: number): Promise<number> {
  return new Promise<number>((resolve) => {
    const child = spawn(process.execPath, ['bin/coar.js', ...args], { stdio: 'ignore' });
    let done = -1;
    const poll = setInterval(() => {
      const folder = join(out, '.fit-chunks');
      const n = existsSync(folder) ? readdirSync(folder).filter((f) => /^fit-.*\.json$/.test(f)).length : 0;
      if (n >= chunks) { clearInterval(poll); done = n; child.kill('SIGKILL'); }
    }, 10);
    // resolved once the child is reaped (a zombie still holds its pid, and with it the lock)
    child.on('exit', () => { clearInterval(poll); resolve(done); });
  });
}

test('a fit killed by SIGKILL after some chunks resumes from them to the same bytes', async () => {
  const straight = join(dir, 'straight');
  await quietFit(straight, { examplesPerChunk: 4 });
  const out = join(dir, 'killed');
  const killedAfter = await killAfterChunks(['fit', store, '--out', out, '--quiet', '--examples-per-chunk', '4'], out, 2);
  assert.ok(killedAfter >= 2, 'killed mid-fit, after its second chunk');
  assert.not.ok(existsSync(join(out, 'attributions.npy')));
  const again = coar(['fit', store, '--out', out, '--quiet', '--examples-per-chunk', '4']);
  assert.is(again.code, 0, again.stderr);
  const summary = JSON.parse(readFileSync(join(out, 'fit.json'), 'utf8'));
  assert.ok(summary.resumedChunks >= 2, `resumed ${summary.resumedChunks} chunks`);
  for (const f of ['attributions.npy', 'bias.npy', 'lambda.npy']) assert.ok(bytes(out, f).equals(bytes(straight, f)), `${f} identical`);
});

test('a Cholesky fit killed after some chunks resumes with the Gram matrix and factor its first run kept, to the same bytes', async () => {
  const flags = ['--solver', 'cholesky', '--lambda', '10', '--examples-per-chunk', '4'];
  const straight = join(dir, 'cholesky-straight');
  const first = coar(['fit', store, '--out', straight, ...flags]);
  assert.is(first.code, 0, first.stderr);
  assert.match(first.stderr, /Gram matrix \+ lambda I factored/);
  const out = join(dir, 'cholesky-killed');
  assert.ok(await killAfterChunks(['fit', store, '--out', out, '--quiet', ...flags], out, 2) >= 2, 'killed mid-fit, after its second chunk');
  assert.ok(existsSync(join(out, '.fit-chunks', 'factor.npy')), 'the factor is kept beside the chunks');
  // the Gram matrix as kept is numpy's Z^T Z of the standardized masks (float32)
  const gram = reference('gram', store, join(out, '.fit-chunks', 'gram.npy'));
  assert.ok(gram.relative < 1e-6, JSON.stringify(gram));
  const again = coar(['fit', store, '--out', out, ...flags, '--verbose']);
  assert.is(again.code, 0, again.stderr);
  assert.match(again.stderr, /Gram matrix: the one kept by the interrupted run read/);
  assert.not.match(again.stderr, /Gram matrix built/);
  assert.match(again.stderr, /the factor kept by the interrupted run read/);
  assert.not.match(again.stderr, /factored/);
  for (const f of ['attributions.npy', 'bias.npy']) assert.ok(bytes(out, f).equals(bytes(straight, f)), `${f} identical`);
  assert.not.ok(existsSync(join(out, '.fit-chunks')), 'the chunk folder, factor included, is removed at the end');
});

test('one lambda for all examples: the Cholesky factorization of the Gram gives scikit-learn\'s ridge and numpy\'s OLS, and is the automatic choice for many examples', async () => {
  const out = join(dir, 'cholesky-ridge');
  const r = await quietFit(out, { lambda: 10, solver: 'cholesky' });
  assert.is(r.summary.solver, 'cholesky');
  const ref = reference('ridge', store, out, '10');
  assert.ok(ref.attributions < 1e-4 && ref.bias < 1e-4, JSON.stringify(ref));
  const ols = join(dir, 'cholesky-ols');
  await quietFit(ols, { method: 'ols', solver: 'cholesky' });
  const refOls = reference('ols', store, ols);
  assert.ok(refOls.attributions < 1e-4 && refOls.bias < 1e-4, JSON.stringify(refOls));
  const { chooseSolver } = await import('../src/coar/fit/cost.js');
  const shape = { rows: 100_000, components: 22_720, density: 0.05, method: 'ridge' as const, choosing: false, tol: 1e-6 };
  assert.is(chooseSolver({ ...shape, examples: 50_000 }), 'cholesky', 'ResNet-50 scale, 50,000 examples, one lambda');
  assert.is(chooseSolver({ ...shape, examples: 100 }), 'matrix-free', '100 examples');
  assert.is(chooseSolver({ ...shape, examples: 50_000, choosing: true }), 'matrix-free', 'a lambda per example');
});

test('the blocked Cholesky factorization (one thread or three) and solve equal numpy\'s where the sizes cut the blocks and the fours unevenly', async () => {
  const { choleskyFactor, choleskyFactorThreads, choleskySolve } = await import('../src/coar/fit/cholesky.js');
  // 4 block columns of 64 and 7 rows over; 7 right-hand sides; one constant component
  for (const [n, w] of [[263, 7], [64, 4], [5, 3]] as const) {
    const out = join(dir, `cholesky-${n}`);
    const { zero } = reference('cholesky', out, String(n), String(w), '2.5', '13');
    const read = (f: string) => readNpy(join(out, f)).data as Float64Array;
    const a = Float64Array.from(read('a.npy'));
    choleskyFactor(a, n, 2.5);
    const l = read('l.npy');
    let worst = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) worst = Math.max(worst, Math.abs(a[i * n + j]! - l[i * n + j]!) / Math.abs(l[i * n + i]!));
    assert.ok(worst < 1e-12, `n = ${n}: L differs from numpy's by ${worst} (relative to its diagonal)`);
    assert.is(a[zero * n + zero], 1, 'a constant component gets 1 on the diagonal');
    // the trailing updates shared by 3 threads: the same arithmetic per entry, the same factor
    const shared = new Float64Array(new SharedArrayBuffer(n * n * 8));
    shared.set(read('a.npy'));
    await choleskyFactorThreads(shared, n, 2.5, 3);
    for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) if (shared[i * n + j] !== a[i * n + j]) assert.unreachable(`n = ${n}: 3 threads differ at (${i}, ${j})`);
    const x = choleskySolve(a, n, toFloat32(readNpy(join(out, 'b.npy'))), w);
    const ref = read('x.npy');
    let scale = 0, diff = 0;
    ref.forEach((v, i) => { scale = Math.max(scale, Math.abs(v)); diff = Math.max(diff, Math.abs(v - x[i]!)); });
    assert.ok(diff / scale < 1e-6, `n = ${n}: X differs from numpy's solve by ${diff / scale} relative`);
  }
});

test('a memory bound too small for the shared part is refused with the sizes', () => {
  const r = coar(['fit', store, '--out', join(dir, 'small'), '--quiet', '--memory', '0.00001']);
  assert.is(r.code, 1);
  assert.match(r.stderr, /the fit needs at least [\d.]+ GB .*--memory allows 0\.00 GB/);
  const bad = coar(['fit', store, '--out', join(dir, 'small'), '--quiet', '--examples', '5:99']);
  assert.match(bad.stderr, /--examples 5:99 is not a slice a:b of the 22 examples/);
});

test.run();
