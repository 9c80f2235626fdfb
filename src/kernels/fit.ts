/**
 * Kernels of the regression fit (shaders/fit_*.wgsl): shapes in, dispatches out.
 * Dense operands are [rows x n4] arrays of vec4 (four examples per vec4, one example per
 * column); packed 0/1 matrices are blocks of rows, each block one storage binding.
 */
import { splitGroups, type Dispatch, type GpuContext } from '../gpu/context.js';
import { uniformBuffer } from '../gpu/buffers.js';

const WG = 64;

/** Rows [row0, row0 + rows) of a bit matrix packed along its rows, `words4` vec4<u32> per row. */
export interface BitBlock {
  buffer: GPUBuffer;
  row0: number;
  rows: number;
  words4: number;
}

// uniform parameter blocks are few and never change: cache them per device
const uniforms = new WeakMap<GPUDevice, Map<string, GPUBuffer>>();

function params(ctx: GpuContext, words: ArrayBuffer): GPUBuffer {
  let cache = uniforms.get(ctx.device);
  if (!cache) uniforms.set(ctx.device, cache = new Map());
  const key = Array.from(new Uint32Array(words)).join(',');
  let b = cache.get(key);
  if (!b) cache.set(key, b = uniformBuffer(ctx.device, new Uint32Array(words), 'fit params'));
  return b;
}

function u32s(...v: number[]): ArrayBuffer { return new Uint32Array(v).buffer; }

function groups(invocations: number): [number, number] { return splitGroups(Math.ceil(invocations / WG)); }

/**
 * Block I x block J of a standardized Gram matrix, written into rows of `q` (block I) and,
 * with `qMirror`, transposed into the rows of block J. Primal: `rowA` = set-bit counts,
 * `rowB` = inverse standard deviations, `constant` = m. Dual (`weight` given): `rowA` = a_i,
 * `constant` = c (see fit_gram.wgsl).
 */
export function gramBlock(ctx: GpuContext, a: {
  bitsI: BitBlock; bitsJ: BitBlock; rowA: GPUBuffer; rowB?: GPUBuffer; weight?: GPUBuffer; q: GPUBuffer; qMirror?: GPUBuffer;
  cols: number; constant: number; scale?: number; valid: number;
}): Dispatch {
  const w = new ArrayBuffer(48);
  new Uint32Array(w, 0, 6).set([a.bitsI.words4, a.bitsI.rows, a.bitsI.row0, a.bitsJ.rows, a.bitsJ.row0, a.cols]);
  new Float32Array(w, 24, 2).set([a.constant, a.scale ?? 1]);
  new Uint32Array(w, 32, 1).set([a.valid]);
  const tiles = Math.ceil(a.bitsI.rows / 4) * Math.ceil(a.bitsJ.rows / 4);
  return ctx.prepare({ shader: 'fit_gram.wgsl', constants: { WG }, defines: { DUAL: !!a.weight, MIRROR: !!a.qMirror } },
    [params(ctx, w), a.bitsI.buffer, a.bitsJ.buffer, a.rowA, a.rowB, a.q, a.qMirror, a.weight], groups(tiles), 'fit gram');
}

const MATMUL_ROWS = 8;

/** out[row0 + r] = Q[r] P + lambda * P[row0 + r] for the rows of one block of Q. */
export function gramProduct(ctx: GpuContext, a: {
  q: GPUBuffer; rows: number; row0: number; cols: number; x: GPUBuffer; n4: number; lambda: GPUBuffer; out: GPUBuffer;
}): Dispatch {
  const invocations = Math.ceil(a.rows / MATMUL_ROWS) * a.n4;
  return ctx.prepare({ shader: 'fit_matmul.wgsl', constants: { WG } },
    [params(ctx, u32s(a.rows, a.row0, a.cols / 4, a.n4)), a.q, a.x, a.lambda, a.out], groups(invocations), 'fit gram product');
}

/** One chunk of index lists on the device (see fit_masks.ts, ListChunk). */
export interface ListBlock {
  ptr: GPUBuffer;
  idx: GPUBuffer;
  row0: number;
  rows: number;
}

/** Lanes per list row: one SIMD vector of lavapipe's 256-bit build. */
export const LIST_LANES = 8;

/**
 * Block `block` of a blocked sparse product: out[row0 + r] = sum of x over the entries of
 * list row r in that block, minus `sub` (block 0) or added to out (later blocks).
 */
export function listProduct(ctx: GpuContext, a: { lists: ListBlock; block: number; x: GPUBuffer; n4: number; sub: GPUBuffer; out: GPUBuffer }): Dispatch {
  const cb = Math.min(4, Math.ceil(a.n4 / LIST_LANES));
  const u = params(ctx, u32s(a.lists.rows, a.lists.row0, a.n4, a.block * (a.lists.rows + 1), a.block > 0 ? 1 : 0, 0, 0, 0));
  return ctx.prepare({ shader: 'fit_sparse.wgsl', defines: { CB: cb }, constants: { LANES: LIST_LANES } },
    [u, a.lists.ptr, a.lists.idx, a.x, a.sub, a.out], splitGroups(a.lists.rows), 'fit sparse product');
}

/** A uniform block {rows, n4, s0, s1} that the caller may rewrite between submits (FISTA's step). */
export function vecParams(ctx: GpuContext, rows: number, n4: number, s0 = 0, s1 = 0): GPUBuffer {
  const w = new ArrayBuffer(16);
  new Uint32Array(w, 0, 2).set([rows, n4]);
  new Float32Array(w, 8, 2).set([s0, s1]);
  return uniformBuffer(ctx.device, new Uint32Array(w), 'fit vec params');
}

