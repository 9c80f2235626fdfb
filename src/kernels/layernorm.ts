/** layernorm.wgsl: LayerNorm over each token's channels; can also keep only the first tokens. */
import { uniformBuffer, uploadBuffer } from '../gpu/buffers.js';
import { splitGroups, type Dispatch, type GpuContext } from '../gpu/context.js';
import { ceil4 } from './conv2d.js';

export interface LayerNormWeights {
  gammaBeta: GPUBuffer; // [2, D4*4], zero-padded
  d: number;            // real channels
  eps: number;
}

export function uploadLayerNorm(ctx: GpuContext, label: string, gamma: Float32Array, beta: Float32Array, eps: number): LayerNormWeights {
  const d = gamma.length, d4 = ceil4(d);
  const gb = new Float32Array(2 * d4);
  gb.set(gamma, 0);
  gb.set(beta, d4);
  return { gammaBeta: uploadBuffer(ctx.device, gb, `${label}.gammaBeta`), d, eps };
}

export interface LayerNormCall {
  x: GPUBuffer; y: GPUBuffer; batch: number;
  /** tokens per item in x */
  inTokens: number;
  /** tokens per item written to y: the first `outTokens` of each item (default all) */
  outTokens?: number;
  /** x and y stored as f16 */
  f16?: boolean;
}

export function layerNorm(ctx: GpuContext, ln: LayerNormWeights, call: LayerNormCall): Dispatch {
  const outTokens = call.outTokens ?? call.inTokens;
  const rows = call.batch * outTokens;
  const WG = 64;
  const [gy, gz] = splitGroups(Math.ceil(rows / WG));
  return ctx.prepare(
    { shader: 'layernorm.wgsl', defines: { F16: !!call.f16 }, constants: { WG, EPS: ln.eps } },
    [uniformBuffer(ctx.device, [rows, ln.d, ceil4(ln.d) / 4, call.inTokens, outTokens], 'layernorm.params'), call.x, ln.gammaBeta, call.y],
    [1, gy, gz],
    'layernorm',
  );
}
