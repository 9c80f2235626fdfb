/**
 * The regression on the device: one standardized design (masks of a row range, as bits)
 * and solvers that treat every example as a column of one block, each column with its
 * own step sizes (REFERENCE.md, "Regression (fit)").
 *
 * With U the packed 0/1 matrix (see fit_masks.ts), mu its column means and S its column
 * standard deviations, the standardized design is Z = (U - 1 mu^T) S^-1 and the solvers
 * only ever need A P = Z^T Z P and B = Z^T (Y - 1 ybar^T). A comes either from a stored
 * Gram matrix (built from the bits by popcount) or matrix-free, as S^-1 U^T (U S^-1 P - 1 s^T)
 * with s = mu^T S^-1 P.
 */
import { readBuffer } from '../gpu/buffers.js';
import { encodeDispatches, type Dispatch, type GpuContext } from '../gpu/context.js';
import {
  cgDirection, cgStep, colDot, colSqDiff, colWeightedSum, fistaStep, gramBlock, gramProduct, listProduct, MATMUL_ROWS,
  scaleRows, subtract, vecParams, type BitBlock, type ListBlock,
} from '../kernels/fit.js';
import { componentLists, rowLists, transposeMasks, type IndexLists, type PackedMasks } from './fit_masks.js';

export type Solver = 'gram' | 'matrix-free';
export type Progress = (message: string) => void;

/** Buffers created for one fit, destroyed together. */
export class Arena {
  private buffers: GPUBuffer[] = [];
  bytes = 0;
  peakBytes = 0;
  constructor(readonly ctx: GpuContext) {}

  create(bytes: number, label: string, usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST): GPUBuffer {
    const size = Math.max(16, Math.ceil(bytes / 16) * 16);
    const b = this.ctx.device.createBuffer({ size, usage, label });
    this.buffers.push(b);
    this.bytes += size;
    this.peakBytes = Math.max(this.peakBytes, this.bytes);
    return b;
  }

  upload(data: ArrayBufferView, label: string): GPUBuffer {
    const b = this.create(data.byteLength, label);
    this.ctx.device.queue.writeBuffer(b, 0, data.buffer, data.byteOffset, data.byteLength);
    return b;
  }

  uniform(b: GPUBuffer): GPUBuffer { this.buffers.push(b); return b; }

  destroy(): void {
    for (const b of this.buffers) b.destroy();
    this.buffers = [];
    this.bytes = 0;
  }
}

export function run(ctx: GpuContext, dispatches: readonly Dispatch[]): void {
  const enc = ctx.device.createCommandEncoder();
  const pass = enc.beginComputePass();
  encodeDispatches(pass, dispatches);
  pass.end();
  ctx.device.queue.submit([enc.finish()]);
}

export async function readF32(ctx: GpuContext, b: GPUBuffer, count: number): Promise<Float32Array> {
  return new Float32Array(await readBuffer(ctx.device, b, count * 4));
}

function copy(ctx: GpuContext, src: GPUBuffer, dst: GPUBuffer, bytes: number): void {
  const enc = ctx.device.createCommandEncoder();
  enc.copyBufferToBuffer(src, 0, dst, 0, Math.ceil(bytes / 4) * 4);
  ctx.device.queue.submit([enc.finish()]);
}

/** Upload rows [start, end) of a bit matrix in blocks that each fit one storage binding. */
function uploadBits(arena: Arena, bits: Uint32Array, wordsPerRow: number, start: number, end: number, rowsPerBlock: number, label: string): BitBlock[] {
  const blocks: BitBlock[] = [];
  for (let r = start; r < end; r += rowsPerBlock) {
    const e = Math.min(end, r + rowsPerBlock);
    const buffer = arena.upload(bits.subarray(r * wordsPerRow, e * wordsPerRow), label);
    blocks.push({ buffer, row0: r - start, rows: e - r, words4: wordsPerRow / 4 });
  }
  return blocks;
}

function blockRows(maxBinding: number, rowBytes: number, align: number): number {
  return Math.max(align, Math.floor(maxBinding / rowBytes / align) * align);
}

/** Bytes the stored Gram matrix would take for `components` columns. */
export const gramBytes = (components: number) => (Math.ceil(components / 4) * 4) ** 2 * 4;