interface VecArgs {
  rows: number; n4: number;
  a?: GPUBuffer; b?: GPUBuffer; colU?: GPUBuffer; colV?: GPUBuffer; colT?: GPUBuffer; rowV?: GPUBuffer;
  out: GPUBuffer; out2?: GPUBuffer;
  /** uniform block from vecParams, when s0/s1 change between submits */
  uniform?: GPUBuffer;
}

function vec(ctx: GpuContext, entry: string, perColumn: boolean, a: VecArgs): Dispatch {
  const u = a.uniform ?? params(ctx, u32s(a.rows, a.n4, 0, 0));
  return ctx.prepare({ shader: 'fit_vec.wgsl', entry, constants: { WG } },
    [u, a.a, a.b, a.colU, a.colV, a.colT, a.rowV, a.out, a.out2], groups(perColumn ? a.n4 : a.rows * a.n4), `fit ${entry}`);
}

/** out[c] = sum_r a[r, c] b[r, c] */
export const colDot = (ctx: GpuContext, rows: number, n4: number, a: GPUBuffer, b: GPUBuffer, out: GPUBuffer) =>
  vec(ctx, 'col_dot', true, { rows, n4, a, b, out });
/** out[c] = sum_r (a[r, c] - b[r, c])^2 */
export const colSqDiff = (ctx: GpuContext, rows: number, n4: number, a: GPUBuffer, b: GPUBuffer, out: GPUBuffer) =>
  vec(ctx, 'col_sqdiff', true, { rows, n4, a, b, out });
/** out[c] = sum_r v[r] a[r, c] */
export const colWeightedSum = (ctx: GpuContext, rows: number, n4: number, v: GPUBuffer, a: GPUBuffer, out: GPUBuffer) =>
  vec(ctx, 'col_wsum', true, { rows, n4, a, rowV: v, out });
/** out[r, c] = a[r, c] s[r] + lambda[c] b[r, c] */
export const scaleRows = (ctx: GpuContext, rows: number, n4: number, a: GPUBuffer, s: GPUBuffer, lambda: GPUBuffer, b: GPUBuffer, out: GPUBuffer) =>
  vec(ctx, 'scale_rows', false, { rows, n4, a, rowV: s, colU: lambda, b, out });
/** out[r, c] = (a[r, c] - u[c]) mask[r] */
export const centerColumns = (ctx: GpuContext, rows: number, n4: number, a: GPUBuffer, u: GPUBuffer, mask: GPUBuffer, out: GPUBuffer) =>
  vec(ctx, 'center', false, { rows, n4, a, colU: u, rowV: mask, out });
/** out = a - b */
export const subtract = (ctx: GpuContext, rows: number, n4: number, a: GPUBuffer, b: GPUBuffer, out: GPUBuffer) =>
  vec(ctx, 'sub', false, { rows, n4, a, b, out });

/** CG step per column: x += alpha p, r -= alpha Ap with alpha = rr / pAp (0 once rr <= threshold). */
export const cgStep = (ctx: GpuContext, rows: number, n4: number, s: { p: GPUBuffer; ap: GPUBuffer; rr: GPUBuffer; pap: GPUBuffer; threshold: GPUBuffer; x: GPUBuffer; r: GPUBuffer }) =>
  vec(ctx, 'cg_xr', false, { rows, n4, a: s.p, b: s.ap, colU: s.rr, colV: s.pap, colT: s.threshold, out: s.x, out2: s.r });

/** CG direction per column: p = r + (rrNew / rrOld) p, and p = 0 once converged. */
export const cgDirection = (ctx: GpuContext, rows: number, n4: number, s: { r: GPUBuffer; rrNew: GPUBuffer; rrOld: GPUBuffer; threshold: GPUBuffer; p: GPUBuffer }) =>
  vec(ctx, 'cg_p', false, { rows, n4, a: s.r, colU: s.rrNew, colV: s.rrOld, colT: s.threshold, out: s.p });

/**
 * Multi-shift CG scalars of one shift (uniform from vecParams with s0 = the shift), after a base
 * step: `state` [4 x n4] is updated, `coef` [3 x n4] receives the shift's alpha, beta and zeta.
 */
export const shiftScalars = (ctx: GpuContext, n4: number, s: { rr: GPUBuffer; pap: GPUBuffer; rrNew: GPUBuffer; threshold: GPUBuffer; state: GPUBuffer; coef: GPUBuffer; uniform: GPUBuffer }) =>
  vec(ctx, 'shift_scalars', true, { rows: 0, n4, a: s.rrNew, colU: s.rr, colV: s.pap, colT: s.threshold, out: s.state, out2: s.coef, uniform: s.uniform });

/** Multi-shift CG update of one shift: x += alpha p; p = zeta r + beta p (coef from shiftScalars). */
export const shiftUpdate = (ctx: GpuContext, rows: number, n4: number, s: { r: GPUBuffer; coef: GPUBuffer; x: GPUBuffer; p: GPUBuffer; uniform: GPUBuffer }) =>
  vec(ctx, 'shift_update', false, { rows, n4, a: s.r, b: s.coef, out: s.x, out2: s.p, uniform: s.uniform });

/** FISTA step (uniform from vecParams with s0 = step, s1 = momentum): w, v updated in place where `live` > 0. */
export const fistaStep = (ctx: GpuContext, rows: number, n4: number, s: { av: GPUBuffer; b: GPUBuffer; mLambda: GPUBuffer; live: GPUBuffer; w: GPUBuffer; v: GPUBuffer; uniform: GPUBuffer }) =>
  vec(ctx, 'fista', false, { rows, n4, a: s.av, b: s.b, colU: s.mLambda, colV: s.live, out: s.w, out2: s.v, uniform: s.uniform });
