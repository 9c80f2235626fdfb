/**
 * COAR's second step (REFERENCE.md, "Regression (fit)"): from masks and margins to
 * component attributions, every example at once. Y [m x n] ~ X [m x |C|] W + 1 b^T, fitted
 * on standardized masks with an intercept, then returned in raw mask units:
 *   predicted margin = bias + mask . attributions.
 * Methods: ols and ridge by conjugate gradient, lasso by FISTA along a warm-started path;
 * without a given lambda, each example picks its own on the last val-frac of the rows.
 * Solvers (fit_solver.ts): a stored |C| x |C| Gram matrix, a stored m x m kernel matrix
 * (ridge / OLS in the dual), or products with index lists of the masks (primal, or dual
 * when m < |C|); the automatic choice is the cheapest that fits (solverCosts).
 */
import { totalmem } from 'node:os';
import { UserError } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import { packMaskArray, type PackedMasks } from './fit_masks.js';
import {
  Arena, defaultBlocking, Design, fista, gramBytes, largestEigenvalue, maskRowLists, readF32, RidgeSystem, run, validationError,
  type Blocking, type Progress, type Solver, type SolveResult,
} from './fit_solver.js';

export type FitMethod = 'ols' | 'ridge' | 'lasso';

export interface FitOptions {
  method: FitMethod;
  /** ridge: ||y - b - Zw||^2 + lambda ||w||^2; lasso: (1/2m)||y - b - Zw||^2 + lambda |w|_1. Absent: chosen per example. */
  lambda?: number;
  /** share of the rows (the last ones) held out to choose lambda */
  valFrac?: number;
  /** values tried when choosing lambda (default: a geometric path) */
  lambdaPath?: number;
  solver?: Solver | 'auto';
  /** relative tolerance: CG residual, or FISTA change per check */
  tol?: number;
  maxIter?: number;
  /** cap on examples solved together (default: as many as fit one binding) */
  examplesPerChunk?: number;
  progress?: Progress;
  /** solver detail (iterations, residuals, Gram blocks): shown with --verbose */
  detail?: Progress;
  /** how the index lists of the masks are cut (tests, tuning); default: cache-sized blocks, one binding per chunk */
  blocking?: Partial<Blocking>;
}

export interface FitResult {
  /** [|C| x n] row-major, raw mask units */
  attributions: Float32Array;
  bias: Float32Array;
  /** per example, when chosen on held-out rows */
  lambda?: Float32Array;
  /** the lambdas tried: ridge, absolute values; lasso, fractions of each example's lambda_max */
  lambdaGrid?: number[];
  solver: Solver;
  iterations: number;
  converged: boolean;
  peakDeviceBytes: number;
  /** ridge / OLS: the worst true primal relative residual ||Z^T Yc - (Z^T Z + lambda) W|| / ||Z^T Yc|| of the final fit */
  residual?: number;
}

export const DEFAULT_VAL_FRAC = 0.1;

/** A stored Gram matrix is used only when it takes at most this many bytes (device memory is host memory on CPU adapters). */
export function gramBudget(): number { return Math.min(0.35 * totalmem(), 16 * 2 ** 30); }

/**
 * Relative cost of one unit of work on lavapipe, per: gathered add of a sparse product (one
 * example, one set bit), multiply-add of a stored-Gram product, 32-bit AND + popcount of a
 * Gram build. Measured with bench/fit.ts `products` (see BENCHMARKS.md, "Fit").
 */
export const WORK_COST = { sparse: 1, dense: 0.5, popcount: 2 };

export interface FitShape {
  rows: number;
  components: number;
  examples: number;
  /** set bits (the rarer value) per mask entry */
  density: number;
  method: FitMethod;
  /** lambda chosen on held-out rows (a path of solves and a second design) */
  choosing: boolean;
  tol?: number;
}

/** CG iterations expected for i.i.d. standardized masks: the Marchenko-Pastur spectrum of Z^T Z. */
export function expectedIterations(rows: number, components: number, tol: number): number {
  const r = Math.min(rows, components) / Math.max(rows, components);
  const kappa = ((1 + Math.sqrt(r)) / Math.max(1e-3, 1 - Math.sqrt(r))) ** 2;
  const rate = (Math.sqrt(kappa) - 1) / (Math.sqrt(kappa) + 1);
  return Math.min(500, Math.ceil(Math.log(tol) / Math.log(rate)) + 1);
}