/**
 * Rows of the dense operand one list block covers: about 640 KiB of it, so that on a CPU
 * adapter the rows a sparse product gathers stay in a core's L2 cache (at |C| = 82,944 this
 * made the product ~6x faster than unblocked lists on lavapipe; see BENCHMARKS.md).
 */
export const listBlockWidth = (n4: number) => Math.max(64, Math.floor((640 << 10) / (n4 * 16)));

/** Index lists on the device: chunks (one binding each) and the number of blocks per chunk. */
export interface DeviceLists { chunks: ListBlock[]; blocks: number; entries: number }

export function uploadLists(arena: Arena, lists: IndexLists, label: string): DeviceLists {
  return {
    blocks: lists.blocks,
    entries: lists.entries,
    chunks: lists.chunks.map((c) => ({ ptr: arena.upload(c.ptr, `${label} ptr`), idx: arena.upload(c.idx, `${label} idx`), row0: c.row0, rows: c.rows })),
  };
}

/** out = (0/1 matrix of the lists) x - 1 sub^T, one dispatch per chunk and block. */
export function listDispatches(ctx: GpuContext, lists: DeviceLists, x: GPUBuffer, n4: number, sub: GPUBuffer, out: GPUBuffer): Dispatch[] {
  return lists.chunks.flatMap((c) => Array.from({ length: lists.blocks }, (_, block) => listProduct(ctx, { lists: c, block, x, n4, sub, out })));
}

/** Row lists of mask rows [start, end) on the device, for predictions on those rows. */
export function maskRowLists(arena: Arena, masks: PackedMasks, start: number, end: number, n4: number, label: string): DeviceLists {
  return uploadLists(arena, rowLists(masks, start, end, listBlockWidth(n4), Math.floor(arena.ctx.maxBinding / 4)), label);
}

/** A linear operator P -> (Z^T Z + diag(lambda)) P on [Cp x n4] matrices. */
export interface Operator {
  prepare(x: GPUBuffer, lambda: GPUBuffer, out: GPUBuffer): Dispatch[];
}

/**
 * The standardized masks of rows [start, end): statistics, the masks on the device (index
 * lists of the set bits by component, plus by mask row for products, or bits by component for
 * the Gram matrix) and the operator. `n4`: the widest block of examples that will be solved.
 */
export class Design {
  readonly m: number;
  readonly components: number;
  readonly cp: number;
  /** mean of the set bits per component (the mean of U) */
  readonly meanU: Float64Array;
  readonly invStd: Float64Array;
  readonly invStdBuf: GPUBuffer;
  readonly meanUBuf: GPUBuffer;
  /** per component: the rows where its bit is set (U^T products) */
  readonly byComponent: DeviceLists;
  /** per mask row: the components whose bit is set (U products; matrix-free only) */
  readonly byRow?: DeviceLists;
  readonly gram: { buffer: GPUBuffer; row0: number; rows: number }[] = [];

  constructor(readonly arena: Arena, readonly masks: PackedMasks, readonly start: number, readonly end: number, readonly solver: Solver,
    n4: number, progress?: Progress) {
    const ctx = arena.ctx;
    this.m = end - start;
    this.components = masks.components;
    this.cp = Math.ceil(masks.components / 4) * 4;
    const maxEntries = Math.floor(ctx.maxBinding / 4);
    const comp = componentLists(masks, start, end, listBlockWidth(n4), maxEntries);
    this.meanU = new Float64Array(this.cp);
    this.invStd = new Float64Array(this.cp);
    for (let j = 0; j < this.components; j++) {
      const mu = comp.counts[j]! / this.m;
      const sd = Math.sqrt(mu * (1 - mu));
      this.meanU[j] = mu;
      // a constant column carries no information: weight 0, like scikit-learn after StandardScaler
      this.invStd[j] = sd > 1e-12 ? 1 / sd : 0;
    }
    this.invStdBuf = arena.upload(Float32Array.from(this.invStd), 'fit inv std');
    this.meanUBuf = arena.upload(Float32Array.from(this.meanU), 'fit mean');
    this.byComponent = uploadLists(arena, comp, 'fit lists by component');
    progress?.(`${comp.entries} set bits in ${this.m} rows (${(100 * comp.entries / (this.m * this.components)).toFixed(1)}%)`);
    if (solver === 'matrix-free') {
      this.byRow = maskRowLists(arena, masks, start, end, n4, 'fit lists by mask');
    } else {
      const t = transposeMasks(masks, start, end);
      const per = Math.min(blockRows(ctx.maxBinding, t.wordsPerRow * 4, 32), blockRows(ctx.maxBinding, this.cp * 4, 32));
      const colBlocks = uploadBits(arena, t.bits, t.wordsPerRow, 0, this.cp, per, 'fit bits by component');
      const counts = arena.upload(Float32Array.from(t.counts), 'fit counts');
      for (const bi of colBlocks) {
        const q = arena.create(bi.rows * this.cp * 4, 'fit gram');
        this.gram.push({ buffer: q, row0: bi.row0, rows: bi.rows });
        for (const bj of colBlocks) run(ctx, [gramBlock(ctx, { bitsI: bi, bitsJ: bj, counts, invStd: this.invStdBuf, q, cols: this.cp, m: this.m, scale: 1 })]);
        progress?.(`gram rows ${bi.row0 + bi.rows}/${this.cp}`);
      }
    }
  }

