/**
 * attention.wgsl: softmax(q k^T / sqrt(d)) v for every item, head and query token, from
 * the fused q|k|v projection. vec4 reads when the head width and the model width allow.
 */
import { uniformBuffer } from '../gpu/buffers.js';
import type { Dispatch, GpuContext } from '../gpu/context.js';
import type { Choice, Tunable } from '../gpu/tuning.js';
import { ceil4 } from './conv2d.js';

// lavapipe, ViT-B/16 shapes, 8 items: 1 query per invocation 1.0 GFLOP/s, 4: 2.6, 8: 4.5, 16: 5.5
// (but twice the compile time and a quarter of the invocations of 4); other adapters may differ
export const DEFAULT_QT = 8;

/** Query tokens per invocation: never more than there are queries. */
const queriesPerInvocation = (queries: number, qt = DEFAULT_QT) => Math.min(qt, 2 ** Math.ceil(Math.log2(queries)));

export interface AttentionCall {
  qkv: GPUBuffer;  // [batch, T, ceil4(3D)]
  o: GPUBuffer;    // [batch, queries, ceil4(D)]
  batch: number;
  tokens: number;
  /** queries per item, the first tokens (default all) */
  queries?: number;
  d: number;       // model width D
  heads: number;
  /** query tokens per invocation: each key and value read serves this many (default: tuned, else 8) */
  qt?: number;
  /** invocations per workgroup (default: tuned, else up to 64) */
  wg?: number;
  /** q, k, v and the output stored as f16 */
  f16?: boolean;
}

export interface AttentionTile { qt: number; wg: number }

/** Shape class of a tuned attention tile: tokens, queries, head width, items to a power of 2, precision. */
export function attentionShapeClass(call: AttentionCall): string {
  return `attention T${call.tokens} q${call.queries ?? call.tokens} hd${call.d / call.heads} items2^${Math.round(Math.log2(Math.max(1, call.batch)))} ${call.f16 ? 'f16' : 'f32'}`;
}

export function attention(ctx: GpuContext, call: AttentionCall): Dispatch {
  const queries = call.queries ?? call.tokens;
  if (call.qt !== undefined || call.wg !== undefined) return prepareAttention(ctx, call, call.qt, call.wg);
  const tunable: Tunable = {
    key: attentionShapeClass(call),
    flops: 4 * queries * call.tokens * call.d * call.batch,
    defaultChoice: { qt: DEFAULT_QT, wg: 0 },
    candidates: (stage: number, best: Choice) => {
      if (stage === 0) return (ctx.tuning.quick ? [4] : [1, 2, 4, 16]).map((qt) => ({ qt, wg: 0 }));
      if (stage === 1 && !ctx.tuning.quick) return [16, 32, 128, 256].map((wg) => ({ qt: best.qt as number, wg }));
      return [];
    },
    prepare: (c) => prepareAttention(ctx, call, c.qt as number, (c.wg as number) || undefined),
  };
  const tuned = ctx.tuning.choose(tunable);
  return prepareAttention(ctx, call, tuned?.qt as number | undefined, (tuned?.wg as number) || undefined);
}

function prepareAttention(ctx: GpuContext, call: AttentionCall, qt?: number, wg?: number): Dispatch {
  const hd = call.d / call.heads;
  if (!Number.isInteger(hd)) throw new Error(`attention: ${call.heads} heads do not divide width ${call.d}`);
  const scalar = hd % 4 !== 0 || call.d % 4 !== 0;
  const w = scalar ? 1 : 4;
  const queries = call.queries ?? call.tokens;
  const QT = queriesPerInvocation(queries, qt);
  const blocks = Math.ceil(queries / QT);
  const WG = Math.min(wg ?? 64, 2 ** Math.ceil(Math.log2(blocks)));
  const params = [call.batch, call.tokens, queries, call.heads, ceil4(3 * call.d) / w, ceil4(call.d) / w, call.d / w];
  return ctx.prepare(
    { shader: 'attention.wgsl', defines: { SCALAR: scalar, HDV: hd / w, QT, F16: !!call.f16 }, constants: { WG, SCALE: 1 / Math.sqrt(hd) } },
    [uniformBuffer(ctx.device, params, 'attention.params'), call.qkv, call.o],
    [Math.ceil(blocks / WG), call.heads, call.batch],
    `attention ${QT}q/${WG}`,
  );
}
