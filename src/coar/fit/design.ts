/**
 * The standardized design of a row range of masks, on the device (REFERENCE.md,
 * "Regression (fit)"). With U the packed 0/1 matrix (fit_masks.ts), mu its column means and
 * S its column standard deviations, Z = (U - 1 mu^T) S^-1, and the solvers only ever need
 * A P = Z^T Z P and B = Z^T (Y - 1 ybar^T). A comes either from a stored Gram matrix (built
 * from the bits by popcount) or matrix-free, as S^-1 U^T (U S^-1 P - 1 s^T) with
 * s = mu^T S^-1 P, the products visiting only the set bits through index lists. Ridge and
 * OLS may instead solve the dual (Z Z^T + lambda) A = Yc, W = Z^T A, with a stored kernel
 * matrix or the same products (ridge.ts).
 */
import type { Dispatch } from '../../gpu/context.js';
import { centerColumns, colWeightedSum, gramBlock, gramProduct, scaleRows, type BitBlock } from '../../kernels/fit.js';
import { componentLists, dualBits, transposeMasks, type PackedMasks } from '../fit_masks.js';
import { run, type Arena } from './arena.js';
import { blockRows, listDispatches, maskRowLists, uploadBits, uploadLists, type Blocking, type DeviceLists } from './lists.js';
import type { Progress } from './solve.js';

/**
 * gram: the stored |C| x |C| Gram matrix Z^T Z; dual: the stored m x m kernel matrix Z Z^T
 * (ridge and OLS only: w = Z^T (Z Z^T + lambda I)^-1 yc); matrix-free: products with the masks;
 * cholesky: the stored Gram matrix factored once on the host (one lambda for all examples, cholesky.ts).
 */
export type Solver = 'gram' | 'dual' | 'matrix-free' | 'cholesky';

/** Bytes the stored Gram matrix would take for `components` columns. */
export const gramBytes = (components: number) => (Math.ceil(components / 4) * 4) ** 2 * 4;

/** Rows [row0, row0 + rows) of a stored Gram matrix [Cp x Cp] float32, kept on disk by an earlier run of the same fit. */
export type KeptGram = (row0: number, rows: number) => Float32Array;

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
    if (this.built) progress?.(`Gram matrix built (${((Date.now() - t0) / 1000).toFixed(1)} s after the last block was queued)`);
  }

  constructor(readonly arena: Arena, readonly masks: PackedMasks, readonly start: number, readonly end: number, readonly solver: Solver,
    blocking: Blocking, progress?: Progress, readonly space: 'primal' | 'dual' = solver === 'dual' ? 'dual' : 'primal', keptGram?: KeptGram) {
    const ctx = arena.ctx;
    this.m = end - start;
    this.components = masks.components;
    this.cp = Math.ceil(masks.components / 4) * 4;
    if (solver === 'cholesky') throw new Error('the Cholesky solver factors the design of solver gram');
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
    } else if (solver === 'gram' && keptGram) {
      // the Gram matrix an interrupted run of this fit kept: read by blocks of one binding, not built again
      const t0 = Date.now();
      const per = blockRows(ctx.maxBinding, this.cp * 4, 32);
      for (let r = 0; r < this.cp; r += per) {
        const rows = Math.min(per, this.cp - r);
        this.gram.push({ buffer: arena.upload(keptGram(r, rows), 'fit gram (kept)'), row0: r, rows });
      }
      progress?.(`Gram matrix: the one kept by the interrupted run read (${this.cp} x ${this.cp}, ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
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

  /** a stored matrix built here (not read from a kept file) */
  private built = false;

  /** Blocks on and above the diagonal, each also written mirrored below it. */
  private buildGram(bits: BitBlock[], cols: number, block: (bi: BitBlock, bj: BitBlock, q: GPUBuffer, qMirror?: GPUBuffer) => Dispatch, progress?: Progress): void {
    const ctx = this.arena.ctx;
    this.built = true;
    for (const b of bits) this.gram.push({ buffer: this.arena.create(b.rows * cols * 4, 'fit gram'), row0: b.row0, rows: b.rows });
    const started = Date.now();
    for (let i = 0; i < bits.length; i++) {
      for (let j = i; j < bits.length; j++) run(ctx, [block(bits[i]!, bits[j]!, this.gram[i]!.buffer, j > i ? this.gram[j]!.buffer : undefined)]);
      progress?.(`gram block row ${i + 1}/${bits.length} queued (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    }
  }

  private operators = new Map<number, Operator>();

  /**
   * The operator (Z^T Z or, dual, Z Z^T) + diag(lambda), for n4 vec4 columns. Built once per
   * width: its scratch buffers are shared by every solve of that width (the lambda path, the chunks).
   */
  operator(n4: number): Operator {
    let op = this.operators.get(n4);
    if (!op) this.operators.set(n4, op = this.buildOperator(n4));
    return op;
  }

  private buildOperator(n4: number): Operator {
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

}

