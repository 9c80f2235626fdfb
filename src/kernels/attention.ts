/**
 * attention.wgsl: softmax(q k^T / sqrt(d)) v for every item, head and query token, from
 * the fused q|k|v projection. vec4 reads when the head width and the model width allow.
 */
import { uniformBuffer } from '../gpu/buffers.js';
import type { Dispatch, GpuContext } from '../gpu/context.js';
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
  /** query tokens per invocation: each key and value read serves this many (default 8) */
  qt?: number;
}

export function attention(ctx: GpuContext, call: AttentionCall): Dispatch {
  const hd = call.d / call.heads;
  if (!Number.isInteger(hd)) throw new Error(`attention: ${call.heads} heads do not divide width ${call.d}`);
  const scalar = hd % 4 !== 0 || call.d % 4 !== 0;
  const w = scalar ? 1 : 4;
  const queries = call.queries ?? call.tokens;
  const QT = queriesPerInvocation(queries, call.qt);
  const blocks = Math.ceil(queries / QT);
  const WG = Math.min(64, 2 ** Math.ceil(Math.log2(blocks)));
  const params = [call.batch, call.tokens, queries, call.heads, ceil4(3 * call.d) / w, ceil4(call.d) / w, call.d / w];
  return ctx.prepare(
    { shader: 'attention.wgsl', defines: { SCALAR: scalar, HDV: hd / w, QT }, constants: { WG, SCALE: 1 / Math.sqrt(hd) } },
    [uniformBuffer(ctx.device, params, 'attention.params'), call.qkv, call.o],
    [Math.ceil(blocks / WG), call.heads, call.batch],
    'attention',
  );
}
