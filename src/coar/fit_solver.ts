/**
 * The regression on the device: one standardized design (masks of a row range, as bits)
 * and solvers that treat every example as a column of one block, each column with its
 * own step sizes (REFERENCE.md, "Regression (fit)").
 *
 * With U the packed 0/1 matrix (see fit_masks.ts), mu its column means and S its column
 * standard deviations, the standardized design is Z = (U - 1 mu^T) S^-1 and the solvers
 * only ever need A P = Z^T Z P and B = Z^T (Y - 1 ybar^T). A comes either from a stored
 * Gram matrix (built from the bits by popcount) or matrix-free, as S^-1 U^T (U S^-1 P - 1 s^T)
 * with s = mu^T S^-1 P, the products visiting only the set bits through index lists. Ridge
 * and OLS may instead solve the dual (Z Z^T + lambda) A = Yc, W = Z^T A, with a stored
 * kernel matrix or the same products (RidgeSystem).
 */
import { readBuffer } from '../gpu/buffers.js';
import { encodeDispatches, type Dispatch, type GpuContext } from '../gpu/context.js';
import {
  centerColumns, cgDirection, cgStep, colDot, colSqDiff, colWeightedSum, fistaStep, gramBlock, gramProduct, listProduct,
  scaleRows, subtract, vecParams, type BitBlock, type ListBlock,
} from '../kernels/fit.js';
import { componentLists, dualBits, rowLists, transposeMasks, type IndexLists, type PackedMasks } from './fit_masks.js';

/**
 * gram: the stored |C| x |C| Gram matrix Z^T Z; dual: the stored m x m kernel matrix Z Z^T
 * (ridge and OLS only: w = Z^T (Z Z^T + lambda I)^-1 yc); matrix-free: products with the masks.
 */
export type Solver = 'gram' | 'dual' | 'matrix-free';
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

/** How index lists are cut: positions per block, and entries per chunk (one binding). */
export interface Blocking { width: number; entries: number }

export const defaultBlocking = (ctx: GpuContext, n4: number): Blocking => ({ width: listBlockWidth(n4), entries: Math.floor(ctx.maxBinding / 4) });

/** Row lists of mask rows [start, end) on the device, for predictions on those rows. */
export function maskRowLists(arena: Arena, masks: PackedMasks, start: number, end: number, blocking: Blocking, label: string): DeviceLists {
  return uploadLists(arena, rowLists(masks, start, end, blocking.width, blocking.entries), label);
}

/** A linear operator P -> (Z^T Z + diag(lambda)) P on [Cp x n4] matrices. */
export interface Operator {
  prepare(x: GPUBuffer, lambda: GPUBuffer, out: GPUBuffer): Dispatch[];
}

/**
 * The standardized masks of rows [start, end): statistics, the masks on the device (index
 * lists of the set bits by component, plus by mask row for products, or bits by component for
 * the Gram matrix) and the operator.
 */
export class Design {
  readonly m: number;
  readonly components: number;
  readonly cp: number;
  /** rows of the solver's unknowns: |C| padded (primal) or m padded (dual) */
  readonly rows: number;
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

  /**
   * `space`: the unknowns of ridge / OLS: 'primal' (weights, |C| rows) or 'dual' (A with
   * W = Z^T A, m rows). The dual solver is always dual; matrix-free may be either (dual when
   * m < |C|: the primal then has a null space of dimension |C| - m + 1 where rounding errors
   * gather and stall CG at eigenvalue lambda).
   */
  /** Wait for the device to finish building the design (the Gram matrix is built asynchronously). */
  async ready(progress?: Progress): Promise<void> {
    const t0 = Date.now();
    await this.arena.ctx.device.queue.onSubmittedWorkDone();
    if (this.gram.length) progress?.(`Gram matrix built (${((Date.now() - t0) / 1000).toFixed(1)} s after the last block was queued)`);
  }

