/**
 * The two conventions every estimator shares: the way back from a linear model on
 * standardized bits to attributions in raw mask units, as `coar fit` writes them
 *   predicted margin = bias + mask . attributions   (mask 1 = kept),
 * and the rows held out to choose a setting (lambda, nu, a learning rate).
 */
import { UserError } from '../../errors.js';
import type { PackedMasks } from '../fit_masks.js';

/**
 * Raw-unit attributions from a model on standardized bits z_j = (u_j - meanU_j) invStd_j
 * predicting (margin - mean) / sd: w [C x stride] (first n columns used), b [n].
 * A flipped packing (set bit = ablated) negates the weights and measures means from 1.
 */
export function toRawUnits(w: ArrayLike<number>, stride: number, b: ArrayLike<number> | undefined, n: number, masks: Pick<PackedMasks, 'components' | 'flipped'>,
  meanU: ArrayLike<number>, invStd: ArrayLike<number>, target: { mean: ArrayLike<number>; sd?: ArrayLike<number> }): { attributions: Float32Array; bias: Float32Array } {
  const C = masks.components;
  const sign = masks.flipped ? -1 : 1;
  const attributions = new Float32Array(C * n);
  const bias = new Float32Array(n);
  for (let e = 0; e < n; e++) {
    const sd = target.sd ? target.sd[e]! : 1;
    let shift = 0;
    for (let j = 0; j < C; j++) {
      const raw = sign * w[j * stride + e]! * invStd[j]! * sd;
      attributions[j * n + e] = raw;
      shift += (masks.flipped ? 1 - meanU[j]! : meanU[j]!) * raw;
    }
    bias[e] = target.mean[e]! + sd * (b ? b[e]! : 0) - shift;
  }
  return { attributions, bias };
}

/**
 * Rows [0, m) split into train rows and validation rows: the last round(m valFrac), at least
 * 2 of each (so m >= 4). The reference holds out 5,000 of 50,000 masks the same way.
 */
export function validationSplit(m: number, valFrac: number): { train: number; validate: number } {
  if (!(valFrac > 0 && valFrac < 1)) throw new UserError(`--val-frac must be between 0 and 1, got ${valFrac}`);
  if (m < 4) throw new UserError(`cannot hold out validation rows from ${m} rows (at least 2 train and 2 validation rows are needed): give --lambda or more rows`);
  const validate = Math.min(m - 2, Math.max(2, Math.round(m * valFrac)));
  return { train: m - validate, validate };
}
