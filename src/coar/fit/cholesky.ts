/**
 * Ridge / OLS by a factorization instead of iterations: (Z^T Z + lambda I) = L L^T once,
 * O(|C|^3 / 6) multiply-adds on the host in float64, then O(2 |C|^2) per example. Cheaper
 * than CG when many examples share one lambda (cost.ts decides). The Gram matrix comes from
 * the device (built by popcount, float32); the solution then seeds CG, which checks the
 * true residual and refines it if float32 rounding of the Gram left it above the tolerance.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { readF32 } from './arena.js';
import type { Design } from './design.js';

/** The standardized Gram matrix of a design with a stored Gram (float64, |C|p x |C|p row-major). */
export async function gramToHost(design: Design): Promise<Float64Array> {
  const cp = design.cp;
  // shared, so that the factorization's update threads work on it in place
  const g = new Float64Array(new SharedArrayBuffer(cp * cp * 8));
  for (const block of design.gram) g.set(await readF32(design.arena.ctx, block.buffer, block.rows * cp), block.row0 * cp);
  return g;
}

const NB = 64;

/** Rows [r0, r1) of the block column [k0, k1): a[i][j] = (a[i][j] - sum_{k0<=k<j} a[i][k] a[j][k]) / a[j][j]; the diagonal rows take a square root. */
function blockColumn(a: Float64Array, n: number, k0: number, k1: number, r0: number, r1: number): void {
  for (let i = r0; i < r1; i++) {
    const ri = i * n;
    for (let j = k0; j < Math.min(k1, i + 1); j++) {
      const rj = j * n;
      let s = a[ri + j]!;
      for (let k = k0; k < j; k++) s -= a[ri + k]! * a[rj + k]!;
      if (i === j) {
        if (!(s > 0)) throw new Error(`Cholesky: matrix not positive definite at row ${i} (${s}); use an iterative solver`);
        a[ri + i] = Math.sqrt(s);
      } else a[ri + j] = s / a[rj + j]!;
    }
  }
}

/**
 * The trailing update of the block column just factored, for update rows [r0, r1) (counted from
 * k1; r0 a multiple of 4): a[i][j] -= sum_k P[i][k] P[j][k] on and below the diagonal, with P the
 * block column packed by rows of width w, in 4 x 4 register blocks so that every panel row loaded
 * serves four rows of the update. Row ranges are independent: threads share them.
 */
export function trailingUpdate(a: Float64Array, n: number, panel: Float64Array, k1: number, w: number, r0: number, r1: number): void {
  let i = r0;
  for (; i + 4 <= r1; i += 4) {
    const p0 = i * w, p1 = p0 + w, p2 = p1 + w, p3 = p2 + w;
    const a0 = (i + k1) * n + k1, a1 = a0 + n, a2 = a1 + n, a3 = a2 + n;
    for (let j = 0; j <= i; j += 4) {
      const q0 = j * w, q1 = q0 + w, q2 = q1 + w, q3 = q2 + w;
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
      let s20 = 0, s21 = 0, s22 = 0, s23 = 0, s30 = 0, s31 = 0, s32 = 0, s33 = 0;
      for (let k = 0; k < w; k++) {
        const x0 = panel[p0 + k]!, x1 = panel[p1 + k]!, x2 = panel[p2 + k]!, x3 = panel[p3 + k]!;
        const y0 = panel[q0 + k]!, y1 = panel[q1 + k]!, y2 = panel[q2 + k]!, y3 = panel[q3 + k]!;
        s00 += x0 * y0; s01 += x0 * y1; s02 += x0 * y2; s03 += x0 * y3;
        s10 += x1 * y0; s11 += x1 * y1; s12 += x1 * y2; s13 += x1 * y3;
        s20 += x2 * y0; s21 += x2 * y1; s22 += x2 * y2; s23 += x2 * y3;
        s30 += x3 * y0; s31 += x3 * y1; s32 += x3 * y2; s33 += x3 * y3;
      }
      if (j < i) {
        a[a0 + j]! -= s00; a[a0 + j + 1]! -= s01; a[a0 + j + 2]! -= s02; a[a0 + j + 3]! -= s03;
        a[a1 + j]! -= s10; a[a1 + j + 1]! -= s11; a[a1 + j + 2]! -= s12; a[a1 + j + 3]! -= s13;
        a[a2 + j]! -= s20; a[a2 + j + 1]! -= s21; a[a2 + j + 2]! -= s22; a[a2 + j + 3]! -= s23;
        a[a3 + j]! -= s30; a[a3 + j + 1]! -= s31; a[a3 + j + 2]! -= s32; a[a3 + j + 3]! -= s33;
      } else {
        // the diagonal 4 x 4: its lower triangle only
        a[a0 + j]! -= s00;
        a[a1 + j]! -= s10; a[a1 + j + 1]! -= s11;
        a[a2 + j]! -= s20; a[a2 + j + 1]! -= s21; a[a2 + j + 2]! -= s22;
        a[a3 + j]! -= s30; a[a3 + j + 1]! -= s31; a[a3 + j + 2]! -= s32; a[a3 + j + 3]! -= s33;
      }
    }
  }
  // the last rows (fewer than 4)
  for (; i < r1; i++) {
    const ai = (i + k1) * n + k1;
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = 0; k < w; k++) s += panel[i * w + k]! * panel[j * w + k]!;
      a[ai + j]! -= s;
    }
  }
}

