/**
 * Device buffers of one fit, destroyed together, and the three device chores every solver
 * needs: submit dispatches, copy a buffer, read one back.
 */
import { readBuffer } from '../../gpu/buffers.js';
import { encodeDispatches, type Dispatch, type GpuContext } from '../../gpu/context.js';

export class Arena {
  private buffers: GPUBuffer[] = [];
  bytes = 0;
  peakBytes = 0;
  constructor(readonly ctx: GpuContext) {}

  create(bytes: number, label: string, usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST): GPUBuffer {
    const size = Math.max(16, Math.ceil(bytes / 16) * 16);
    const b = this.ctx.device.createBuffer({ size, usage, label });
    this.buffers.push(b);
    this.bytes += size;
    this.peakBytes = Math.max(this.peakBytes, this.bytes);
    return b;
  }

  upload(data: ArrayBufferView, label: string): GPUBuffer {
    const b = this.create(data.byteLength, label);
    this.ctx.device.queue.writeBuffer(b, 0, data.buffer, data.byteOffset, data.byteLength);
    return b;
  }

  uniform(b: GPUBuffer): GPUBuffer { this.buffers.push(b); return b; }

  /** Destroy every buffer; the peak is kept (it is what a fit reports). */
  destroy(): void {
    for (const b of this.buffers) b.destroy();
    this.buffers = [];
    this.bytes = 0;
  }
}

export function run(ctx: GpuContext, dispatches: readonly Dispatch[]): void {
  const enc = ctx.device.createCommandEncoder();
  const pass = enc.beginComputePass();
  encodeDispatches(pass, dispatches);
  pass.end();
  ctx.device.queue.submit([enc.finish()]);
}

export async function readF32(ctx: GpuContext, b: GPUBuffer, count: number): Promise<Float32Array> {
  return new Float32Array(await readBuffer(ctx.device, b, count * 4));
}

export function copy(ctx: GpuContext, src: GPUBuffer, dst: GPUBuffer, bytes: number): void {
  const enc = ctx.device.createCommandEncoder();
  enc.copyBufferToBuffer(src, 0, dst, 0, Math.ceil(bytes / 4) * 4);
  ctx.device.queue.submit([enc.finish()]);
}