  constructor(readonly arena: Arena, readonly masks: PackedMasks, readonly start: number, readonly end: number, readonly solver: Solver,
    blocking: Blocking, progress?: Progress, readonly space: 'primal' | 'dual' = solver === 'dual' ? 'dual' : 'primal') {
    const ctx = arena.ctx;
    this.m = end - start;
    this.components = masks.components;
    this.cp = Math.ceil(masks.components / 4) * 4;
    if (solver === 'gram' && space === 'dual') throw new Error('the stored primal Gram matrix solves in the primal space');
    if (solver === 'dual' && space === 'primal') throw new Error('the stored kernel matrix solves in the dual space');
    this.rows = space === 'dual' ? Math.ceil(this.m / 4) * 4 : this.cp;
    const comp = componentLists(masks, start, end, blocking.width, blocking.entries);
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
      this.byRow = maskRowLists(arena, masks, start, end, blocking, 'fit lists by mask');
    } else if (solver === 'gram') {
      const t = transposeMasks(masks, start, end);
      const per = Math.min(blockRows(ctx.maxBinding, t.wordsPerRow * 4, 32), blockRows(ctx.maxBinding, this.cp * 4, 32));
      const bits = uploadBits(arena, t.bits, t.wordsPerRow, 0, this.cp, per, 'fit bits by component');
      const counts = arena.upload(Float32Array.from(t.counts), 'fit counts');
      this.buildGram(bits, this.cp, (bi, bj, q, qMirror) =>
        gramBlock(ctx, { bitsI: bi, bitsJ: bj, rowA: counts, rowB: this.invStdBuf, q, qMirror, cols: this.cp, constant: this.m, valid: this.components }), progress);
    } else {
      const d = dualBits(masks, start, end, this.invStd, this.meanU);
      const per = Math.min(blockRows(ctx.maxBinding, d.wordsPerRow * 4, 32), blockRows(ctx.maxBinding, this.rows * 4, 32));
      const bits = uploadBits(arena, d.bits, d.wordsPerRow, 0, this.rows, per, 'fit bits by mask (by std)');
      const shift = arena.upload(d.shift, 'fit dual shift');
      const weight = arena.upload(d.weight, 'fit dual weights');
      progress?.(`kernel matrix ${this.m} x ${this.m} from ${d.wordsPerRow} words per mask (${d.classes} standard deviations)`);
      this.buildGram(bits, this.rows, (bi, bj, q, qMirror) =>
        gramBlock(ctx, { bitsI: bi, bitsJ: bj, rowA: shift, weight, q, qMirror, cols: this.rows, constant: d.constant, valid: this.m }), progress);
    }
  }

  /** Blocks on and above the diagonal, each also written mirrored below it. */
  private buildGram(bits: BitBlock[], cols: number, block: (bi: BitBlock, bj: BitBlock, q: GPUBuffer, qMirror?: GPUBuffer) => Dispatch, progress?: Progress): void {
    const ctx = this.arena.ctx;
    for (const b of bits) this.gram.push({ buffer: this.arena.create(b.rows * cols * 4, 'fit gram'), row0: b.row0, rows: b.rows });
    const started = Date.now();
    for (let i = 0; i < bits.length; i++) {
      for (let j = i; j < bits.length; j++) run(ctx, [block(bits[i]!, bits[j]!, this.gram[i]!.buffer, j > i ? this.gram[j]!.buffer : undefined)]);
      progress?.(`gram block row ${i + 1}/${bits.length} queued (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    }
  }

  /** The operator (Z^T Z or, dual, Z Z^T) + diag(lambda), for n4 vec4 columns. */
  operator(n4: number): Operator {
    const ctx = this.arena.ctx;
    if (this.solver !== 'matrix-free') {
      return {
        prepare: (x, lambda, out) => this.gram.map((g) =>
          gramProduct(ctx, { q: g.buffer, rows: g.rows, row0: g.row0, cols: this.rows, x, n4, lambda, out })),
      };
    }
    const cp = this.cp;
    if (this.space === 'dual') return this.dualProducts(n4);
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

  /**
   * (Z Z^T + diag(lambda)) V by products: Z^T V = S^-1 U^T (V - 1 vbar^T) (centring V first
   * keeps rounding errors out of the 1 direction, Z Z^T's null space), then
   * Z Q = U S^-1 Q - 1 (mu^T S^-1 Q).
   */
  private dualProducts(n4: number): Operator {
    const ctx = this.arena.ctx;
    const { cp, rows, arena } = this;
    const invVar = arena.upload(Float32Array.from(this.invStd, (v) => v * v), 'fit 1/var');
    const ones = arena.upload(new Float32Array(rows).fill(1), 'fit ones');
    const valid = arena.upload(new Float32Array(rows).map((_, i) => (i < this.m ? 1 : 0)), 'fit valid rows');
    const perRow = arena.upload(new Float32Array(rows).map((_, i) => (i < this.m ? 1 / this.m : 0)), 'fit 1/m');
    const mean = arena.create(n4 * 16, 'fit column means');
    const centred = arena.create(rows * n4 * 16, 'fit V - 1 vbar');
    const zeros = arena.create(n4 * 16, 'fit zeros');
    const t = arena.create(cp * n4 * 16, 'fit U^T V');
    const t2 = arena.create(cp * n4 * 16, 'fit S^-2 U^T V');
    const shift = arena.create(n4 * 16, 'fit mu^T S^-2 U^T V');
    const rowsOut = arena.create(rows * n4 * 16, 'fit Z Z^T V');
    return {
      prepare: (x, lambda, out) => [
        colWeightedSum(ctx, rows, n4, perRow, x, mean),
        centerColumns(ctx, rows, n4, x, mean, valid, centred),
        ...listDispatches(ctx, this.byComponent, centred, n4, zeros, t),
        scaleRows(ctx, cp, n4, t, invVar, zeros, t, t2),
        colWeightedSum(ctx, cp, n4, this.meanUBuf, t2, shift),
        ...listDispatches(ctx, this.byRow!, t2, n4, shift, rowsOut),
        scaleRows(ctx, rows, n4, rowsOut, ones, lambda, x, out),
      ],
    };
  }

  private rhsTemp = new Map<number, { zeros: GPUBuffer; t: GPUBuffer }>();

  /** out = Z^T Yc for centred targets Yc [m x n4] on the device. */
  rhsInto(yc: GPUBuffer, n4: number, out: GPUBuffer): void {
    const ctx = this.arena.ctx;
    let tmp = this.rhsTemp.get(n4);
    if (!tmp) this.rhsTemp.set(n4, tmp = { zeros: this.arena.create(n4 * 16, 'fit zeros'), t: this.arena.create(this.cp * n4 * 16, 'fit U^T Y') });
    run(ctx, [
      ...listDispatches(ctx, this.byComponent, yc, n4, tmp.zeros, tmp.t),
      scaleRows(ctx, this.cp, n4, tmp.t, this.invStdBuf, tmp.zeros, tmp.t, out),
    ]);
  }

  /** B = Z^T Yc for centred targets Yc [m x n4] on the device. */
  rhs(yc: GPUBuffer, n4: number): GPUBuffer {
    const b = this.arena.create(this.cp * n4 * 16, 'fit B');
    this.rhsInto(yc, n4, b);
    return b;
  }
}

/**
 * One ridge / OLS system for a block of examples: (Z^T Z + diag(lambda)) W = Z^T Yc by CG in
 * the primal, or (dual solver) (Z Z^T + diag(lambda)) A = Yc with W = Z^T A, the same
 * minimiser (also the minimum-norm one when lambda = 0 and m < |C|, as CG from 0 stays in the
 * row space of Z). `weights` ([Cp x n4], standardized units) holds W after every solve and
 * is the warm start of the next.
 */
export class RidgeSystem {
  readonly weights: GPUBuffer;
  private readonly op: Operator;
  /** primal: Z^T Yc; dual: Yc */
  private readonly b: GPUBuffer;
  /** dual only: A, Z^T Yc, and scratch */
  private readonly dual?: { a: GPUBuffer; zty: GPUBuffer; ap: GPUBuffer; r: GPUBuffer; host: GPUBuffer; rp: GPUBuffer; norm: GPUBuffer };
  /** primal only: scratch for the true residual */
  private readonly primal?: { ap: GPUBuffer; r: GPUBuffer; norm: GPUBuffer; bNorm: GPUBuffer };

  /** `yc`: centred targets, [m x n4] vec4 on the host */
  constructor(readonly design: Design, readonly n4: number, yc: Float32Array) {
    const arena = design.arena;
    this.op = design.operator(n4);
    const y = arena.upload(yc, 'fit Yc');
    if (design.space === 'primal') {
      this.b = design.rhs(y, n4);
      this.weights = arena.create(design.cp * n4 * 16, 'fit weights');
      const big = design.cp * n4 * 16;
      this.primal = { ap: arena.create(big, 'fit Aw'), r: arena.create(big, 'fit residual'), norm: arena.create(n4 * 16, 'fit norm'), bNorm: arena.create(n4 * 16, 'fit |B|') };
      return;
    }
    const big = design.rows * n4 * 16;
    this.b = arena.create(big, 'fit Yc (dual)');
    arena.ctx.device.queue.writeBuffer(this.b, 0, yc);
    this.weights = arena.create(design.cp * n4 * 16, 'fit weights');
    this.dual = {
      a: arena.create(big, 'fit dual A'), zty: design.rhs(y, n4), ap: arena.create(big, 'fit dual KA'), r: arena.create(big, 'fit dual residual'),
      host: arena.create(design.m * n4 * 16, 'fit dual centred'), rp: arena.create(design.cp * n4 * 16, 'fit primal residual'), norm: arena.create(n4 * 16, 'fit norm'),
    };
  }

  /**
   * Solve at per-column `lambda` to relative residual `tol` (in the dual: until the primal
   * residual is within tol too). `residual`: the worst true primal relative residual
   * ||Z^T Yc - (Z^T Z + lambda) W|| / ||Z^T Yc||, recomputed from W (not CG's recurrence).
   */
  async solve(lambda: GPUBuffer, opts: SolveOptions): Promise<SolveResult & { residual: number }> {
    const d = this.dual;
    const design = this.design;
    const arena = design.arena;
    const ctx = arena.ctx;
    const n4 = this.n4;
    if (!d) {
      const p = this.primal!;
      const r = await conjugateGradient(arena, this.op, design.rows, n4, this.b, lambda, this.weights, opts);
      run(ctx, [...this.op.prepare(this.weights, lambda, p.ap), subtract(ctx, design.rows, n4, this.b, p.ap, p.r),
        colDot(ctx, design.rows, n4, p.r, p.r, p.norm), colDot(ctx, design.rows, n4, this.b, this.b, p.bNorm)]);
      const rn = await readF32(ctx, p.norm, n4 * 4);
      const bn = await readF32(ctx, p.bNorm, n4 * 4);
      let worst = 0;
      rn.forEach((v, c) => { if (bn[c]! > 0) worst = Math.max(worst, Math.sqrt(v / bn[c]!)); });
      return { ...r, residual: worst };
    }
    const bNorm = await this.columnNorms(d.zty);
    let tolDual = opts.tol;
    let iterations = 0;
    let previous = Infinity;
    for (let round = 0; ; round++) {
      const r = await conjugateGradient(arena, this.op, design.rows, n4, this.b, lambda, d.a, { ...opts, tol: tolDual, maxIter: opts.maxIter - iterations });
      iterations += r.iterations;
      // W = Z^T A; the primal residual is Z^T (Yc - (K + lambda) A) = -Z^T r_dual
      await this.project(d.a, this.weights);
      run(ctx, [...this.op.prepare(d.a, lambda, d.ap), subtract(ctx, design.rows, n4, this.b, d.ap, d.r)]);
      await this.project(d.r, d.rp);
      const rNorm = await this.columnNorms(d.rp);
      let worst = 0;
      rNorm.forEach((v, c) => { if (bNorm[c]! > 0) worst = Math.max(worst, Math.sqrt(v / bNorm[c]!)); });
      opts.progress?.(`${opts.label ?? 'dual'}: primal relative residual ${worst.toExponential(2)} after ${iterations} iterations`);
      // stop at the tolerance, or when a tighter dual solve no longer helps (rounding floor)
      if (worst <= opts.tol || !r.converged || round === 4 || iterations >= opts.maxIter || worst > 0.5 * previous) {
        return { iterations, converged: r.converged && worst <= opts.tol, residual: worst };
      }
      previous = worst;
      tolDual *= Math.max(0.01, 0.5 * opts.tol / worst);
    }
  }

  /** out = Z^T v for v [rows x n4] in the dual space, after centring its columns (Z^T 1 = 0 makes that exact). */
  private async project(v: GPUBuffer, out: GPUBuffer): Promise<void> {
    const d = this.dual!;
    const m = this.design.m;
    const w = this.n4 * 4;
    const host = await readF32(this.design.arena.ctx, v, m * w);
    const mean = new Float64Array(w);
    for (let i = 0; i < m; i++) for (let c = 0; c < w; c++) mean[c]! += host[i * w + c]!;
    for (let i = 0; i < m; i++) for (let c = 0; c < w; c++) host[i * w + c]! -= mean[c]! / m;
    this.design.arena.ctx.device.queue.writeBuffer(d.host, 0, host);
    this.design.rhsInto(d.host, this.n4, out);
  }

  private async columnNorms(v: GPUBuffer): Promise<Float32Array> {
    const ctx = this.design.arena.ctx;
    run(ctx, [colDot(ctx, this.design.cp, this.n4, v, v, this.dual!.norm)]);
    return readF32(ctx, this.dual!.norm, this.n4 * 4);
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
  let best = Infinity;
  let bestAt = 0;
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
      // rounding errors in f32 products set a floor; past it the residual wanders instead of falling
      if (worst < 0.7 * best) { best = worst; bestAt = it; } else if (it - bestAt >= STALL_ITERATIONS) {
        opts.progress?.(`${opts.label ?? 'cg'}: no progress in ${it - bestAt} iterations, stopping at ${worst.toExponential(2)} (best ${best.toExponential(2)})`);
        return { iterations: it, converged: false };
      }
    }
  }
  return { iterations: opts.maxIter, converged: false };
}

/** CG stops when its worst residual has not fallen by 30% in this many iterations. */
export const STALL_ITERATIONS = 15;

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
  let best = Infinity;
  let bestAt = 0;
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
      // f32 rounding sets a floor on the change per check (~4e-7 at ResNet-50 scale)
      if (worst < 0.7 * best) { best = worst; bestAt = it; } else if (it - bestAt >= 5 * checkEvery) {
        opts.progress?.(`${opts.label ?? 'fista'}: no progress in ${it - bestAt} iterations, stopping at ${worst.toExponential(2)}`);
        return { iterations: it, converged: false };
      }
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