/** Estimated work of each solver that fits in memory (WORK_COST units). */
export function solverCosts(s: FitShape): Partial<Record<Solver, number>> {
  const { rows: m, components: c, examples: n } = s;
  const lasso = s.method === 'lasso';
  // FISTA takes a few hundred steps where CG takes tens; the lambda path repeats the solve
  const steps = lasso ? 300 : expectedIterations(m, c, s.tol ?? 1e-6);
  const solves = s.choosing ? 1 + (lasso ? 12 : 13) / 2 : 1;
  const designs = s.choosing ? 2 : 1;
  const nnz = s.density * m * c;
  const costs: Partial<Record<Solver, number>> = {
    'matrix-free': solves * steps * 2 * nnz * n * WORK_COST.sparse,
  };
  const build = (a: number, b: number) => designs * (a * a / 2) * Math.ceil(b / 128) * 4 * WORK_COST.popcount;
  if (gramBytes(c) <= gramBudget()) costs.gram = build(c, m) + solves * steps * c * c * n * WORK_COST.dense;
  // OLS in the dual needs Yc in the range of Z Z^T: only when m <= |C|
  if (!lasso && !(s.method === 'ols' && m > c) && (Math.ceil(m / 4) * 4) ** 2 * 4 <= gramBudget()) costs.dual = build(m, c * 1.05) + solves * steps * m * m * n * WORK_COST.dense;
  return costs;
}

/** The cheapest solver for this shape, or the requested one. */
export function chooseSolver(s: FitShape, requested: Solver | 'auto' = 'auto'): Solver {
  if (requested === 'dual' && s.method === 'lasso') throw new UserError('--solver dual solves ridge and OLS only; LASSO needs gram or matrix-free');
  if (requested === 'dual' && s.method === 'ols' && s.rows > s.components) {
    throw new UserError(`--solver dual solves OLS only when there are no more mask rows than components (${s.rows} > ${s.components}); use gram or matrix-free`);
  }
  if (requested !== 'auto') return requested;
  const costs = Object.entries(solverCosts(s)) as [Solver, number][];
  return costs.reduce((a, b) => (b[1] < a[1] ? b : a))[0];
}

/**
 * Fit attributions for all examples. `masks`: packed (fit_masks.ts) or 0/1 bytes [m x |C|];
 * `margins`: float32 [m x n] row-major.
 */
