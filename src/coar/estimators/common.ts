/**
 * What the estimators beside the regression share: standardized targets, device error
 * scopes, the result's shape. (Raw units and the validation split are fit/units.ts, shared
 * with the regression.)
 */
import { UserError } from '../../errors.js';
import type { GpuContext } from '../../gpu/context.js';
import type { PackedMasks } from '../fit_masks.js';
export { toRawUnits, validationSplit } from '../fit/units.js';

export interface EstimatorResult {
  /** [|C| x n] row-major, raw mask units */
  attributions: Float32Array;
  bias: Float32Array;
  /** what the estimator chose or learned, for fit.json and the curve's records */
  details: Record<string, unknown>;
}

export interface StandardizedTargets {
  /** [rows x width] with width = n (or n rounded up to 4 when padded), zero in padding */
  values: Float32Array;
  width: number;
  mean: Float64Array;
  sd: Float64Array;
}

/**
 * Margins [rows x n] minus each example's mean over rows [r0, r1), over its standard deviation
 * there (1 when constant). `pad4`: rows widened to a multiple of 4 columns for vec4 kernels.
 */
export function standardizeTargets(margins: Float32Array, rows: number, n: number, r0: number, r1: number, pad4 = false): StandardizedTargets {
  const mean = new Float64Array(n), sd = new Float64Array(n);
  for (let i = r0; i < r1; i++) for (let e = 0; e < n; e++) mean[e]! += margins[i * n + e]!;
  for (let e = 0; e < n; e++) mean[e]! /= r1 - r0;
  for (let i = r0; i < r1; i++) for (let e = 0; e < n; e++) sd[e]! += (margins[i * n + e]! - mean[e]!) ** 2;
  for (let e = 0; e < n; e++) { const s = Math.sqrt(sd[e]! / (r1 - r0)); sd[e] = s > 1e-12 ? s : 1; }
  const width = pad4 ? Math.ceil(n / 4) * 4 : n;
  const values = new Float32Array(rows * width);
  for (let i = 0; i < rows; i++) for (let e = 0; e < n; e++) values[i * width + e] = (margins[i * n + e]! - mean[e]!) / sd[e]!;
  return { values, width, mean, sd };
}

/**
 * Run device work under error scopes: a kernel the device rejects, or memory it cannot give,
 * fails the fit instead of returning zeros. The scopes are popped whether or not `f` throws.
 */
export async function checkedOnDevice<T>(ctx: GpuContext, what: string, f: () => Promise<T>): Promise<T> {
  ctx.device.pushErrorScope('out-of-memory');
  ctx.device.pushErrorScope('validation');
  let result: T | undefined;
  let failure: unknown;
  try { result = await f(); } catch (e) { failure = e; }
  const invalid = await ctx.device.popErrorScope();
  const oom = await ctx.device.popErrorScope();
  if (oom) throw new UserError(`the device ran out of memory ${what} (${oom.message}); use fewer masks or examples`);
  if (invalid) throw new Error(`${what}: WebGPU validation error: ${invalid.message}`);
  if (failure !== undefined) throw failure;
  return result as T;
}

/** The mask bits must fit one storage binding for the network and shared kernels. */
export function checkBitsFit(ctx: GpuContext, masks: PackedMasks, method: string): void {
  const bytes = masks.rows * masks.wordsPerRow * 4;
  if (bytes > ctx.maxBinding) {
    throw new UserError(`${masks.rows} masks over ${masks.components} components take ${(bytes / 2 ** 20).toFixed(0)} MiB as bits, more than one storage binding on this device (${(ctx.maxBinding / 2 ** 20).toFixed(0)} MiB): --method ${method} cannot fit this store; use fewer rows or --method ridge`);
  }
}
