/** Squared error of predictions Z W on held-out mask rows: the score that chooses lambda. */
import type { Dispatch } from '../../gpu/context.js';
import { colSqDiff, colWeightedSum, scaleRows } from '../../kernels/fit.js';
import type { Design } from './design.js';
import { listDispatches, type DeviceLists } from './lists.js';

/**
 * Column-wise squared error of Z W on the rows of `lists` against Yc (both in the train
 * rows' standardization). Buffers are made once; `dispatches` is replayed after every solve.
 */
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
