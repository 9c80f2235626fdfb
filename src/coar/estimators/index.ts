/**
 * Every estimator of attributions behind one interface: `coar fit --method`, fitStore and
 * `coar curve` all go through ESTIMATOR_TABLE. ols / ridge / lasso are the regression of
 * fit/regression.ts (the reference's estimator and its penalised variants), streamed in
 * chunks of examples; extracted and shared read their examples at once (shared pools them).
 * Each hands its solved examples to a ledger (fit/chunks.ts on disk, or memory), so the
 * outputs are written in one place.
 */
import type { GpuContext } from '../../gpu/context.js';
import type { PackedMasks } from '../fit_masks.js';
import { fitRegression, memoryLedger, type ChunkLedger, type FitOptions } from '../fit/regression.js';
import { inMemoryTargets, type TargetColumns } from '../fit/targets.js';
import type { EstimatorResult } from './common.js';
import { fitExtracted, type ExtractedOptions } from './extracted.js';
import { fitShared, type SharedOptions } from './shared.js';
import { UserError } from '../../errors.js';

export const ESTIMATORS = ['ols', 'ridge', 'lasso', 'extracted', 'shared'] as const;
export type EstimatorName = (typeof ESTIMATORS)[number];

export interface EstimatorOptions {
  /** ols / ridge / lasso: the options of the regression (method aside) */
  regression?: Omit<FitOptions, 'method'>;
  /** lasso only, over `regression` (e.g. a cap on FISTA iterations) */
  lasso?: Omit<FitOptions, 'method'>;
  extracted?: ExtractedOptions;
  shared?: SharedOptions;
}

export interface Estimator {
  /** examples share nothing (slices of them assemble to the whole fit); extracted and shared choose settings from all examples */
  separable: boolean;
  /**
   * Fit examples [a, b) of `targets`, handing solved chunks to `ledger`; returns what fit.json
   * records about the fit (solver, chosen settings, iterations).
   */
  fit(ctx: GpuContext, masks: PackedMasks, targets: TargetColumns, range: [number, number], ledger: ChunkLedger, opts: EstimatorOptions): Promise<Record<string, unknown>>;
}

const regression = (method: 'ols' | 'ridge' | 'lasso'): Estimator => ({
  separable: true,
  async fit(ctx, masks, targets, range, ledger, opts) {
    const r = await fitRegression(ctx, masks, targets, { ...opts.regression, ...(method === 'lasso' ? opts.lasso : {}), method }, ledger, range);
    return {
      solver: r.solver, iterations: r.iterations, converged: r.converged, residual: r.residual ?? null, lambdaGrid: r.lambdaGrid ?? null,
      chunkExamples: r.chunkExamples, chunks: r.chunks.length, resumedChunks: r.resumed, peakDeviceBytes: r.peakDeviceBytes,
    };
  },
});

/** An estimator that fits all its examples at once, from memory: one chunk. */
const whole = (f: (ctx: GpuContext, masks: PackedMasks, margins: Float32Array, n: number, opts: EstimatorOptions) => Promise<EstimatorResult>): Estimator => ({
  separable: false,
  async fit(ctx, masks, targets, [a, b], ledger, opts) {
    ledger.begin({});
    const done = ledger.fit(a, b);
    if (done) return { ...done, resumedChunks: 1 };
    if (masks.rows < 4) throw new UserError(`this estimator needs at least 4 completed rows, the store has ${masks.rows}`);
    const r = await f(ctx, masks, targets.columns(a, b), b - a, opts);
    ledger.saveFit(a, b, { attributions: r.attributions, bias: r.bias, iterations: 0, converged: true });
    return r.details;
  },
});

export const ESTIMATOR_TABLE: Record<EstimatorName, Estimator> = {
  ols: regression('ols'),
  ridge: regression('ridge'),
  lasso: regression('lasso'),
  extracted: whole((ctx, masks, margins, n, o) => fitExtracted(ctx, masks, margins, n, o.extracted)),
  shared: whole((ctx, masks, margins, n, o) => fitShared(ctx, masks, margins, n, o.shared)),
};

/** What a curve point records of an ols / ridge / lasso fit: its solver and, when chosen, the median lambda. */
export function regressionDetails(details: Record<string, unknown>, lambda: Float32Array | undefined): Record<string, unknown> {
  return {
    solver: details.solver, iterations: details.iterations, converged: details.converged, chunks: details.chunks, chunkExamples: details.chunkExamples,
    ...(lambda ? { lambdaMedian: [...lambda].sort((x, y) => x - y)[Math.floor(lambda.length / 2)] } : {}),
  };
}

/**
 * Any estimator on masks and margins [m x n], held in memory or read a chunk of examples at a
 * time (coar curve streams them from the store for ols / ridge / lasso; tests). The attributions
 * come back whole, [|C| x n] in memory.
 */
export async function fitEstimator(ctx: GpuContext, name: EstimatorName, masks: PackedMasks, margins: Float32Array | TargetColumns, n: number,
  opts: EstimatorOptions = {}): Promise<EstimatorResult> {
  const sink = memoryLedger(masks.components, 0, n);
  const targets = margins instanceof Float32Array ? inMemoryTargets(margins, masks.rows, n) : margins;
  if (targets.rows !== masks.rows || targets.examples !== n) throw new UserError(`margins hold [${targets.rows}, ${targets.examples}], the masks ${masks.rows} rows and ${n} examples`);
  const details = await ESTIMATOR_TABLE[name].fit(ctx, masks, targets, [0, n], sink.ledger, opts);
  const lambda = sink.lambda();
  return {
    attributions: sink.attributions, bias: sink.bias,
    details: name === 'extracted' || name === 'shared' ? details : regressionDetails(details, lambda),
  };
}
