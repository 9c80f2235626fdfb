/**
 * Fit benchmarks (issue 4): `coar fit`'s solver against scikit-learn and numpy on the same
 * synthetic stores, and the ViT-B/16 (matrix-free) and ResNet-50 (Gram) scales.
 *
 *   node --import tsx bench/fit.ts compare            three sizes beside sklearn Ridge/Lasso, numpy lstsq
 *   node --import tsx bench/fit.ts resnet50 [options]  |C| = 22,720 (m 10,000 unless --m)
 *   node --import tsx bench/fit.ts vit [options]       |C| = 82,944 (m 20,000 unless --m)
 *     options: --m M  --n N  --solver auto|gram|dual|matrix-free  --method ridge|ols|lasso  --lambda L
 *              --tol T  --max-iter K  --label TEXT (the row's case name)
 *   node --import tsx bench/fit.ts products [m] [C] [n] work per unit (CPU seconds) of a sparse product, a
 *                                                  stored-Gram product and a Gram build: WORK_COST in src/coar/fit/cost.ts
 *   node --import tsx bench/fit.ts cholesky [N] [W] [T]  ns per multiply-add of the host's Cholesky factorization
 *                                                  (N x N, T threads) and solve (W right-hand sides): hostFma in cost.ts
 *   node --import tsx bench/fit.ts residual STORE OUT LAMBDA|chosen   ridge's relative residual of OUT's attributions in float64
 *                                                  (chosen: each example's lambda from OUT/lambda.npy)
 *   node --import tsx bench/fit.ts render             rewrite the section (with fit-notes.md) from the results
 *
 * Stores are made in a child process first, so the peak RSS is the fit's alone. Results
 * accumulate in $COAR_BENCH_DIR/fit-results.json (default /tmp/coar-fit-bench) and the
 * `## Fit` section of BENCHMARKS.md is rewritten from them after every run.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fitAttributions, type FitMethod } from '../src/coar/fit.js';
import { packMaskArray, packMasks } from '../src/coar/fit_masks.js';
import { Arena, readF32, run } from '../src/coar/fit/arena.js';
import { Design, type Solver } from '../src/coar/fit/design.js';
import { defaultBlocking } from '../src/coar/fit/lists.js';
import { openStore, readMargins, readMaskRows } from '../src/coar/store.js';
import { GpuContext } from '../src/gpu/context.js';
import { floatToHalf } from '../src/io/f16.js';
import { readNpy, toFloat32, writeNpy } from '../src/io/npy.js';
import { runReference } from '../test/support/python.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const WORK = process.env.COAR_BENCH_DIR ?? '/tmp/coar-fit-bench';
const RESULTS = join(WORK, 'fit-results.json');
const ALPHA = 0.05;

interface Row {
  case: string; method: FitMethod; solver: Solver; m: number; c: number; n: number; lambda: number;
  fitSeconds: number; readSeconds: number; iterations: number; converged: boolean; maxIter?: number;
  peakRssGiB: number; peakDeviceGiB: number; reference?: Record<string, number>; date: string;
  tol?: number; cpuSeconds?: number; load?: [number, number];
  /** worst relative residual of the normal equations, recomputed in float64 from the written attributions */
  residual64?: number;
  /** the same as the fit measured it in float32 */
  residual32?: number;
}

/** A store of i.i.d. masks (alpha ablated) whose margins depend on 20 components per example, plus noise. */
function makeStore(dir: string, m: number, c: number, n: number, seed = 1): void {
  if (existsSync(join(dir, 'test_margins.npy'))) return;
  mkdirSync(dir, { recursive: true });
  let s = seed >>> 0;
  const rand = () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return (s + 0.5) / 2 ** 32; };
  const masks = new Uint8Array(m * c).fill(1);
  const logKeep = Math.log(1 - ALPHA);
  for (let i = 0; i < m; i++) {
    // geometric gaps between ablated components: O(alpha |C|) draws per row
    for (let j = Math.floor(Math.log(rand()) / logKeep); j < c; j += 1 + Math.floor(Math.log(rand()) / logKeep)) masks[i * c + j] = 0;
  }
  const support = Array.from({ length: n }, () => Array.from({ length: 20 }, () => [Math.floor(rand() * c), rand() * 2 - 1] as const));
  const margins = new Float32Array(m * n);
  for (let i = 0; i < m; i++) for (let k = 0; k < n; k++) {
    let y = 1 + 0.3 * (rand() - 0.5);
    for (const [j, w] of support[k]!) y += w * masks[i * c + j]!;
    margins[i * n + k] = y;
  }
  writeNpy(join(dir, 'masks.npy'), 'b1', [m, c], masks);
  writeNpy(join(dir, 'test_margins.npy'), 'f2', [m, n], Uint16Array.from(margins, floatToHalf));
}