export async function fitAttributions(ctx: GpuContext, masks: PackedMasks | { data: Uint8Array; rows: number; components: number },
  margins: Float32Array, n: number, opts: FitOptions): Promise<FitResult> {
  const packed = 'bits' in masks ? masks : packMaskArray(masks.data, masks.rows, masks.components);
  const m = packed.rows;
  const C = packed.components;
  if (margins.length !== m * n) throw new UserError(`margins hold ${margins.length} values, expected ${m} rows x ${n} examples`);
  if (opts.lambda !== undefined && !(opts.lambda >= 0)) throw new UserError(`lambda must be >= 0, got ${opts.lambda}`);
  const method = opts.method;
  const lambda = method === 'ols' ? 0 : opts.lambda;
  const tol = opts.tol ?? (method === 'lasso' ? 1e-7 : 1e-6);
  let setBits = 0;
  for (let i = 0; i < packed.bits.length; i++) { let v = packed.bits[i]!; v -= (v >>> 1) & 0x55555555; v = (v & 0x33333333) + ((v >>> 2) & 0x33333333); setBits += (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24; }
  const solver = chooseSolver({ rows: m, components: C, examples: n, density: setBits / (m * C), method, choosing: lambda === undefined, tol }, opts.solver);
  const maxIter = opts.maxIter ?? (method === 'lasso' ? 20000 : 2000);
  const progress = opts.progress;
  const detail = opts.detail;
  const cp = Math.ceil(C / 4) * 4;

  const arena = new Arena(ctx);
  // a kernel the device rejects, or memory it cannot give, must fail the fit, not return zeros
  ctx.device.pushErrorScope('out-of-memory');
  ctx.device.pushErrorScope('validation');
  let iterations = 0;
  let converged = true;
  const note = (r: { iterations: number; converged: boolean }) => { iterations += r.iterations; converged &&= r.converged; };
  try {
    const chunk4 = Math.max(1, Math.min(Math.ceil(n / 4), Math.ceil((opts.examplesPerChunk ?? n) / 4),
      Math.floor(ctx.maxBinding / (Math.max(cp, m) * 16))));
    const blocking = { ...defaultBlocking(ctx, chunk4), ...opts.blocking };
    // ridge / OLS by products solve in the smaller space (see Design)
    const space = (rows: number) => (solver === 'dual' || (solver === 'matrix-free' && method !== 'lasso' && rows < C) ? 'dual' : 'primal');
    const chunks: [number, number][] = [];
    for (let c = 0; c < n; c += chunk4 * 4) chunks.push([c, Math.min(n, c + chunk4 * 4)]);

    // Y columns [c0, c1) of rows [r0, r1), minus `mean`, as [rows x n4] vec4
    const targets = (r0: number, r1: number, c0: number, c1: number, mean: Float64Array) => {
      const n4 = Math.ceil((c1 - c0) / 4);
      const out = new Float32Array((r1 - r0) * n4 * 4);
      for (let i = r0; i < r1; i++) for (let c = c0; c < c1; c++) out[(i - r0) * n4 * 4 + c - c0] = margins[i * n + c]! - mean[c]!;
      return out;
    };
    const columnMeans = (r0: number, r1: number) => {
      const mean = new Float64Array(n);
      for (let i = r0; i < r1; i++) for (let c = 0; c < n; c++) mean[c]! += margins[i * n + c]!;
      return mean.map((v) => v / (r1 - r0));
    };

    // 1. choose lambda per example on held-out rows
    let chosen: Float64Array | undefined;
    let lambdaGrid: number[] | undefined;
    if (lambda === undefined) {
      const valFrac = opts.valFrac ?? DEFAULT_VAL_FRAC;
      if (!(valFrac > 0 && valFrac < 1)) throw new UserError(`--val-frac must be between 0 and 1, got ${valFrac}`);
      const mv = Math.round(m * valFrac);
      const mt = m - mv;
      if (mv < 1 || mt < 2) throw new UserError(`cannot hold out ${valFrac} of ${m} rows to choose lambda (${mt} train, ${mv} validation): give --lambda or more rows`);
      progress?.(`choosing lambda on ${mt} train / ${mv} validation rows (${solver})`);
      const design = new Design(arena, packed, 0, mt, solver, blocking, detail, space(mt));
      await design.ready(detail);
      const meanT = columnMeans(0, mt);
      const steps = opts.lambdaPath ?? (method === 'lasso' ? 12 : 13);
      lambdaGrid = method === 'lasso'
        ? Array.from({ length: steps }, (_, t) => 10 ** (-3 * t / (steps - 1)))
        : Array.from({ length: steps }, (_, t) => mt * 10 ** (2 - 6 * t / (steps - 1)));
      chosen = new Float64Array(n);
      const valLists = maskRowLists(arena, packed, mt, m, blocking, 'validation lists');
      const lipschitz = method === 'lasso' ? 1.02 * await largestEigenvalue(arena, design.operator(chunk4), cp, chunk4, C) : 0;
      for (const [c0, c1] of chunks) {
        const n4 = Math.ceil((c1 - c0) / 4);
        const yc = targets(0, mt, c0, c1, meanT);
        const ridge = method === 'lasso' ? undefined : new RidgeSystem(design, n4, yc);
        const op = design.operator(n4);
        const b = ridge ? undefined : design.rhs(arena.upload(yc, 'train Yc'), n4);
        const yv = arena.upload(targets(mt, m, c0, c1, meanT), 'val Yc');
        const w = ridge?.weights ?? arena.create(cp * n4 * 16, 'weights');
        const lam = arena.create(n4 * 16, 'lambda');
        const val = validationError(design, valLists, n4, w, yv, mv);
        const best = new Float64Array(n4 * 4).fill(Infinity);
        let lambdaMax: Float64Array | undefined;
        if (method === 'lasso') {
          const bh = await readF32(ctx, b!, cp * n4 * 4);
          lambdaMax = new Float64Array(n4 * 4);
          for (let j = 0; j < C; j++) for (let c = 0; c < n4 * 4; c++) lambdaMax[c] = Math.max(lambdaMax[c]!, Math.abs(bh[j * n4 * 4 + c]!) / mt);
        }
        for (const g of lambdaGrid) {
          const perColumn = new Float32Array(n4 * 4).map((_, c) => (lambdaMax ? mt * g * lambdaMax[c]! : g));
          ctx.device.queue.writeBuffer(lam, 0, perColumn);
          const label = `examples ${c0}-${c1} lambda ${method === 'lasso' ? `${g.toPrecision(3)} lambda_max` : g.toPrecision(3)}`;
          note(ridge
            ? await ridge.solve(lam, { tol, maxIter, progress: detail, label })
            : await fista(arena, op, cp, n4, mt, b!, lam, w, lipschitz, { tol, maxIter, progress: detail, label }));
          run(ctx, val.dispatches);
          const err = await readF32(ctx, val.err, n4 * 4);
          for (let c = c0; c < c1; c++) {
            const e = err[c - c0]!;
            if (e < best[c - c0]!) { best[c - c0] = e; chosen[c] = lambdaMax ? g * lambdaMax[c - c0]! : g; }
          }
        }
        detail?.(`examples ${c0}-${c1}: lambda chosen`);
      }
      arena.destroy();
    }

    // 2. fit on all rows
    const design = new Design(arena, packed, 0, m, solver, blocking, detail, space(m));
    await design.ready(detail);
    const mean = columnMeans(0, m);
    const lipschitz = method === 'lasso' ? 1.02 * await largestEigenvalue(arena, design.operator(chunk4), cp, chunk4, C) : 0;
    const attributions = new Float32Array(C * n);
    const bias = new Float32Array(n);
    let residual: number | undefined;
    for (const [c0, c1] of chunks) {
      const n4 = Math.ceil((c1 - c0) / 4);
      const yc = targets(0, m, c0, c1, mean);
      const ridge = method === 'lasso' ? undefined : new RidgeSystem(design, n4, yc);
      const w = ridge?.weights ?? arena.create(cp * n4 * 16, 'weights');
      const perColumn = new Float32Array(n4 * 4).map((_, c) => (c0 + c < c1 ? (chosen ? chosen[c0 + c]! : lambda!) : 0));
      const lam = arena.upload(method === 'lasso' ? perColumn.map((v) => v * m) : perColumn, 'lambda');
      const label = `fit examples ${c0}-${c1}`;
      const solved: SolveResult & { residual?: number } = ridge
        ? await ridge.solve(lam, { tol, maxIter, progress: detail, label })
        : await fista(arena, design.operator(n4), cp, n4, m, design.rhs(arena.upload(yc, 'Yc'), n4), lam, w, lipschitz, { tol, maxIter, progress: detail, label });
      note(solved);
      if (solved.residual !== undefined) residual = Math.max(residual ?? 0, solved.residual);
      const wh = await readF32(ctx, w, cp * n4 * 4);
      // back to raw mask units: w_raw = w_std / std, bias = ybar - sum mean * w_raw
      const sign = packed.flipped ? -1 : 1;
      for (let c = c0; c < c1; c++) {
        let shift = 0;
        for (let j = 0; j < C; j++) {
          const raw = sign * wh[j * n4 * 4 + c - c0]! * design.invStd[j]!;
          attributions[j * n + c] = raw;
          const meanX = packed.flipped ? 1 - design.meanU[j]! : design.meanU[j]!;
          shift += meanX * raw;
        }
        bias[c] = mean[c]! - shift;
      }
    }
    const peakDeviceBytes = arena.peakBytes;
    const invalid = await ctx.device.popErrorScope();
    const oom = await ctx.device.popErrorScope();
    if (oom) throw new UserError(`the device ran out of memory during the fit (${oom.message}); try --solver matrix-free`);
    if (invalid) throw new Error(`fit: WebGPU validation error: ${invalid.message}`);
    return {
      attributions, bias, lambda: chosen ? Float32Array.from(chosen) : undefined, lambdaGrid,
      solver, iterations, converged, peakDeviceBytes, residual,
    };
  } finally {
    arena.destroy();
  }
}
