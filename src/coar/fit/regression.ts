/**
 * COAR's second step (REFERENCE.md, "Regression (fit)"): from masks and margins to
 * component attributions. Y [m x n] ~ X [m x |C|] W + 1 b^T, fitted on standardized masks
 * with an intercept, returned in raw mask units (units.ts). Methods: ols and ridge by
 * conjugate gradient, lasso by FISTA; without a given lambda, each example picks its own on
 * the last val-frac of the rows (ridge: the whole path in one multi-shift CG run; lasso: a
 * warm-started path).
 *
 * Examples are fitted in chunks: the design (masks, standardization, Gram or index lists)
 * is built once, then chunks of examples are read (targets.ts), solved one after another
 * with one set of buffers, and handed to a ledger (chunks.ts keeps them on disk, so a killed
 * fit resumes at the first missing chunk). Chunks lie on a grid from example 0, and every
 * column is solved independently of its neighbours (CG and FISTA freeze converged columns),
 * so slices of examples assemble to the whole fit.
 */
import { UserError } from '../../errors.js';
import type { GpuContext } from '../../gpu/context.js';
import { packMaskArray, type PackedMasks } from '../fit_masks.js';
import { readF32, run, Arena } from './arena.js';
import { choleskySolve, factorGram } from './cholesky.js';
import { chooseSolver, chunkExamples, defaultMemoryBytes, memoryModel, type FitMethod } from './cost.js';
import { Design, type KeptGram, type Solver } from './design.js';
import { fista, FistaWorkspace } from './fista.js';
import { defaultBlocking, maskRowLists, type Blocking } from './lists.js';
import { largestEigenvalue } from './power.js';
import { RidgeSystem } from './ridge.js';
import type { Progress, SolveResult } from './solve.js';
import { inMemoryTargets, type TargetColumns } from './targets.js';
import { toRawUnits, validationSplit } from './units.js';
import { validationError } from './validation.js';

/** Chunks done of a phase of the fit, for a progress bar. */
export type ChunkProgress = (phase: 'choosing lambda' | 'fitting', done: number, total: number) => void;

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
  /** cap on examples solved together (default: as many as --memory and one binding allow) */
  examplesPerChunk?: number;
  /** bound on the fit's host + device memory in bytes (default: defaultMemoryBytes) */
  memoryBytes?: number;
  progress?: Progress;
  /** solver detail (iterations, residuals, Gram blocks): shown with --verbose */
  detail?: Progress;
  /** after each chunk: `done` of `total` chunks of the phase (choosing lambda, then the fit on all rows) */
  chunkDone?: ChunkProgress;
  /** how the index lists of the masks are cut (tests, tuning); default: cache-sized blocks, one binding per chunk */
  blocking?: Partial<Blocking>;
  /** what the slices of one fit in one process share (RegressionShared); used by fits with a given lambda */
  shared?: RegressionShared;
}

/**
 * The part of a fit every slice of it shares, kept between slices fitted in one process (a
 * queue worker's fit process): the design of all rows (standardization, Gram or index lists),
 * its operator, Cholesky factor and buffers, built by the first slice. A slice's columns do not
 * depend on the chunks solved before them on the same buffers (every solve restarts from 0:
 * the same reuse as a fit's chunks), so they are those of a fit that builds it again. Kept only
 * for a fit with one phase (a given lambda): choosing lambda builds a second design, and both
 * kept at once would exceed the memory bound the chunk width was chosen for.
 */
export class RegressionShared {
  readonly arena: Arena;
  private readonly kept = new Map<string, Promise<unknown>>();
  private masks: PackedMasks | undefined;
  constructor(ctx: GpuContext) { this.arena = new Arena(ctx); }

  /** What `build` made for `key` on `packed` (one set of masks per RegressionShared), built on the first call. */
  get<T>(packed: PackedMasks, key: string, build: (arena: Arena) => Promise<T>): Promise<T> {
    if (this.masks !== undefined && this.masks !== packed) throw new Error('a RegressionShared serves the slices of one fit, on one set of masks');
    this.masks = packed;
    let v = this.kept.get(key);
    if (!v) {
      // a width not met before (the last, narrower slice): what another width built is not used again
      this.destroy();
      this.masks = packed;
      v = build(this.arena);
      this.kept.set(key, v);
      v.catch(() => this.kept.delete(key));
    }
    return v as Promise<T>;
  }