  /** The operator Z^T Z + diag(lambda), for n4 vec4 columns. */
  operator(n4: number): Operator {
    const ctx = this.arena.ctx;
    if (this.solver === 'gram') {
      return {
        prepare: (x, lambda, out) => this.gram.map((g) =>
          gramProduct(ctx, { q: g.buffer, rows: g.rows, row0: g.row0, cols: this.cp, x, n4, lambda, out })),
      };
    }
    const cp = this.cp;
    const scaled = this.arena.create(cp * n4 * 16, 'fit S^-1 P');
    const shift = this.arena.create(n4 * 16, 'fit mu^T S^-1 P');
    const rowsOut = this.arena.create(this.m * n4 * 16, 'fit Z P');
    const back = this.arena.create(cp * n4 * 16, 'fit U^T Z P');
    const zeros = this.arena.create(n4 * 16, 'fit zeros');
    // Z^T Z P = S^-1 U^T (U S^-1 P - 1 s^T): the mu (1^T Z P) term is 0 because Z's columns are centred
    return {
      prepare: (x, lambda, out) => [
        scaleRows(ctx, cp, n4, x, this.invStdBuf, zeros, x, scaled),
        colWeightedSum(ctx, cp, n4, this.meanUBuf, scaled, shift),
        ...listDispatches(ctx, this.byRow!, scaled, n4, shift, rowsOut),
        ...listDispatches(ctx, this.byComponent, rowsOut, n4, zeros, back),
        scaleRows(ctx, cp, n4, back, this.invStdBuf, lambda, x, out),
      ],
    };
  }

  /** B = Z^T Yc for centred targets Yc [m x n4] on the device. */
  rhs(yc: GPUBuffer, n4: number): GPUBuffer {
    const ctx = this.arena.ctx;
    const zeros = this.arena.create(n4 * 16, 'fit zeros');
    const t = this.arena.create(this.cp * n4 * 16, 'fit U^T Y');
    const b = this.arena.create(this.cp * n4 * 16, 'fit B');
    run(ctx, [
      ...listDispatches(ctx, this.byComponent, yc, n4, zeros, t),
      scaleRows(ctx, this.cp, n4, t, this.invStdBuf, zeros, t, b),
    ]);
    return b;
  }
}

export interface SolveOptions {
  tol: number;
  maxIter: number;
  progress?: Progress;
  label?: string;
}

export interface SolveResult { iterations: number; converged: boolean }

/**
 * Conjugate gradient for (Z^T Z + diag(lambda)) X = B, all columns in lock-step, each with
 * its own alpha and beta; a column stops when ||r|| <= tol ||B||. X holds the start point.
 */
