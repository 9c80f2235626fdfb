/** margin.wgsl: true-class logit minus the best other logit, per item. */
import { uniformBuffer } from '../gpu/buffers.js';
import type { Dispatch, GpuContext } from '../gpu/context.js';

export function margin(ctx: GpuContext, logits: GPUBuffer, classes: number, stride: number, labels: GPUBuffer, examples: number, out: GPUBuffer, batch: number): Dispatch {
  const WG = 64;
  return ctx.prepare(
    { shader: 'margin.wgsl', constants: { WG } },
    [uniformBuffer(ctx.device, [batch, classes, stride, examples], 'margin.params'), logits, labels, out],
    [Math.ceil(batch / WG)],
    'margin',
  );
}