  destroy(): void {
    this.arena.destroy();
    this.kept.clear();
    this.masks = undefined;
  }
}

export const DEFAULT_VAL_FRAC = 0.1;

/** One chunk of examples [c0, c1), solved: raw units. */
export interface ChunkFit {
  /** [|C| x (c1 - c0)] row-major */
  attributions: Float32Array;
  bias: Float32Array;
  iterations: number;
  converged: boolean;
  residual?: number;
}

export type ChunkRecord = Omit<ChunkFit, 'attributions' | 'bias'>;

/** Where solved chunks go, and where a resumed fit finds them. */
export interface ChunkLedger {
  /** the facts the chunks depend on (solver, grid); a ledger holding chunks of another plan drops them */
  begin(plan: Record<string, unknown>): void;
  lambda(c0: number, c1: number): Float32Array | undefined;
  saveLambda(c0: number, c1: number, lambda: Float32Array): void;
  /** a chunk already fitted, or undefined */
  fit(c0: number, c1: number): ChunkRecord | undefined;
  saveFit(c0: number, c1: number, fit: ChunkFit): void;
  /** the Cholesky factor [n x n] of this plan's Gram matrix, kept by an earlier run of the fit (a ledger on disk) */
  factor?(n: number): Float64Array | undefined;
  saveFactor?(factor: Float64Array, n: number): void;
  /** the stored Gram matrix [n x n] float32 an earlier run of this plan kept (a ledger on disk), read by rows */
  gram?(n: number): KeptGram | undefined;
  /** keep the Gram matrix (here in float64 on the host, its float32 values exactly) for a resumed run */
  saveGram?(gram: Float64Array, n: number): void;
}

export interface RegressionSummary {
  solver: Solver;
  /** chunks of examples, on the grid of `chunkExamples` from example 0 */
  chunks: [number, number][];
  chunkExamples: number;
  /** the lambdas tried: ridge, absolute values; lasso, fractions of each example's lambda_max */
  lambdaGrid?: number[];
  iterations: number;
  converged: boolean;
  /** chunks taken from the ledger instead of solved */
  resumed: number;
  peakDeviceBytes: number;
  /** ridge / OLS: the worst true primal relative residual ||Z^T Yc - (Z^T Z + lambda) W|| / ||Z^T Yc|| over the chunks solved now */
  residual?: number;
}

