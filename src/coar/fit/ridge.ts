/**
 * One ridge / OLS system for a block of examples: (Z^T Z + diag(lambda)) W = Z^T Yc by CG in
 * the primal, or (dual space) (Z Z^T + diag(lambda)) A = Yc with W = Z^T A, the same
 * minimiser (also the minimum-norm one when lambda = 0 and m < |C|, as CG from 0 stays in the
 * row space of Z). `weights` ([Cp x n4], standardized units) holds W after every solve. The
 * lambda path is one multi-shift CG run from 0 (solvePath, shifts.ts).
 */
import { colDot, subtract } from '../../kernels/fit.js';
import { copy, readF32, run } from './arena.js';
import { CgWorkspace, conjugateGradient } from './cg.js';
import type { Design, Operator } from './design.js';
import { ShiftedSystems } from './shifts.js';
import type { SolveOptions, SolveResult } from './solve.js';

export class RidgeSystem {
  readonly weights: GPUBuffer;
  private readonly op: Operator;
  /** primal: Z^T Yc; dual: Yc */
  private readonly b: GPUBuffer;
  /** dual only: A, Z^T Yc, and scratch */
  private readonly dual?: { a: GPUBuffer; zty: GPUBuffer; ap: GPUBuffer; r: GPUBuffer; host: GPUBuffer; rp: GPUBuffer; norm: GPUBuffer };
  /** primal only: scratch for the true residual */
  private readonly primal?: { ap: GPUBuffer; r: GPUBuffer; norm: GPUBuffer; bNorm: GPUBuffer };

  /** primal: the host copy of Yc is uploaded here, then B = Z^T Yc */
  private readonly y: GPUBuffer;
  private readonly cg: CgWorkspace;
  /** the lambda path's shifted systems, made by the first solvePath */
  private shifted?: ShiftedSystems;

  /** Buffers for `n4` vec4 columns, made once: `load` then `solve` for every block of examples and every lambda. */
  constructor(readonly design: Design, readonly n4: number) {
    const arena = design.arena;
    this.op = design.operator(n4);
    this.y = arena.create(design.m * n4 * 16, 'fit Yc');
    this.weights = arena.create(design.cp * n4 * 16, 'fit weights');
    this.cg = new CgWorkspace(arena, design.rows, n4);
    if (design.space === 'primal') {
      this.b = arena.create(design.cp * n4 * 16, 'fit B');
      const big = design.cp * n4 * 16;
      this.primal = { ap: arena.create(big, 'fit Aw'), r: arena.create(big, 'fit residual'), norm: arena.create(n4 * 16, 'fit norm'), bNorm: arena.create(n4 * 16, 'fit |B|') };
      return;
    }
    const big = design.rows * n4 * 16;
    this.b = arena.create(big, 'fit Yc (dual)');
    this.dual = {
      a: arena.create(big, 'fit dual A'), zty: arena.create(design.cp * n4 * 16, 'fit B'), ap: arena.create(big, 'fit dual KA'), r: arena.create(big, 'fit dual residual'),
      host: arena.create(design.m * n4 * 16, 'fit dual centred'), rp: arena.create(design.cp * n4 * 16, 'fit primal residual'), norm: arena.create(n4 * 16, 'fit norm'),
    };
  }

  /** New targets: `yc`, centred, [m x n4] vec4 on the host. Weights (and the dual's A) restart from 0. */
  load(yc: Float32Array): void {
    const design = this.design;
    const queue = design.arena.ctx.device.queue;
    queue.writeBuffer(this.y, 0, yc);
    const zero = new Float32Array(design.cp * this.n4 * 4);
    queue.writeBuffer(this.weights, 0, zero);
    if (!this.dual) { design.rhsInto(this.y, this.n4, this.b); return; }
    queue.writeBuffer(this.b, 0, new Float32Array(design.rows * this.n4 * 4));
    queue.writeBuffer(this.b, 0, yc);
    queue.writeBuffer(this.dual.a, 0, new Float32Array(design.rows * this.n4 * 4));
    design.rhsInto(this.y, this.n4, this.dual.zty);
  }

  /** Primal only: B = Z^T Yc of the loaded targets, [Cp x n4] vec4 on the host. */
  async rhsHost(): Promise<Float32Array> { return readF32(this.design.arena.ctx, this.b, this.design.cp * this.n4 * 4); }

  /** Primal only: start the next solve from these weights ([Cp x n4] vec4). */
  setWeights(w: Float32Array): void { this.design.arena.ctx.device.queue.writeBuffer(this.weights, 0, w); }

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
      const r = await conjugateGradient(this.cg, this.op, this.b, lambda, this.weights, opts);
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
      const r = await conjugateGradient(this.cg, this.op, this.b, lambda, d.a, { ...opts, tol: tolDual, maxIter: opts.maxIter - iterations });
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

  /**
   * The loaded targets at every lambda of a path in one multi-shift CG run (shifts.ts): the base
   * system at `lambda0` (per column), the others at lambda0 + deltas[k]. `visit(k)` is called
   * with `weights` holding the solution at deltas[k], base (delta 0) first. Starts from 0 (after
   * `load`); the solutions are CG's, to `tol` on the base system's residual (in the dual: the
   * dual residual, with no primal refinement): good enough to compare lambdas on held-out rows.
   */
  async solvePath(lambda0: GPUBuffer, deltas: readonly number[], opts: SolveOptions, visit: (k: number) => Promise<void>): Promise<SolveResult> {
    const design = this.design;
    const positive = deltas.filter((d) => d > 0);
    if (this.shifted && this.shifted.shifts.join() !== positive.join()) throw new Error('solvePath: one set of shifts per RidgeSystem');
    const shifted = this.shifted ??= new ShiftedSystems(design.arena, design.rows, this.n4, positive);
    const d = this.dual;
    const r = await conjugateGradient(this.cg, this.op, this.b, lambda0, d ? d.a : this.weights, opts, shifted);
    const place = async (x: GPUBuffer) => {
      if (d) await this.project(x, this.weights);
      else if (x !== this.weights) copy(design.arena.ctx, x, this.weights, design.cp * this.n4 * 16);
    };
    const order = deltas.map((_, k) => k).sort((a, b) => Number(deltas[a]! > 0) - Number(deltas[b]! > 0));
    for (const k of order) {
      const delta = deltas[k]!;
      await place(delta > 0 ? shifted.x[positive.indexOf(delta)]! : d ? d.a : this.weights);
      await visit(k);
    }
    return r;
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

