/**
 * Every estimator of attributions by name, one entry point: `coar fit --method` and
 * `coar curve` call fitEstimator. ols / ridge / lasso are the regression of fit.ts
 * (the reference's estimator and its penalised variants); extracted and shared are here.
 */
import type { GpuContext } from '../../gpu/context.js';
import { fitAttributions, type FitOptions } from '../fit.js';
import type { PackedMasks } from '../fit_masks.js';
import type { EstimatorResult } from './common.js';
import { fitExtracted, type ExtractedOptions } from './extracted.js';
import { fitShared, type SharedOptions } from './shared.js';

export const ESTIMATORS = ['ols', 'ridge', 'lasso', 'extracted', 'shared'] as const;
export type EstimatorName = (typeof ESTIMATORS)[number];

export interface EstimatorOptions {
  /** ols / ridge / lasso: the options of fitAttributions (method aside) */
  regression?: Omit<FitOptions, 'method'>;
  /** lasso only, over `regression` (e.g. a cap on FISTA iterations) */
  lasso?: Omit<FitOptions, 'method'>;
  extracted?: ExtractedOptions;
  shared?: SharedOptions;
}

export async function fitEstimator(ctx: GpuContext, name: EstimatorName, masks: PackedMasks, margins: Float32Array, n: number,
  opts: EstimatorOptions = {}): Promise<EstimatorResult> {
  switch (name) {
    case 'ols': case 'ridge': case 'lasso': {
      const r = await fitAttributions(ctx, masks, margins, n, { ...opts.regression, ...(name === 'lasso' ? opts.lasso : {}), method: name });
      return {
        attributions: r.attributions, bias: r.bias,
        details: { solver: r.solver, iterations: r.iterations, converged: r.converged, ...(r.lambda ? { lambdaMedian: [...r.lambda].sort((a, b) => a - b)[Math.floor(n / 2)] } : {}) },
      };
    }
    case 'extracted': return fitExtracted(ctx, masks, margins, n, opts.extracted);
    case 'shared': return fitShared(ctx, masks, margins, n, opts.shared);
  }
}
