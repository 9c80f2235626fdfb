/** tokens.wgsl: class token + patch tokens + position embedding, per item; and picking the class token. */
import { uniformBuffer, uploadBuffer } from '../gpu/buffers.js';
import { splitGroups, type Dispatch, type GpuContext } from '../gpu/context.js';
import { ceil4 } from './conv2d.js';

export interface TokenEmbedding {
  clsPos: GPUBuffer; // [1 + T, D4*4]: class token, then the position embedding of each token
  tokens: number;    // T = patches + 1
  d: number;
}

/** cls: [D]; pos: [T, D] (PyTorch's [1, T, D] without the leading 1). */
export function uploadTokenEmbedding(ctx: GpuContext, label: string, cls: Float32Array, pos: Float32Array, d: number): TokenEmbedding {
  const tokens = pos.length / d, d4 = ceil4(d);
  const t = new Float32Array((1 + tokens) * d4);
  t.set(cls, 0);
  for (let i = 0; i < tokens; i++) t.set(pos.subarray(i * d, (i + 1) * d), (1 + i) * d4);
  return { clsPos: uploadBuffer(ctx.device, t, `${label}.clsPos`), tokens, d };
}

export function embedTokens(ctx: GpuContext, e: TokenEmbedding, call: { patches: GPUBuffer; examples: number; x: GPUBuffer; batch: number; f16?: boolean }): Dispatch {
  const d4 = ceil4(e.d) / 4;
  const WG = 64;
  const total = call.batch * e.tokens * d4;
  const [gy, gz] = splitGroups(Math.ceil(total / WG));
  return ctx.prepare(
    { shader: 'tokens.wgsl', defines: { F16: !!call.f16 }, constants: { WG } },
    [uniformBuffer(ctx.device, [call.batch, e.tokens, d4, call.examples], 'tokens.params'), call.patches, e.clsPos, call.x],
    [1, gy, gz],
    'tokens',
  );
}

/** Token 0 of every item: [batch, T, D4] -> [batch, D4]. */
export function firstToken(ctx: GpuContext, call: { x: GPUBuffer; tokens: number; d: number; y: GPUBuffer; batch: number; f16?: boolean }): Dispatch {
  const d4 = ceil4(call.d) / 4;
  const WG = 64;
  const [gy, gz] = splitGroups(Math.ceil((call.batch * d4) / WG));
  return ctx.prepare(
    { shader: 'tokens.wgsl', entry: 'first_token', defines: { F16: !!call.f16 }, constants: { WG } },
    [uniformBuffer(ctx.device, [call.batch, call.tokens, d4, 1], 'firstToken.params'), undefined, undefined, undefined, call.x, call.y],
    [1, gy, gz],
    'firstToken',
  );
}