function countBits(bits: Uint32Array): number {
  let setBits = 0;
  for (let i = 0; i < bits.length; i++) { let v = bits[i]!; v -= (v >>> 1) & 0x55555555; v = (v & 0x33333333) + ((v >>> 2) & 0x33333333); setBits += (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24; }
  return setBits;
}

/** The chunks of examples [a, b) on the grid of `width` from 0. */
export function chunkGrid(a: number, b: number, width: number): [number, number][] {
  const out: [number, number][] = [];
  for (let c = Math.floor(a / width) * width; c < b; c += width) out.push([Math.max(a, c), Math.min(b, c + width)]);
  return out;
}

/**
 * The solver of a fit of `examples` examples on `packed`, as fitRegression chooses it. A slice
 * is planned as the whole fit (all the targets' examples), so that its columns are the whole
 * fit's; a coordinator of a distributed fit asks this once and hands the answer to its workers
 * (the automatic choice depends on the machine's memory).
 */
export function regressionPlan(packed: PackedMasks, examples: number, opts: Pick<FitOptions, 'method' | 'lambda' | 'lambdaPath' | 'tol' | 'solver'>) {
  const method = opts.method;
  const lambda = method === 'ols' ? 0 : opts.lambda;
  const tol = opts.tol ?? (method === 'lasso' ? 1e-7 : 1e-6);
  const setBits = countBits(packed.bits);
  const shape = { rows: packed.rows, components: packed.components, examples, density: setBits / (packed.rows * packed.components), method, choosing: lambda === undefined, lambdaPath: opts.lambdaPath, tol };
  return { shape, setBits, solver: chooseSolver(shape, opts.solver) };
}

/**
 * Fit examples `examples` ([a, b), default all) of `targets` on `masks`, handing every chunk
 * to `ledger` (chunks it already holds are not solved again).
 */
export async function fitRegression(ctx: GpuContext, packed: PackedMasks, targets: TargetColumns, opts: FitOptions, ledger: ChunkLedger,
  examples: [number, number] = [0, targets.examples]): Promise<RegressionSummary> {
  const m = packed.rows;
  const C = packed.components;
  const [a, b] = examples;
  if (targets.rows !== m) throw new UserError(`margins hold ${targets.rows} rows, the masks ${m}`);
  if (!(a >= 0 && a < b && b <= targets.examples)) throw new UserError(`--examples ${a}:${b} is not a slice of the ${targets.examples} examples (0 <= a < b <= ${targets.examples})`);
  if (opts.lambda !== undefined && !(opts.lambda >= 0)) throw new UserError(`lambda must be >= 0, got ${opts.lambda}`);
  const method = opts.method;
  const lambda = method === 'ols' ? 0 : opts.lambda;
  const tol = opts.tol ?? (method === 'lasso' ? 1e-7 : 1e-6);
  const { shape, setBits, solver } = regressionPlan(packed, targets.examples, opts);
  const split = lambda === undefined ? validationSplit(m, opts.valFrac ?? DEFAULT_VAL_FRAC) : undefined;
  const maxIter = opts.maxIter ?? (method === 'lasso' ? 20000 : 2000);
  const progress = opts.progress;
  const detail = opts.detail;
  const cp = Math.ceil(C / 4) * 4;
  // the grid does not depend on the slice, so a slice's chunks are the whole fit's
  const widest = chunkExamples(memoryModel({ ...shape, solver, setBits }), opts.memoryBytes ?? defaultMemoryBytes(),
    Math.min(opts.examplesPerChunk ?? Infinity, 4 * Math.floor(ctx.maxBinding / (Math.max(cp, m) * 16))));
  // chunks of (nearly) equal width: a narrow last chunk would cost a whole one, its padding columns
  // run through every product (4 examples after 3 x 332 took 13 min of a 50 min lambda search)
  const width = Math.ceil(targets.examples / Math.ceil(targets.examples / widest) / 4) * 4;
  const chunks = chunkGrid(a, b, width);
  const n4 = Math.ceil(Math.min(width, chunks.reduce((w, [c0, c1]) => Math.max(w, c1 - c0), 0)) / 4);
  const blocking = { ...defaultBlocking(ctx, n4), ...opts.blocking };
  // ridge / OLS by products solve in the smaller space (see Design)
  const space = (rows: number) => (solver === 'dual' || (solver === 'matrix-free' && method !== 'lasso' && rows < C) ? 'dual' : 'primal');

  const arena = new Arena(ctx);
  let iterations = 0;
  let converged = true;
  let resumed = 0;
  let residual: number | undefined;
  const note = (r: SolveResult & { residual?: number }) => {
    iterations += r.iterations; converged &&= r.converged;
    if (r.residual !== undefined) residual = Math.max(residual ?? 0, r.residual);
  };
  // targets of rows [r0, r1) for one chunk, minus their mean over rows [0, meanRows), as [rows x n4] vec4
  const centred = (y: Float32Array, w: number, r0: number, r1: number, mean: Float64Array) => {
    const out = new Float32Array((r1 - r0) * n4 * 4);
    for (let i = r0; i < r1; i++) for (let c = 0; c < w; c++) out[(i - r0) * n4 * 4 + c] = y[i * w + c]! - mean[c]!;
    return out;
  };
  const means = (y: Float32Array, w: number, rows: number) => {
    const mean = new Float64Array(w);
    for (let i = 0; i < rows; i++) for (let c = 0; c < w; c++) mean[c]! += y[i * w + c]!;
    return mean.map((v) => v / rows);
  };
  // a fixed width for the power iteration: FISTA's step must not depend on the chunk
  const lipschitzOf = async (design: Design) => 1.02 * await largestEigenvalue(arena, design.operator(1), cp, 1, C);

  ledger.begin({ method, lambda: lambda ?? null, valFrac: split ? opts.valFrac ?? DEFAULT_VAL_FRAC : null, lambdaPath: opts.lambdaPath ?? null, solver, chunkExamples: width, tol, maxIter });
  ctx.device.pushErrorScope('out-of-memory');
  ctx.device.pushErrorScope('validation');
  try {
    detail?.(`${b - a} examples in ${chunks.length} chunk${chunks.length > 1 ? 's' : ''} of up to ${width} (${solver})`);
    // 1. choose lambda per example on held-out rows
    let lambdaGrid: number[] | undefined;
    const chosen = new Map<number, Float32Array>();
    if (split) {
      const mt = split.train;
      const mv = split.validate;
      const steps = opts.lambdaPath ?? (method === 'lasso' ? 12 : 13);
      lambdaGrid = method === 'lasso'
        ? Array.from({ length: steps }, (_, t) => 10 ** (-3 * t / (steps - 1)))
        : Array.from({ length: steps }, (_, t) => mt * 10 ** (2 - 6 * t / (steps - 1)));
      const todo = chunks.filter(([c0, c1]) => {
        const done = ledger.fit(c0, c1) !== undefined ? new Float32Array(0) : ledger.lambda(c0, c1);
        if (done) chosen.set(c0, done);
        return !done;
      });
      if (todo.length) {
        detail?.(`choosing lambda on ${mt} train / ${mv} validation rows (${solver})`);
        const design = new Design(arena, packed, 0, mt, solver, blocking, detail, space(mt));
        await design.ready(detail);
        const valLists = maskRowLists(arena, packed, mt, m, blocking, 'validation lists');
        const lipschitz = method === 'lasso' ? await lipschitzOf(design) : 0;
        // one set of buffers for every chunk and every lambda of the path
        const ridge = method === 'lasso' ? undefined : new RidgeSystem(design, n4);
        const ws = ridge ? undefined : new FistaWorkspace(arena, cp, n4);
        const op = design.operator(n4);
        const yTrain = arena.create(mt * n4 * 16, 'train Yc');
        const bTrain = ridge ? undefined : arena.create(cp * n4 * 16, 'train B');
        const yv = arena.create(mv * n4 * 16, 'val Yc');
        const w = ridge?.weights ?? arena.create(cp * n4 * 16, 'weights');
        const lam = arena.create(n4 * 16, 'lambda');
        const val = validationError(design, valLists, n4, w, yv, mv);
        let lambdasChosen = 0;
        for (const [c0, c1] of todo) {
          const cw = c1 - c0;
          const y = targets.columns(c0, c1);
          const meanT = means(y, cw, mt);
          const yc = centred(y, cw, 0, mt, meanT);
          ctx.device.queue.writeBuffer(yv, 0, centred(y, cw, mt, m, meanT));
          let lambdaMax: Float64Array | undefined;
          if (ridge) ridge.load(yc);
          else {
            ctx.device.queue.writeBuffer(yTrain, 0, yc);
            ctx.device.queue.writeBuffer(w, 0, new Float32Array(cp * n4 * 4));
            design.rhsInto(yTrain, n4, bTrain!);
            const bh = await readF32(ctx, bTrain!, cp * n4 * 4);
            lambdaMax = new Float64Array(n4 * 4);
            for (let j = 0; j < C; j++) for (let c = 0; c < n4 * 4; c++) lambdaMax[c] = Math.max(lambdaMax[c]!, Math.abs(bh[j * n4 * 4 + c]!) / mt);
          }
          const best = new Float64Array(cw).fill(Infinity);
          const pick = new Float32Array(cw);
          // held-out error of the weights now in `w` at grid value g; ties go to the larger lambda
          const score = async (g: number) => {
            run(ctx, val.dispatches);
            const err = await readF32(ctx, val.err, n4 * 4);
            for (let c = 0; c < cw; c++) {
              const value = lambdaMax ? g * lambdaMax[c]! : g;
              if (err[c]! < best[c]! || (err[c]! === best[c]! && value > pick[c]!)) { best[c] = err[c]!; pick[c] = value; }
            }
          };
          if (ridge) {
            // one multi-shift CG run for the whole path: the base system at its smallest lambda
            const base = Math.min(...lambdaGrid);
            ctx.device.queue.writeBuffer(lam, 0, new Float32Array(n4 * 4).fill(base));
            const grid = lambdaGrid;
            note(await ridge.solvePath(lam, grid.map((g) => g - base), { tol, maxIter, progress: detail, label: `examples ${c0}-${c1} lambda path` },
              (k) => score(grid[k]!)));
          } else {
            for (const g of lambdaGrid) {
              const perColumn = new Float32Array(n4 * 4).map((_, c) => mt * g * lambdaMax![c]!);
              ctx.device.queue.writeBuffer(lam, 0, perColumn);
              note(await fista(ws!, op, bTrain!, lam, w, lipschitz, { tol, maxIter, progress: detail, label: `examples ${c0}-${c1} lambda ${g.toPrecision(3)} lambda_max` }));
              await score(g);
            }
          }
          ledger.saveLambda(c0, c1, pick);
          chosen.set(c0, pick);
          detail?.(`examples ${c0}-${c1}: lambda chosen`);
          opts.chunkDone?.('choosing lambda', ++lambdasChosen, todo.length);
        }
        arena.destroy();
      }
    }

    // 2. fit on all rows
    const todo = chunks.filter(([c0, c1]) => {
      const done = ledger.fit(c0, c1);
      if (done) note(done);
      return !done;
    });
    resumed = chunks.length - todo.length;
    if (resumed) progress?.(`${resumed} of ${chunks.length} chunks already fitted: resuming`);
    if (todo.length) {
      // the design, its operator, factor and buffers of the fit on all rows: built here, or
      // kept from an earlier slice of the same fit (a fit with a given lambda has no other phase)
      const build = async (on: Arena) => {
        // a resumed Cholesky fit reads the Gram matrix its first run kept instead of building it again
        const kept = solver === 'cholesky' ? ledger.gram?.(cp) : undefined;
        const design = new Design(on, packed, 0, m, solver === 'cholesky' ? 'gram' : solver, blocking, detail, space(m), kept);
        await design.ready(detail);
        const lipschitz = method === 'lasso' ? await lipschitzOf(design) : 0;
        const ridge = method === 'lasso' ? undefined : new RidgeSystem(design, n4);
        const factor = solver === 'cholesky' ? await factorGram(design, lambda!, ledger, progress) : undefined;
        const ws = ridge ? undefined : new FistaWorkspace(on, cp, n4);
        return {
          design, lipschitz, ridge, factor, ws,
          yAll: on.create(m * n4 * 16, 'Yc'), bAll: ridge ? undefined : on.create(cp * n4 * 16, 'B'),
          w: ridge?.weights ?? on.create(cp * n4 * 16, 'weights'), lam: on.create(n4 * 16, 'lambda'),
        };
      };
      const shared = split ? undefined : opts.shared;
      const { design, lipschitz, ridge, factor, ws, yAll, bAll, w, lam } = shared
        ? await shared.get(packed, JSON.stringify({ m, solver, space: space(m), blocking, n4, method, lambda }), build)
        : await build(arena);
      let fitted = 0;
      for (const [c0, c1] of todo) {
        const cw = c1 - c0;
        const y = targets.columns(c0, c1);
        const mean = means(y, cw, m);
        const yc = centred(y, cw, 0, m, mean);
        const pick = chosen.get(c0);
        const perColumn = new Float32Array(n4 * 4).map((_, c) => (c < cw ? (pick ? pick[c]! : lambda!) : 0));
        ctx.device.queue.writeBuffer(lam, 0, method === 'lasso' ? perColumn.map((v) => v * m) : perColumn);
        const label = `fit examples ${c0}-${c1}`;
        let solved: SolveResult & { residual?: number };
        if (ridge) {
          ridge.load(yc);
          // the factor's solution seeds CG, which checks its true residual (0 iterations when within tol)
          if (factor) ridge.setWeights(choleskySolve(factor, cp, await ridge.rhsHost(), n4 * 4));
          solved = await ridge.solve(lam, { tol, maxIter, progress: detail, label });
        } else {
          ctx.device.queue.writeBuffer(yAll, 0, yc);
          ctx.device.queue.writeBuffer(w, 0, new Float32Array(cp * n4 * 4));
          design.rhsInto(yAll, n4, bAll!);
          solved = await fista(ws!, design.operator(n4), bAll!, lam, w, lipschitz, { tol, maxIter, progress: detail, label });
        }
        note(solved);
        const wh = await readF32(ctx, w, cp * n4 * 4);
        const raw = toRawUnits(wh, n4 * 4, undefined, cw, packed, design.meanU, design.invStd, { mean });
        ledger.saveFit(c0, c1, { ...raw, iterations: solved.iterations, converged: solved.converged, residual: solved.residual });
        detail?.(`examples ${c0}-${c1} fitted (${solved.iterations} iterations)`);
        opts.chunkDone?.('fitting', ++fitted, todo.length);
      }
    }
    const invalid = await ctx.device.popErrorScope();
    const oom = await ctx.device.popErrorScope();
    if (oom) throw new UserError(`the device ran out of memory during the fit (${oom.message}); try a smaller --memory or --solver matrix-free`);
    if (invalid) throw new Error(`fit: WebGPU validation error: ${invalid.message}`);
    return { solver, chunks, chunkExamples: width, lambdaGrid, iterations, converged, resumed, peakDeviceBytes: arena.peakBytes + (opts.shared?.arena.peakBytes ?? 0), residual };
  } finally {
    arena.destroy();
  }
}

export interface FitResult extends Omit<RegressionSummary, 'chunks' | 'resumed' | 'chunkExamples'> {
  /** [|C| x n] row-major, raw mask units */
  attributions: Float32Array;
  bias: Float32Array;
  /** per example, when chosen on held-out rows */
  lambda?: Float32Array;
}

/** A ledger in memory that assembles the chunks of examples [a, b) into whole arrays. */
export function memoryLedger(components: number, a: number, b: number) {
  const n = b - a;
  const attributions = new Float32Array(components * n);
  const bias = new Float32Array(n);
  let lambda: Float32Array | undefined;
  const ledger: ChunkLedger = {
    begin: () => {},
    lambda: () => undefined,
    saveLambda: (c0, _c1, l) => { (lambda ??= new Float32Array(n)).set(l, c0 - a); },
    fit: () => undefined,
    saveFit: (c0, c1, f) => {
      const w = c1 - c0;
      for (let j = 0; j < components; j++) attributions.set(f.attributions.subarray(j * w, (j + 1) * w), j * n + c0 - a);
      bias.set(f.bias, c0 - a);
    },
  };
  return { ledger, attributions, bias, lambda: () => lambda };
}

/**
 * Fit attributions for all examples in memory. `masks`: packed (fit_masks.ts) or 0/1 bytes
 * [m x |C|]; `margins`: float32 [m x n] row-major.
 */
export async function fitAttributions(ctx: GpuContext, masks: PackedMasks | { data: Uint8Array; rows: number; components: number },
  margins: Float32Array, n: number, opts: FitOptions): Promise<FitResult> {
  const packed = 'bits' in masks ? masks : packMaskArray(masks.data, masks.rows, masks.components);
  if (margins.length !== packed.rows * n) throw new UserError(`margins hold ${margins.length} values, expected ${packed.rows} rows x ${n} examples`);
  const sink = memoryLedger(packed.components, 0, n);
  const r = await fitRegression(ctx, packed, inMemoryTargets(margins, packed.rows, n), opts, sink.ledger);
  return {
    attributions: sink.attributions, bias: sink.bias, lambda: sink.lambda(), lambdaGrid: r.lambdaGrid, solver: r.solver,
    iterations: r.iterations, converged: r.converged, peakDeviceBytes: r.peakDeviceBytes, residual: r.residual,
  };
}