/** Update rows [0, rows) cut into `parts` ranges of equal work (row i costs i + 1), on multiples of 4. */
export function updateRanges(rows: number, parts: number): [number, number][] {
  const cuts = [0];
  for (let t = 1; t < parts; t++) cuts.push(Math.max(cuts[t - 1]!, Math.min(rows, Math.floor(rows * Math.sqrt(t / parts) / 4) * 4)));
  cuts.push(rows);
  return cuts.slice(0, -1).map((c, t) => [c, cuts[t + 1]!]);
}

/** One step of the factorization: block column [k0, k1) factored and packed; returns the update rows below it. */
function factorBlockColumn(a: Float64Array, n: number, panel: Float64Array, k0: number, k1: number): number {
  const w = k1 - k0;
  blockColumn(a, n, k0, k1, k0, n);
  // pack the block column of rows below it: row i - k1 at panel[(i - k1) * w]
  const rows = n - k1;
  for (let i = 0; i < rows; i++) panel.set(a.subarray((i + k1) * n + k0, (i + k1) * n + k1), i * w);
  return rows;
}

function shiftDiagonal(a: Float64Array, n: number, lambda: number): void {
  for (let i = 0; i < n; i++) if (a[i * n + i] === 0) a[i * n + i] = 1; else a[i * n + i]! += lambda;
}

/**
 * In place: the lower triangle of `a` (n x n row-major) becomes L with L L^T = a + lambda I.
 * Rows with a zero diagonal (constant components, padding) get 1 there: their weight is 0.
 * Right-looking by block columns of NB: each block column is factored by rows, copied into a
 * contiguous panel (L3-sized at the reference's |C|), and the trailing lower triangle updated
 * (trailingUpdate: 0.35 ns per multiply-add at 4,000-8,000 on this machine, against 1.3 unblocked).
 */
export function choleskyFactor(a: Float64Array, n: number, lambda: number, onStep?: StepProgress): void {
  shiftDiagonal(a, n, lambda);
  const panel = new Float64Array(n * NB);
  for (let k0 = 0; k0 < n; k0 += NB) {
    const k1 = Math.min(n, k0 + NB);
    trailingUpdate(a, n, panel, k1, k1 - k0, 0, factorBlockColumn(a, n, panel, k0, k1));
    onStep?.(workDone(n, k1));
  }
}

/** After each block column: the share of the factorization's work done (the thread is busy: a synchronous callback). */
export type StepProgress = (fraction: number) => void;

/** Work of the factorization left after k1 columns is that of order n - k1: cubic. */
const workDone = (n: number, k1: number) => 1 - ((n - k1) / n) ** 3;

/**
 * The factor L L^T = G + lambda I of a design's stored Gram matrix, on the host: the one `kept`
 * holds (a fit resumed after a kill), or made on `factorThreads` threads, with a progress line at
 * every tenth of the work when that takes minutes (the reference's |C| = 22,720), then kept.
 */
