/**
 * The fit at the reference's scale, in chunks (issue 18.3): synthetic stores of i.i.d. masks
 * (α = 5% ablated) whose float16 margins are planted sparse attributions (20 components per
 * example, uniform in [-1, 1]) plus noise, written to disk by rows; `coar fit`'s library
 * function fitStore run on them in a child process (its own peak RSS), under a --memory bound.
 * Reported per run: time, peak RSS, device buffers, the float64 residual of ridge's normal
 * equations (bench/fit.ts residual, each example at its chosen lambda; OLS at 0), and recovery of the
 * planted attributions (relative error, and the share of the 20 largest fitted attributions
 * that are planted ones).
 *
 *   node --import tsx bench/fit_scale.ts run [--c C] [--sizes m:n,m:n,...] [--methods M:L,...] [--memory GB] [--solver S]
 *   node --import tsx bench/fit_scale.ts make STORE M C N     (child)
 *   node --import tsx bench/fit_scale.ts fit STORE OUT METHOD LAMBDA|chosen MEMORY_GB [SOLVER]   (child)
 *
 * Results accumulate in $COAR_BENCH_DIR/fit-scale.json (default /tmp/coar-fit-bench). With
 * COAR_BENCH_DETAIL=1 the fit's solver lines (design, iterations, residuals) are logged, timed.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fitStore } from '../src/coar/fit.js';
import { floatToHalf } from '../src/io/f16.js';
import { npyHeaderBytes, readNpy, toFloat32 } from '../src/io/npy.js';

const HERE = fileURLToPath(import.meta.url);
const WORK = process.env.COAR_BENCH_DIR ?? '/tmp/coar-fit-bench';
const RESULTS = join(WORK, 'fit-scale.json');
const ALPHA = 0.05;
const PLANTED = 20;

/** Masks and margins written block by block (never the whole matrix in memory), and the planted attributions. */
function makeStore(dir: string, m: number, c: number, n: number, seed = 5): void {
  if (existsSync(join(dir, 'test_margins.npy'))) return;
  mkdirSync(dir, { recursive: true });
  let s = seed >>> 0;
  const rand = () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return (s + 0.5) / 2 ** 32; };
  const support = Array.from({ length: n }, () => {
    const picked = new Set<number>();
    while (picked.size < PLANTED) picked.add(Math.floor(rand() * c));
    return [...picked].map((j) => [j, rand() * 2 - 1] as const);
  });
  const planted = new Float32Array(c * n);
  support.forEach((sup, e) => { for (const [j, w] of sup) planted[j * n + e] = w; });
  const maskFd = openSync(join(dir, 'masks.npy'), 'w');
  const marginFd = openSync(join(dir, 'test_margins.npy'), 'w');
  writeSync(maskFd, npyHeaderBytes('b1', [m, c]));
  writeSync(marginFd, npyHeaderBytes('f2', [m, n]));
  const block = Math.max(1, Math.floor((64 << 20) / c));
  const logKeep = Math.log(1 - ALPHA);
  for (let r0 = 0; r0 < m; r0 += block) {
    const rows = Math.min(block, m - r0);
    const masks = new Uint8Array(rows * c).fill(1);
    // ablated positions by geometric gaps: i.i.d. Bernoulli(alpha) without a draw per entry
    for (let k = Math.floor(Math.log(rand()) / logKeep); k < rows * c; k += 1 + Math.floor(Math.log(rand()) / logKeep)) masks[k] = 0;
    const margins = new Uint16Array(rows * n);
    for (let i = 0; i < rows; i++) for (let e = 0; e < n; e++) {
      let y = 1 + 0.3 * (rand() - 0.5);
      for (const [j, w] of support[e]!) y += w * masks[i * c + j]!;
      margins[i * n + e] = floatToHalf(y);
    }
    writeSync(maskFd, masks);
    writeSync(marginFd, new Uint8Array(margins.buffer));
  }
  closeSync(maskFd);
  closeSync(marginFd);
  writeFileSync(join(dir, 'planted.bin'), new Uint8Array(planted.buffer));
}

/** Relative error of the fitted attributions and the share of each example's 20 largest that are planted, averaged. */
function recovery(store: string, out: string, c: number, n: number): { relError: number; topPrecision: number } {
  const planted = new Float32Array(readFileSync(join(store, 'planted.bin')).buffer.slice(0));
  const w = toFloat32(readNpy(join(out, 'attributions.npy')));
  let err = 0, hits = 0;
  for (let e = 0; e < n; e++) {
    let d = 0, t = 0;
    const order: [number, number][] = [];
    for (let j = 0; j < c; j++) {
      const p = planted[j * n + e]!, f = w[j * n + e]!;
      d += (f - p) ** 2; t += p * p;
      order.push([Math.abs(f), j]);
    }
    err += Math.sqrt(d / t);
    order.sort((a, b) => b[0] - a[0]);
    hits += order.slice(0, PLANTED).filter(([, j]) => planted[j * n + e] !== 0).length / PLANTED;
  }
  return { relError: err / n, topPrecision: hits / n };
}

