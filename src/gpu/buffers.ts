import './globals.js';
import { checkDevice } from './failure.js';

/**
 * Storage buffers reused across calls: released buffers go back to a pool bucketed by
 * size (powers of two above 1 MiB, so a slightly different batch reuses the same ones).
 */
export const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

function bucket(bytes: number): number {
  const min = Math.max(bytes, 16);
  if (min <= 1 << 20) return Math.ceil(min / 256) * 256;
  return 2 ** Math.ceil(Math.log2(min));
}

export class BufferPool {
  private free = new Map<number, GPUBuffer[]>();
  private live = new Set<GPUBuffer>();
  bytesAllocated = 0;

  constructor(private device: GPUDevice, private maxBuffer: number) {}

  acquire(bytes: number, label = 'pool'): GPUBuffer {
    let size = bucket(bytes);
    if (size > this.maxBuffer) size = Math.ceil(bytes / 16) * 16;
    const list = this.free.get(size);
    const b = list?.pop() ?? this.create(size, label);
    this.live.add(b);
    return b;
  }

  release(b: GPUBuffer): void {
    if (!this.live.delete(b)) return;
    const list = this.free.get(b.size) ?? [];
    list.push(b);
    this.free.set(b.size, list);
  }

  private create(size: number, label: string): GPUBuffer {
    this.bytesAllocated += size;
    return this.device.createBuffer({ size, usage: STORAGE, label });
  }

  destroyAll(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    for (const b of this.live) b.destroy();
    this.free.clear();
    this.live.clear();
    this.bytesAllocated = 0;
  }
}

/** A storage buffer holding `data`, padded to 16 bytes. */
export function uploadBuffer(device: GPUDevice, data: ArrayBufferView, label: string, usage = STORAGE): GPUBuffer {
  const size = Math.max(16, Math.ceil(data.byteLength / 16) * 16);
  const b = device.createBuffer({ size, usage, label, mappedAtCreation: true });
  new Uint8Array(b.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  b.unmap();
  return b;
}

export function uniformBuffer(device: GPUDevice, words: ArrayLike<number>, label: string): GPUBuffer {
  const data = new Uint32Array(Math.max(4, Math.ceil(words.length / 4) * 4));
  data.set(words);
  return uploadBuffer(device, data, label, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
}

/** Copy `bytes` of `src` back to the host. */
export async function readBuffer(device: GPUDevice, src: GPUBuffer, bytes: number, offset = 0): Promise<ArrayBuffer> {
  const staging = device.createBuffer({ size: Math.ceil(bytes / 4) * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(src, offset, staging, 0, staging.size);
  device.queue.submit([enc.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const out = staging.getMappedRange().slice(0, bytes);
  staging.unmap();
  staging.destroy();
  checkDevice(device);
  return out;
}

