/** pool.wgsl: max or average pooling (the adaptive 1x1 average is a whole-map window). */
import { uniformBuffer } from '../gpu/buffers.js';
import { splitGroups, type Dispatch, type GpuContext } from '../gpu/context.js';
import type { MapShape } from './conv2d.js';

export interface PoolSpec { kind: 'max' | 'avg'; k: number; stride: number; pad: number }

export function poolOutShape(s: PoolSpec, x: MapShape): MapShape {
  return { h: Math.floor((x.h + 2 * s.pad - s.k) / s.stride) + 1, w: Math.floor((x.w + 2 * s.pad - s.k) / s.stride) + 1, c: x.c };
}

export function pool(ctx: GpuContext, spec: PoolSpec, x: GPUBuffer, xShape: MapShape, y: GPUBuffer, batch: number, f16 = false): Dispatch {
  const o = poolOutShape(spec, xShape);
  const params = [batch, xShape.h, xShape.w, xShape.c / 4, o.h, o.w, spec.k, spec.k, spec.stride, spec.pad];
  const WG = 64;
  const total = batch * o.h * o.w * (xShape.c / 4);
  const groups = Math.ceil(total / WG);
  const gx = Math.min(groups, 65535);
  return ctx.prepare(
    { shader: 'pool.wgsl', defines: { MAX: spec.kind === 'max', F16: f16 }, constants: { WG } },
    [uniformBuffer(ctx.device, params, 'pool.params'), x, y],
    [gx, Math.ceil(groups / gx)],
    `${spec.kind}pool`,
  );
}