async function ours(store: string, method: FitMethod, lambda: number, solver: Solver | 'auto', maxIter?: number, tol?: number) {
  const t0 = performance.now();
  const s = openStore(store);
  const margins = readMargins(s, s.usedRows);
  const masks = packMasks((a, b) => readMaskRows(s, a, b), s.usedRows, s.components);
  s.close();
  const readSeconds = (performance.now() - t0) / 1000;
  const ctx = await GpuContext.open();
  try {
    const t1 = performance.now();
    const r = await fitAttributions(ctx, masks, margins, s.examples, {
      method, lambda, solver, maxIter, tol,
      progress: (msg) => process.stderr.write(`  ${new Date().toISOString().slice(11, 19)} ${msg}\n`),
    });
    const fitSeconds = (performance.now() - t1) / 1000;
    const out = join(store, `out-${method}-${r.solver}`);
    mkdirSync(out, { recursive: true });
    writeNpy(join(out, 'attributions.npy'), 'f4', [s.components, s.examples], r.attributions);
    writeNpy(join(out, 'bias.npy'), 'f4', [s.examples], r.bias);
    return { r, readSeconds, fitSeconds, m: s.usedRows.length, c: s.components, n: s.examples, out };
  } finally {
    ctx.destroy();
  }
}

/**
 * Ridge's normal equations in standardized units, Z^T (yc - Z w_s) - lambda w_s relative to
 * Z^T yc, per example, in float64 from the written attributions (raw units: Z w_s = Xc w_raw,
 * w_s = S w_raw). Independent of the device code: only the store and the outputs.
 */
function residual64(store: string, out: string, lambdaArg: number | 'chosen'): { worst: number; median: number } {
  const s = openStore(store);
  const y = readMargins(s, s.usedRows);
  const p = packMasks((a, b) => readMaskRows(s, a, b), s.usedRows, s.components);
  s.close();
  const m = p.rows, c = p.components, n = s.examples;
  const w = Float64Array.from(toFloat32(readNpy(join(out, 'attributions.npy'))));
  // 'chosen': each example's lambda from OUT/lambda.npy (chosen on held-out rows)
  const lambdas = lambdaArg === 'chosen' ? toFloat32(readNpy(join(out, 'lambda.npy'))) : new Float32Array(n).fill(lambdaArg);
  // X = U or 1 - U (flipped): X w = base + sign * U w with base = 0 or sum_j w_j
  const sign = p.flipped ? -1 : 1;
  const count = new Float64Array(c);
  const visit = (f: (i: number, j: number) => void) => {
    for (let i = 0; i < m; i++) for (let k = 0; k < p.wordsPerRow; k++) {
      let v = p.bits[i * p.wordsPerRow + k]!;
      while (v !== 0) { const low = v & -v; f(i, k * 32 + 31 - Math.clz32(low)); v ^= low; }
    }
  };
  visit((_, j) => { count[j]!++; });
  const mean = Float64Array.from(count, (k) => (p.flipped ? 1 - k / m : k / m));
  const sd = Float64Array.from(mean, (u) => Math.sqrt(u * (1 - u)));
  const ybar = new Float64Array(n);
  for (let i = 0; i < m; i++) for (let k = 0; k < n; k++) ybar[k]! += y[i * n + k]! / m;
  const base = new Float64Array(n);
  const muW = new Float64Array(n);
  for (let j = 0; j < c; j++) for (let k = 0; k < n; k++) { if (p.flipped) base[k]! += w[j * n + k]!; muW[k]! += mean[j]! * w[j * n + k]!; }
  // e = yc - Xc w
  const e = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let k = 0; k < n; k++) e[i * n + k] = y[i * n + k]! - ybar[k]! - base[k]! + muW[k]!;
  visit((i, j) => { for (let k = 0; k < n; k++) e[i * n + k]! -= sign * w[j * n + k]!; });
  // X^T v = base' + sign U^T v: accumulate U^T e and U^T yc
  const ue = new Float64Array(c * n);
  const uy = new Float64Array(c * n);
  visit((i, j) => { for (let k = 0; k < n; k++) { ue[j * n + k]! += e[i * n + k]!; uy[j * n + k]! += y[i * n + k]! - ybar[k]!; } });
  const sumE = new Float64Array(n);
  for (let i = 0; i < m; i++) for (let k = 0; k < n; k++) sumE[k]! += e[i * n + k]!;
  const rel: number[] = [];
  for (let k = 0; k < n; k++) {
    let g2 = 0, b2 = 0;
    for (let j = 0; j < c; j++) {
      if (!(sd[j]! > 1e-12)) continue;
      // (X - 1 mu^T)^T e = X^T e - mu (1^T e), X^T e = (flipped ? 1^T e : 0) + sign U^T e
      const xe = (p.flipped ? sumE[k]! : 0) + sign * ue[j * n + k]! - mean[j]! * sumE[k]!;
      const g = xe / sd[j]! - lambdas[k]! * sd[j]! * w[j * n + k]!;
      const b = sign * uy[j * n + k]! / sd[j]!;
      g2 += g * g;
      b2 += b * b;
    }
    rel.push(Math.sqrt(g2 / b2));
  }
  rel.sort((a, b) => a - b);
  return { worst: rel[rel.length - 1]!, median: rel[Math.floor(rel.length / 2)]! };
}