export async function conjugateGradient(arena: Arena, op: Operator, rows: number, n4: number, b: GPUBuffer, lambda: GPUBuffer, x: GPUBuffer,
  opts: SolveOptions): Promise<SolveResult> {
  const ctx = arena.ctx;
  const big = rows * n4 * 16;
  const r = arena.create(big, 'cg r');
  const p = arena.create(big, 'cg p');
  const ap = arena.create(big, 'cg Ap');
  const rr = [arena.create(n4 * 16, 'cg rr'), arena.create(n4 * 16, 'cg rr')] as const;
  const pap = arena.create(n4 * 16, 'cg pAp');
  const bb = arena.create(n4 * 16, 'cg bb');
  const threshold = arena.create(n4 * 16, 'cg threshold');
  // r = B - A x, p = r
  run(ctx, [...op.prepare(x, lambda, ap), subtract(ctx, rows, n4, b, ap, r), colDot(ctx, rows, n4, r, r, rr[0]), colDot(ctx, rows, n4, b, b, bb)]);
  copy(ctx, r, p, big);
  const bbHost = await readF32(ctx, bb, n4 * 4);
  const thr = bbHost.map((v) => v * opts.tol * opts.tol);
  ctx.device.queue.writeBuffer(threshold, 0, thr);
  const apply = op.prepare(p, lambda, ap);
  const step = [0, 1].map((k) => {
    const cur = rr[k]!;
    const next = rr[1 - k]!;
    return [
      ...apply,
      colDot(ctx, rows, n4, p, ap, pap),
      cgStep(ctx, rows, n4, { p, ap, rr: cur, pap, threshold, x, r }),
      colDot(ctx, rows, n4, r, r, next),
      cgDirection(ctx, rows, n4, { r, rrNew: next, rrOld: cur, threshold, p }),
    ];
  });
  const done = (v: Float32Array) => v.every((x, i) => !(x > thr[i]!));
  if (done(await readF32(ctx, rr[0], n4 * 4))) return { iterations: 0, converged: true };
  const started = Date.now();
  let checkEvery = 1;
  for (let it = 1; it <= opts.maxIter; it++) {
    run(ctx, step[(it - 1) % 2]!);
    if (it % checkEvery === 0 || it === opts.maxIter) {
      const t0 = Date.now();
      const v = await readF32(ctx, rr[it % 2]!, n4 * 4);
      // cheap iterations: check less often so the host does not wait on every one
      if (Date.now() - t0 < 50) checkEvery = Math.min(checkEvery * 2, 8);
      let worst = 0;
      v.forEach((x, i) => { if (thr[i]! > 0) worst = Math.max(worst, Math.sqrt(x / (thr[i]! / (opts.tol * opts.tol)))); });
      opts.progress?.(`${opts.label ?? 'cg'} iteration ${it}: worst relative residual ${worst.toExponential(2)} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
      if (done(v)) return { iterations: it, converged: true };
    }
  }
  return { iterations: opts.maxIter, converged: false };
}

/** Largest eigenvalue of Z^T Z by power iteration on every column at once (max over columns). */
export async function largestEigenvalue(arena: Arena, op: Operator, rows: number, n4: number, components: number, iterations = 40): Promise<number> {
  const ctx = arena.ctx;
  const init = new Float32Array(rows * n4 * 4);
  let seed = 12345;
  for (let i = 0; i < components * n4 * 4; i++) { seed = (seed * 1103515245 + 12345) >>> 0; init[i] = seed / 2 ** 32 - 0.5; }
  const x = arena.upload(init, 'power x');
  const y = arena.create(rows * n4 * 16, 'power y');
  const zeros = arena.create(n4 * 16, 'power zeros');
  const zeroRows = arena.create(rows * 4, 'power zero rows');
  const norm = arena.create(n4 * 16, 'power norm');
  const inv = arena.create(n4 * 16, 'power 1/norm');
  // normalise x first
  run(ctx, [colDot(ctx, rows, n4, x, x, norm)]);
  let nx = await readF32(ctx, norm, n4 * 4);
  ctx.device.queue.writeBuffer(inv, 0, nx.map((v) => (v > 0 ? 1 / Math.sqrt(v) : 0)));
  run(ctx, [scaleRows(ctx, rows, n4, x, zeroRows, inv, x, y)]);
  copy(ctx, y, x, rows * n4 * 16);
  const apply = [...op.prepare(x, zeros, y), colDot(ctx, rows, n4, y, y, norm)];
  let est = 0;
  for (let it = 0; it < iterations; it++) {
    run(ctx, apply);
    nx = await readF32(ctx, norm, n4 * 4);
    const prev = est;
    est = Math.sqrt(Math.max(...nx));
    ctx.device.queue.writeBuffer(inv, 0, nx.map((v) => (v > 0 ? 1 / Math.sqrt(v) : 0)));
    run(ctx, [scaleRows(ctx, rows, n4, y, zeroRows, inv, y, x)]);
    if (it > 5 && Math.abs(est - prev) <= 1e-4 * est) break;
  }
  return est;
}

/**
 * FISTA for (1/2m)||Yc - Z W||^2 + lambda_c |W_c|_1 per column c, warm-started from W.
 * The step is 1/L with L >= the largest eigenvalue of Z^T Z / m; a column stops when a
 * check interval changes it by less than tol relative.
 */
export async function fista(arena: Arena, op: Operator, rows: number, n4: number, m: number, b: GPUBuffer, mLambda: GPUBuffer, w: GPUBuffer,
  lipschitz: number, opts: SolveOptions): Promise<SolveResult> {
  const ctx = arena.ctx;
  const big = rows * n4 * 16;
  const v = arena.create(big, 'fista v');
  const av = arena.create(big, 'fista Av');
  const prev = arena.create(big, 'fista previous w');
  const diff = arena.create(n4 * 16, 'fista change');
  const size = arena.create(n4 * 16, 'fista size');
  const zeros = arena.create(n4 * 16, 'fista zeros');
  const uniform = arena.uniform(vecParams(ctx, rows, n4));
  copy(ctx, w, v, big);
  copy(ctx, w, prev, big);
  const eta = 1 / lipschitz;
  const step = [...op.prepare(v, zeros, av), fistaStep(ctx, rows, n4, { av, b, mLambda, w, v, uniform })];
  const check = [colSqDiff(ctx, rows, n4, w, prev, diff), colDot(ctx, rows, n4, w, w, size)];
  const words = new ArrayBuffer(16);
  new Uint32Array(words, 0, 2).set([rows, n4]);
  const f = new Float32Array(words, 8, 2);
  let t = 1;
  let sinceRestart = 0;
  const started = Date.now();
  let checkEvery = 10;
  for (let it = 1; it <= opts.maxIter; it++) {
    const tNext = (1 + Math.sqrt(1 + 4 * t * t)) / 2;
    f[0] = eta;
    f[1] = (t - 1) / tNext;
    t = tNext;
    ctx.device.queue.writeBuffer(uniform, 0, words);
    run(ctx, step);
    sinceRestart++;
    if (it % checkEvery === 0 || it === opts.maxIter) {
      const t0 = Date.now();
      run(ctx, check);
      const d = await readF32(ctx, diff, n4 * 4);
      const s = await readF32(ctx, size, n4 * 4);
      if (Date.now() - t0 < 50) checkEvery = Math.min(checkEvery * 2, 40);
      copy(ctx, w, prev, big);
      let worst = 0;
      d.forEach((x, i) => { worst = Math.max(worst, Math.sqrt(x / Math.max(s[i]!, 1e-30))); });
      opts.progress?.(`${opts.label ?? 'fista'} iteration ${it}: largest relative change ${worst.toExponential(2)} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
      if (worst <= opts.tol) return { iterations: it, converged: true };
      // periodic restart of the momentum keeps FISTA linear on these well-conditioned problems
      if (sinceRestart >= 200) { t = 1; sinceRestart = 0; }
    }
  }
  void m;
  return { iterations: opts.maxIter, converged: false };
}

/** Column-wise squared error of the predictions Z W on rows given as index lists, against Yc. */
export function validationError(design: Design, lists: DeviceLists, n4: number, w: GPUBuffer, yc: GPUBuffer, rows: number): { dispatches: Dispatch[]; err: GPUBuffer } {
  const arena = design.arena;
  const ctx = arena.ctx;
  const cp = design.cp;
  const scaled = arena.create(cp * n4 * 16, 'val S^-1 W');
  const shift = arena.create(n4 * 16, 'val shift');
  const zeros = arena.create(n4 * 16, 'val zeros');
  const pred = arena.create(rows * n4 * 16, 'val prediction');
  const err = arena.create(n4 * 16, 'val error');
  return {
    err,
    dispatches: [
      scaleRows(ctx, cp, n4, w, design.invStdBuf, zeros, w, scaled),
      colWeightedSum(ctx, cp, n4, design.meanUBuf, scaled, shift),
      ...listDispatches(ctx, lists, scaled, n4, shift, pred),
      colSqDiff(ctx, rows, n4, pred, yc, err),
    ],
  };
}

export const MATMUL_ALIGN = MATMUL_ROWS;