export async function factorGram(design: Design, lambda: number,
  kept: { factor?(n: number): Float64Array | undefined; saveFactor?(f: Float64Array, n: number): void; saveGram?(g: Float64Array, n: number): void },
  progress?: (message: string) => void): Promise<Float64Array> {
  const cp = design.cp;
  const t0 = Date.now();
  const seconds = () => ((Date.now() - t0) / 1000).toFixed(1);
  const old = kept.factor?.(cp);
  if (old) { progress?.(`Gram matrix + lambda I: the factor kept by the interrupted run read (${cp} x ${cp}, ${seconds()} s)`); return old; }
  const factor = await gramToHost(design);
  // kept before it is factored in place: a resumed run then neither builds nor factors it
  kept.saveGram?.(factor, cp);
  const threads = factorThreads(cp);
  const on = `${cp} x ${cp}, ${threads} thread${threads > 1 ? 's' : ''}`;
  let shown = 0;
  const onStep = cp >= 4096 ? (f: number) => {
    if (f >= 1 || f < shown + 0.1) return;
    shown = Math.floor(f * 10) / 10;
    progress?.(`factoring the Gram matrix (${on}): ${Math.round(100 * f)}% of the work in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  } : undefined;
  await choleskyFactorThreads(factor, cp, lambda, threads, onStep);
  progress?.(`Gram matrix + lambda I factored (${on}, ${seconds()} s)`);
  kept.saveFactor?.(factor, cp);
  return factor;
}

/** Threads for a factorization of order n: one below 1,024 (starting workers costs more), else the machine's cores, at most 8. */
export function factorThreads(n: number): number { return n < 1024 ? 1 : Math.max(1, Math.min(8, availableParallelism())); }

/** Control words shared with the update threads (cholesky_worker.ts). */
export const CTRL = { generation: 0, k1: 1, w: 2, done: 3, failed: 4, ranges: 5 } as const;

/**
 * choleskyFactor with the trailing updates shared by `threads` threads (this one and
 * threads - 1 workers, cholesky_worker.ts), each a range of rows of equal work; `a` must be on a
 * SharedArrayBuffer. The same arithmetic in the same order per entry: the factor is identical.
 */
export async function choleskyFactorThreads(a: Float64Array, n: number, lambda: number, threads: number, onStep?: StepProgress): Promise<void> {
  // (a bundle of the CLI without the worker's file beside it factors on one thread)
  const boot = new URL('./cholesky_worker_boot.mjs', import.meta.url);
  if (threads <= 1 || !(a.buffer instanceof SharedArrayBuffer) || !existsSync(boot)) { choleskyFactor(a, n, lambda, onStep); return; }
  const { Worker } = await import('node:worker_threads');
  shiftDiagonal(a, n, lambda);
  const panelBuffer = new SharedArrayBuffer(n * NB * 8);
  const panel = new Float64Array(panelBuffer);
  const ctrl = new Int32Array(new SharedArrayBuffer((CTRL.ranges + 2 * threads) * 4));
  const workers = Array.from({ length: threads - 1 }, (_, t) => new Worker(boot, {
    workerData: { a: a.buffer, byteOffset: a.byteOffset, n, panel: panelBuffer, ctrl: ctrl.buffer, slot: t + 1 },
  }));
  try {
    for (let k0 = 0, gen = 1; k0 < n; k0 += NB, gen++) {
      const k1 = Math.min(n, k0 + NB);
      const rows = factorBlockColumn(a, n, panel, k0, k1);
      const ranges = updateRanges(rows, threads);
      ranges.forEach(([r0, r1], t) => { ctrl[CTRL.ranges + 2 * t] = r0; ctrl[CTRL.ranges + 2 * t + 1] = r1; });
      ctrl[CTRL.k1] = k1; ctrl[CTRL.w] = k1 - k0;
      Atomics.store(ctrl, CTRL.done, 0);
      Atomics.store(ctrl, CTRL.generation, gen);
      Atomics.notify(ctrl, CTRL.generation);
      trailingUpdate(a, n, panel, k1, k1 - k0, ranges[0]![0], ranges[0]![1]);
      for (let d = Atomics.load(ctrl, CTRL.done); d < threads - 1; d = Atomics.load(ctrl, CTRL.done)) {
        if (Atomics.wait(ctrl, CTRL.done, d, 60_000) === 'timed-out' && Atomics.load(ctrl, CTRL.done) === d) {
          throw new Error(`Cholesky: an update thread gave no answer in 60 s at column ${k0}`);
        }
      }
      if (ctrl[CTRL.failed]) throw new Error(`Cholesky: an update thread failed at column ${k0}`);
      onStep?.(workDone(n, k1));
    }
  } finally {
    Atomics.store(ctrl, CTRL.generation, -1);
    Atomics.notify(ctrl, CTRL.generation);
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/**
 * Solve L L^T X = B for the `w` columns of B ([n x w] row-major, float32 in, float64 work), into
 * a new Float32Array. Rows are substituted four at a time, so each earlier row of X is read once
 * per four rows (0.44 ns per multiply-add at 6,000 x 128, against 1.1 row by row).
 */
export function choleskySolve(l: Float64Array, n: number, b: Float32Array, w: number): Float32Array {
  const x = Float64Array.from(b);
  // forward, L y = b: rows in fours; every earlier row of x is read once per four rows
  for (let i0 = 0; i0 < n; i0 += 4) {
    const i1 = Math.min(n, i0 + 4);
    substituteEarlier(l, n, x, w, i0, i1, true);
    for (let i = i0; i < i1; i++) {
      for (let k = i0; k < i; k++) { const f = l[i * n + k]!; for (let c = 0; c < w; c++) x[i * w + c]! -= f * x[k * w + c]!; }
      const d = l[i * n + i]!;
      for (let c = 0; c < w; c++) x[i * w + c]! /= d;
    }
  }
  // backward, L^T x = y: rows in fours from the end; x_k -= sum_i L[i][k] x_i for k below the four
  for (let i1 = n; i1 > 0; i1 -= 4) {
    const i0 = Math.max(0, i1 - 4);
    for (let i = i1 - 1; i >= i0; i--) {
      const d = l[i * n + i]!;
      for (let c = 0; c < w; c++) x[i * w + c]! /= d;
      for (let k = i0; k < i; k++) { const f = l[i * n + k]!; for (let c = 0; c < w; c++) x[k * w + c]! -= f * x[i * w + c]!; }
    }
    substituteEarlier(l, n, x, w, i0, i1, false);
  }
  return Float32Array.from(x);
}

/**
 * Rows [i0, i1) of L (at most 4) against every row k < i0 of x ([n x w]): forward,
 * x_i -= L[i][k] x_k (into the four rows); backward, x_k -= sum_i L[i][k] x_i (from them).
 * Four rows at once read each row k of x once.
 */
function substituteEarlier(l: Float64Array, n: number, x: Float64Array, w: number, i0: number, i1: number, forward: boolean): void {
  if (i1 - i0 < 4) {
    for (let i = i0; i < i1; i++) for (let k = 0; k < i0; k++) {
      const f = l[i * n + k]!;
      if (f === 0) continue;
      if (forward) for (let c = 0; c < w; c++) x[i * w + c]! -= f * x[k * w + c]!;
      else for (let c = 0; c < w; c++) x[k * w + c]! -= f * x[i * w + c]!;
    }
    return;
  }
  const r0 = i0 * n, r1 = r0 + n, r2 = r1 + n, r3 = r2 + n;
  const x0 = i0 * w, x1 = x0 + w, x2 = x1 + w, x3 = x2 + w;
  for (let k = 0; k < i0; k++) {
    const f0 = l[r0 + k]!, f1 = l[r1 + k]!, f2 = l[r2 + k]!, f3 = l[r3 + k]!;
    if (f0 === 0 && f1 === 0 && f2 === 0 && f3 === 0) continue;
    const xk = k * w;
    if (forward) {
      for (let c = 0; c < w; c++) {
        const v = x[xk + c]!;
        x[x0 + c]! -= f0 * v; x[x1 + c]! -= f1 * v; x[x2 + c]! -= f2 * v; x[x3 + c]! -= f3 * v;
      }
    } else {
      for (let c = 0; c < w; c++) x[xk + c]! -= f0 * x[x0 + c]! + f1 * x[x1 + c]! + f2 * x[x2 + c]! + f3 * x[x3 + c]!;
    }
  }
}