function loadRows(): Row[] { return existsSync(RESULTS) ? JSON.parse(readFileSync(RESULTS, 'utf8')) as Row[] : []; }

function save(row: Row): void {
  const rows = loadRows().filter((r) => !(r.case === row.case && r.method === row.method));
  rows.push(row);
  writeFileSync(RESULTS, JSON.stringify(rows, null, 2));
  writeSection(rows);
}

async function record(name: string, store: string, method: FitMethod, lambda: number, solver: Solver | 'auto', refs: string[], lassoLambda: number,
  maxIter?: number, tol?: number) {
  process.stderr.write(`${name} ${method}\n`);
  const load0 = loadavg()[0]!;
  const cpu0 = process.cpuUsage();
  const o = await ours(store, method, lambda, solver, maxIter, tol);
  const cpu = process.cpuUsage(cpu0);
  const load: [number, number] = [load0, loadavg()[0]!];
  let residual64: number | undefined;
  if (method !== 'lasso') {
    // in a child process, so that the fit's peak RSS stays its own
    const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), 'residual', store, o.out, String(lambda)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    if (r.status === 0) residual64 = JSON.parse(r.stdout.trim().split('\n').pop()!).worst;
  }
  let reference: Record<string, number> | undefined;
  if (refs.length) reference = JSON.parse(runReference('fit_sklearn.py', ['time', store, refs.join(','), String(lambda), String(lassoLambda)]));
  const row: Row = {
    case: name, method, solver: o.r.solver, m: o.m, c: o.c, n: o.n, lambda, fitSeconds: o.fitSeconds, readSeconds: o.readSeconds,
    iterations: o.r.iterations, converged: o.r.converged, maxIter, peakRssGiB: process.resourceUsage().maxRSS / 2 ** 20,
    peakDeviceGiB: o.r.peakDeviceBytes / 2 ** 30, reference, date: new Date().toISOString().slice(0, 10),
    tol, cpuSeconds: (cpu.user + cpu.system) / 1e6, load, residual64, residual32: o.r.residual,
  };
  save(row);
  console.log(JSON.stringify(row));
}