const [mode = 'run', ...rest] = process.argv.slice(2);
const opt = (name: string) => { const i = rest.indexOf(`--${name}`); return i >= 0 ? rest[i + 1] : undefined; };

if (mode === 'make') {
  const [store, m, c, n] = rest;
  makeStore(store!, Number(m), Number(c), Number(n));
} else if (mode === 'fit') {
  const [store, out, method, lam, memory, solver = 'auto'] = rest;
  const t0 = performance.now();
  const r = await fitStore(store!, {
    method: method as 'ols' | 'ridge' | 'lasso', lambda: lam === 'chosen' ? undefined : Number(lam), out, memoryBytes: Number(memory) * 2 ** 30,
    maxIter: method === 'lasso' ? 2000 : undefined, solver: solver as 'auto',
  }, {
    progress: (s) => process.stderr.write(`  ${new Date().toISOString().slice(11, 19)} ${s}\n`),
    // COAR_BENCH_DETAIL=1: the solver's own lines too (design, iterations, residuals), timed
    detail: process.env.COAR_BENCH_DETAIL ? (s) => process.stderr.write(`  ${new Date().toISOString().slice(11, 19)}   ${s}\n`) : undefined,
  });
  const cpu = process.cpuUsage();
  console.log(JSON.stringify({ seconds: (performance.now() - t0) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6, peakRssGiB: process.resourceUsage().maxRSS / 2 ** 20, summary: r.summary }));
} else if (mode === 'run') {
  const c = Number(opt('c') ?? 22720);
  const memory = Number(opt('memory') ?? 4);
  const sizes = (opt('sizes') ?? '5000:8,10000:8,10000:24').split(',').map((p) => p.split(':').map(Number) as [number, number]);
  const methods = (opt('methods') ?? 'ridge:chosen,lasso:0.01').split(',').map((p) => p.split(':') as [string, string]);
  mkdirSync(WORK, { recursive: true });
  const results: Record<string, unknown>[] = existsSync(RESULTS) ? JSON.parse(readFileSync(RESULTS, 'utf8')) : [];
  for (const [m, n] of sizes) {
    const store = join(WORK, `scale-${m}-${c}-${n}`);
    const t0 = performance.now();
    const made = spawnSync(process.execPath, [...process.execArgv, HERE, 'make', store, String(m), String(c), String(n)], { stdio: 'inherit' });
    if (made.status !== 0) process.exit(1);
    const makeSeconds = (performance.now() - t0) / 1000;
    for (const [method, lam] of methods) {
      const out = join(store, `out-${method}-${lam}`);
      const load0 = loadavg()[0]!;
      const r = spawnSync(process.execPath, [...process.execArgv, HERE, 'fit', store, out, method, lam, String(memory), opt('solver') ?? 'auto'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
      if (r.status !== 0) { console.error(`fit failed: ${method} ${m}x${n}`); continue; }
      const fit = JSON.parse(r.stdout.trim().split('\n').pop()!);
      let residual64: number | undefined;
      if (method !== 'lasso') {
        const res = spawnSync(process.execPath, [...process.execArgv, join(dirname(HERE), 'fit.ts'), 'residual', store, out, method === 'ols' ? '0' : lam], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
        if (res.status === 0) residual64 = JSON.parse(res.stdout.trim().split('\n').pop()!).worst;
      }
      const row = {
        method, lambda: lam, m, c, n, memoryGiB: memory, seconds: fit.seconds, cpuSeconds: fit.cpuSeconds, peakRssGiB: fit.peakRssGiB,
        peakDeviceGiB: (fit.summary.peakDeviceBytes as number) / 2 ** 30, solver: fit.summary.solver, iterations: fit.summary.iterations,
        converged: fit.summary.converged, chunks: fit.summary.chunks, chunkExamples: fit.summary.chunkExamples, residual64,
        ...recovery(store, out, c, n), makeSeconds, load: [load0, loadavg()[0]!],
        machine: `${cpus().length}-core ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB, lavapipe`, date: new Date().toISOString().slice(0, 16),
      };
      results.push(row);
      writeFileSync(RESULTS, JSON.stringify(results, null, 2));
      console.log(JSON.stringify(row));
    }
  }
} else {
  console.error(`unknown mode ${mode}`);
  process.exit(1);
}
