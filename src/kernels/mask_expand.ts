/** mask_expand.wgsl: packed mask bits to per-component floats, each layer 4-aligned. */
import { uniformBuffer, uploadBuffer } from '../gpu/buffers.js';
import type { Dispatch, GpuContext } from '../gpu/context.js';

const NONE = 0xffffffff;

/** Where each group's components start in an expanded row (a multiple of 4), and the row width. */
export function expandedLayout(groups: readonly { offset: number; count: number }[]): { starts: Map<number, number>; width: number; component: Uint32Array } {
  const starts = new Map<number, number>();
  let width = 0;
  for (const g of groups) {
    starts.set(g.offset, width);
    width += Math.ceil(g.count / 4) * 4;
  }
  const component = new Uint32Array(Math.max(width, 4)).fill(NONE);
  for (const g of groups) {
    const s = starts.get(g.offset)!;
    for (let r = 0; r < g.count; r++) component[s + r] = g.offset + r;
  }
  return { starts, width: Math.max(width, 4), component };
}

export function maskExpand(ctx: GpuContext, bits: GPUBuffer, words: number, masks: number, componentMap: GPUBuffer, width: number, out: GPUBuffer): Dispatch {
  const WG = 64;
  const groups = Math.ceil((masks * width) / WG);
  const gx = Math.min(groups, 65535);
  return ctx.prepare(
    { shader: 'mask_expand.wgsl', constants: { WG } },
    [uniformBuffer(ctx.device, [masks, words, width], 'expand.params'), bits, componentMap, out],
    [gx, Math.ceil(groups / gx)],
    'mask_expand',
  );
}

export function uploadComponentMap(ctx: GpuContext, component: Uint32Array): GPUBuffer {
  return uploadBuffer(ctx.device, component, 'mask.componentMap');
}