function writeSection(rows: Row[]): void {
  const path = join(ROOT, 'BENCHMARKS.md');
  const f = (x: number, d = 1) => x.toFixed(d);
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  const lines = [
    '## Fit',
    '',
    `Machine: ${cpus().length}-core ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB, no GPU; WebGPU adapter: Mesa lavapipe (llvmpipe, LLVM 15, 256-bit).`,
    `Produced by \`node --import tsx bench/fit.ts compare|resnet50|vit\`; dates per row. Synthetic stores: i.i.d. masks with α = ${ALPHA}`,
    'ablated, float16 margins depending on 20 components per example plus noise. "fit" is `fitAttributions` (Gram or',
    'products, CG / FISTA, raw-unit conversion; includes pipeline compilation), "read" is reading and bit-packing the store.',
    '"CPU" is the CPU time the bench process got during the fit (lavapipe runs in-process), "load" the 1-minute load average',
    'at its start and end: the 2-core machine is shared with other engineers\' builds, so wall times depend on it.',
    '"residual (f64)" is the worst relative residual of the normal equations over the examples, recomputed in float64 from',
    'the written attributions by `bench/fit.ts residual` (independent of the device code); "iterations" names the tolerance',
    'the solver was given. References run in the same session on the same store with Debian\'s numpy/scikit-learn (float64,',
    'OMP_NUM_THREADS=2), including their StandardScaler. "ours / reference" is our fit time over theirs (below 1: we are',
    'faster). Peak RSS is the bench process\'s high-water mark (lavapipe\'s device memory is host memory, so it includes the',
    'device buffers; stores are made in a child process); rows run in one process share it.',
    '',
    '| case | method | m | \\|C\\| | n | λ | solver | fit (s) | CPU (s) | load | read (s) | iterations | residual (f64) | reference (s) | ours / reference | peak RSS (GiB) | device buffers (GiB) | date |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const refs = Object.entries(r.reference ?? {});
    const refText = refs.map(([k, v]) => `${k} ${f(v, 2)}`).join(', ') || '—';
    const ratio = refs.map(([k, v]) => `${f(r.fitSeconds / v, 2)}× ${k.replace(/_.*/, '')}`).join(', ') || '—';
    const iters = `${r.iterations}${r.maxIter ? ` (cap ${r.maxIter})` : ''}${r.converged ? '' : ', not converged'}${r.tol ? ` (tol ${r.tol})` : ''}`;
    const load = r.load ? `${f(r.load[0])}–${f(r.load[1])}` : '—';
    const cpu = r.cpuSeconds !== undefined ? f(r.cpuSeconds) : '—';
    const res = r.residual64 !== undefined ? r.residual64.toExponential(1) : '—';
    lines.push(`| ${r.case} | ${r.method} | ${r.m} | ${r.c} | ${r.n} | ${r.lambda} | ${r.solver} | ${f(r.fitSeconds)} | ${cpu} | ${load} | ${f(r.readSeconds)} | ${iters} | ${res} | ${refText} | ${ratio} | ${f(r.peakRssGiB, 2)} | ${f(r.peakDeviceGiB, 2)} | ${r.date} |`);
  }
  const notes = join(WORK, 'fit-notes.md');
  if (existsSync(notes)) lines.push('', readFileSync(notes, 'utf8').trim());
  const section = lines.join('\n') + '\n';
  let text = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n';
  const start = text.indexOf('\n## Fit\n');
  if (start >= 0) {
    const next = text.indexOf('\n## ', start + 1);
    text = text.slice(0, start + 1) + section + (next >= 0 ? '\n' + text.slice(next + 1) : '');
  } else {
    text = text.trimEnd() + '\n\n' + section;
  }
  writeFileSync(path, text);
}

