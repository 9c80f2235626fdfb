/**
 * Which solver, and how many examples per chunk: the cost model of the fit. Work is counted
 * in units measured on lavapipe (WORK_COST); memory in bytes, device and host together
 * (on a CPU adapter device memory is host memory).
 */
import { totalmem } from 'node:os';
import { UserError } from '../../errors.js';
import { gramBytes, type Solver } from './design.js';
import { listBytes } from './lists.js';

export type FitMethod = 'ols' | 'ridge' | 'lasso';

/** A stored Gram matrix is used only when it takes at most this many bytes (device memory is host memory on CPU adapters). */
export function gramBudget(): number { return Math.min(0.35 * totalmem(), 16 * 2 ** 30); }

/**
 * Default bound on the fit's memory: half the machine's. (An adapter profile should give the
 * device's own memory for discrete GPUs; WebGPU exposes no such limit, only maxBufferSize.)
 */
export function defaultMemoryBytes(): number { return 0.5 * totalmem(); }

/**
 * One float64 multiply-add of the host's Cholesky factorization and solve (cholesky.ts, one
 * core, 4 x 4 register blocks), in sparse units: 0.35 ns (factor) and 0.44 ns (solve) per
 * multiply-add measured at 4,000-8,000 on a quiet machine, against ~1.7 CPU-ns per sparse unit on
 * lavapipe (BENCHMARKS.md, "Fit in chunks"). A discrete GPU makes sparse units far cheaper:
 * this ratio belongs in the adapter's profile.
 */
const HOST_FMA = 0.25;

/**
 * Relative cost of one unit of work on lavapipe, per: gathered add of a sparse product (one
 * example, one set bit), multiply-add of a stored-Gram product, 32-bit AND + popcount of a
 * Gram build. Measured with bench/fit.ts `products` (see BENCHMARKS.md, "Fit").
 */
export const WORK_COST = { sparse: 1, dense: 0.5, popcount: 2, hostFma: HOST_FMA };

export interface FitShape {
  rows: number;
  components: number;
  examples: number;
  /** set bits (the rarer value) per mask entry */
  density: number;
  method: FitMethod;
  /** lambda chosen on held-out rows (a path of solves and a second design) */
  choosing: boolean;
  /** values on the lambda path when choosing (default 13 for ridge, 12 for LASSO) */
  lambdaPath?: number;
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
  // FISTA takes a few hundred steps where CG takes tens; LASSO's lambda path repeats the solve
  // (warm-started), ridge's is one multi-shift CG run (shifts.ts) before the refit on all rows
  const steps = lasso ? 300 : expectedIterations(m, c, s.tol ?? 1e-6);
  const solves = s.choosing ? (lasso ? 1 + 12 / 2 : 2) : 1;
  const designs = s.choosing ? 2 : 1;
  const nnz = s.density * m * c;
  const costs: Partial<Record<Solver, number>> = {
    'matrix-free': solves * steps * 2 * nnz * n * WORK_COST.sparse,
  };
  const build = (a: number, b: number) => designs * (a * a / 2) * Math.ceil(b / 128) * 4 * WORK_COST.popcount;
  if (gramBytes(c) <= gramBudget()) costs.gram = build(c, m) + solves * steps * c * c * n * WORK_COST.dense;
  // one lambda for every example: factor once (|C|^3 / 6), two triangular solves per example, then CG on
  // the stored Gram from that solution: its first and last residual and ~2 iterations past float32
  // rounding, 4 Gram products per example (measured at the reference's size, BENCHMARKS.md)
  if (!lasso && !s.choosing && !(s.method === 'ols' && m <= c) && 3 * gramBytes(c) <= gramBudget()) {
    costs.cholesky = build(c, m) / designs + (c ** 3 / 6 + 2 * c * c * n) * WORK_COST.hostFma + 4 * c * c * n * WORK_COST.dense;
  }
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
  if (requested === 'cholesky' && (s.method === 'lasso' || s.choosing)) {
    throw new UserError('--solver cholesky factors one ridge / OLS system for all examples: give --lambda (or --method ols), not LASSO');
  }
  if (requested === 'cholesky' && s.method === 'ols' && s.rows <= s.components) {
    throw new UserError(`--solver cholesky needs more mask rows than components for OLS (${s.rows} <= ${s.components}); use ridge or another solver`);
  }
  if (requested !== 'auto') return requested;
  const costs = Object.entries(solverCosts(s)) as [Solver, number][];
  return costs.reduce((a, b) => (b[1] < a[1] ? b : a))[0];
}

/**
 * Bytes of the part shared by every chunk (the design of all rows; while choosing lambda the
 * train design and the validation lists, never both designs at once) and bytes per example
 * of a chunk (the solver's [rows x 4] columns on the device, targets and outputs on the host).
 */
export function memoryModel(s: FitShape & { solver: Solver; setBits: number }): { shared: number; perExample: number } {
  const { rows: m, components: c, solver } = s;
  const cp = Math.ceil(c / 4) * 4;
  const packed = m * Math.max(4, Math.ceil(c / 128) * 4) * 4;
  const lists = listBytes(s.setBits, c, 1) + (solver === 'matrix-free' ? listBytes(s.setBits, m, 1) : 0);
  const matrix = solver === 'cholesky' ? gramBytes(c) * 3 + cp * Math.ceil(m / 128) * 16 : solver === 'gram' ? gramBytes(c) + cp * Math.ceil(m / 128) * 16 : solver === 'dual' ? (Math.ceil(m / 4) * 4) ** 2 * 4 + m * Math.ceil(c / 128) * 16 : 0;
  // host copies of the lists while they are built, the packed masks
  const shared = packed + 2 * lists + matrix;
  const space = solver === 'dual' || (solver === 'matrix-free' && s.method !== 'lasso' && m < c) ? Math.ceil(m / 4) * 4 : cp;
  // device: ~10 [space] columns (CG, operator, weights) + 4 [m] (targets, Z P, validation), and while
  // choosing ridge's lambda two per shifted system; host: targets twice, outputs
  const shifted = s.choosing && s.method !== 'lasso' ? 2 * ((s.lambdaPath ?? 13) - 1) * space : 0;
  const perExample = 4 * (10 * Math.max(space, cp) + 4 * m + shifted) + 4 * (3 * m + 2 * c);
  return { shared, perExample };
}

/** Examples per chunk under `memoryBytes` (a multiple of 4, at most `cap`), or a UserError naming what is needed. */
export function chunkExamples(model: { shared: number; perExample: number }, memoryBytes: number, cap: number): number {
  const fit = Math.floor((memoryBytes - model.shared) / model.perExample / 4) * 4;
  if (fit < 4) {
    const need = (model.shared + 4 * model.perExample) / 2 ** 30;
    throw new UserError(`the fit needs at least ${need.toFixed(2)} GB (${(model.shared / 2 ** 30).toFixed(2)} GB shared by all examples, then 4 examples at a time), --memory allows ${(memoryBytes / 2 ** 30).toFixed(2)} GB: raise --memory or use --solver matrix-free`);
  }
  return Math.max(4, Math.min(fit, Math.floor(cap / 4) * 4));
}