const [mode = 'compare', ...rest] = process.argv.slice(2);
mkdirSync(WORK, { recursive: true });
if (mode === 'compare') {
  const sizes = [[2000, 512, 100], [10000, 2304, 100], [20000, 3904, 100]] as const;
  for (const [m, c, n] of sizes) {
    const store = join(WORK, `store-${m}-${c}-${n}`);
    makeStore(store, m, c, n);
    const name = `${m}×${c}`;
    await record(name, store, 'ridge', 0.01 * m, 'auto', ['ridge'], 0);
    await record(name, store, 'ols', 0, 'auto', ['ols'], 0);
    if (c <= 2304) await record(name, store, 'lasso', 0.01, 'auto', ['lasso'], 0.01);
  }
} else if (mode === 'resnet50' || mode === 'vit') {
  const opt = (name: string) => { const i = rest.indexOf(`--${name}`); return i >= 0 ? rest[i + 1] : undefined; };
  const c = mode === 'vit' ? 82944 : 22720;
  const m = Number(opt('m') ?? (mode === 'vit' ? 20000 : 10000));
  const n = Number(opt('n') ?? 100);
  const method = (opt('method') ?? 'ridge') as FitMethod;
  const lambda = Number(opt('lambda') ?? (method === 'ols' ? 0 : method === 'lasso' ? 0.01 : 0.01 * m));
  const store = join(WORK, `store-${m}-${c}-${n}`);
  if (!existsSync(join(store, 'test_margins.npy'))) {
    const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), 'make', store, String(m), String(c), String(n)], { stdio: 'inherit' });
    if (r.status !== 0) process.exit(1);
  }
  const name = opt('label') ?? `${mode === 'vit' ? 'ViT-B/16' : 'ResNet-50'} scale`;
  const maxIter = opt('max-iter') ? Number(opt('max-iter')) : undefined;
  const tol = opt('tol') ? Number(opt('tol')) : undefined;
  await record(name, store, method, lambda, (opt('solver') ?? 'auto') as Solver | 'auto', [], lambda, maxIter, tol);
} else if (mode === 'residual') {
  const [store, out, lam] = rest;
  console.log(JSON.stringify(residual64(store!, out!, lam === 'chosen' ? 'chosen' : Number(lam))));
} else if (mode === 'make') {
  const [store, m, c, n] = rest;
  makeStore(store!, Number(m), Number(c), Number(n));
} else if (mode === 'products') {
  const [m = 4000, c = 8000, n = 100] = rest.map(Number);
  let seed = 7;
  const rand = () => { seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0; return seed / 2 ** 32; };
  const masks = new Uint8Array(m * c).map(() => (rand() < ALPHA ? 0 : 1));
  const packed = packMaskArray(masks, m, c);
  const ctx = await GpuContext.open();
  const n4 = Math.ceil(n / 4);
  const cpuTime = async (f: () => Promise<void> | void) => {
    const c0 = process.cpuUsage(); const t0 = performance.now();
    await f();
    const cu = process.cpuUsage(c0);
    return { cpu: (cu.user + cu.system) / 1e6, wall: (performance.now() - t0) / 1000 };
  };
  const out: Record<string, number> = {};
  for (const solver of ['matrix-free', 'dual', 'gram'] as Solver[]) {
    const arena = new Arena(ctx);
    let design!: Design;
    const build = await cpuTime(async () => { design = new Design(arena, packed, 0, m, solver, defaultBlocking(ctx, n4)); await readF32(ctx, design.invStdBuf, 4); });
    const rows = design.rows;
    const x = arena.upload(new Float32Array(rows * n4 * 4).map(() => rand() - 0.5), 'x');
    const y = arena.create(rows * n4 * 16, 'y');
    const lam = arena.create(n4 * 16, 'lambda');
    const op = design.operator(n4);
    run(ctx, op.prepare(x, lam, y)); await readF32(ctx, y, 4); // compile
    const apply = await cpuTime(async () => { for (let k = 0; k < 3; k++) run(ctx, op.prepare(x, lam, y)); await readF32(ctx, y, 4); });
    const nnz = design.byComponent.entries;
    if (solver === 'matrix-free') out.sparse = apply.cpu / 3 / (2 * nnz * n);
    else {
      out[`${solver} dense`] = apply.cpu / 3 / (rows * rows * n);
      const words = solver === 'dual' ? Math.ceil(c * 1.05 / 128) * 4 : Math.ceil(m / 128) * 4;
      out[`${solver} popcount`] = build.cpu / (rows * rows / 2 * words);
    }
    console.log(`${solver}: build ${build.cpu.toFixed(1)} cpu-s (${build.wall.toFixed(1)} s), 3 operator applications ${apply.cpu.toFixed(1)} cpu-s (${apply.wall.toFixed(1)} s), load ${loadavg()[0]!.toFixed(1)}`);
    arena.destroy();
  }
  const unit = out.sparse!;
  console.log(JSON.stringify(Object.fromEntries(Object.entries(out).map(([k, v]) => [k, `${(v * 1e9).toFixed(2)} ns = ${(v / unit).toFixed(3)} sparse`]))));
  ctx.destroy();
} else if (mode === 'cholesky') {
  const n = Number(rest[0] ?? 4000), w = Number(rest[1] ?? 128), threads = Number(rest[2] ?? 1);
  // a diagonally dominant symmetric matrix (positive definite): the work does not depend on the values
  let seed = 7;
  const rand = () => { seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0; return seed / 2 ** 32; };
  const a = new Float64Array(new SharedArrayBuffer(n * n * 8));
  for (let i = 0; i < n; i++) { for (let j = 0; j < i; j++) a[i * n + j] = a[j * n + i] = rand() - 0.5; a[i * n + i] = n; }
  const { choleskyFactorThreads, choleskySolve } = await import('../src/coar/fit/cholesky.js');
  let t0 = performance.now();
  await choleskyFactorThreads(a, n, 0, threads);
  const factor = (performance.now() - t0) / 1000;
  const b = new Float32Array(n * w).map(rand);
  t0 = performance.now();
  choleskySolve(a, n, b, w);
  const solve = (performance.now() - t0) / 1000;
  console.log(JSON.stringify({ n, w, threads, factorSeconds: factor, factorNsPerFma: factor / (n ** 3 / 6) * 1e9, solveSeconds: solve, solveNsPerFma: solve / (n * n * w) * 1e9, load: loadavg()[0] }));
} else if (mode === 'render') {
  writeSection(loadRows());
} else {
  console.error(`unknown mode ${mode}`);
  process.exit(1);
}
process.exit(0);
