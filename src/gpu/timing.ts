/**
 * Device time of individual dispatches: each in its own compute pass between two
 * timestamp queries (Dawn's timestamp quantization is off, see device.ts), or, on an
 * adapter without timestamp queries, wall-clock time of one submission per dispatch.
 */
import type { Dispatch, GpuContext } from './context.js';

export type TimingMethod = 'timestamp' | 'wall-clock';

export interface DispatchTimes {
  method: TimingMethod;
  /** seconds per dispatch, best of the repeats (other engineers' jobs only ever add time) */
  seconds: number[];
  /** every repeat: [repeat][dispatch] */
  all: number[][];
}

const MAX_PASSES = 2048; // query sets hold at most 4096 queries

export async function timeDispatches(ctx: GpuContext, dispatches: readonly Dispatch[], repeats = 3, method?: TimingMethod): Promise<DispatchTimes> {
  const use: TimingMethod = method ?? (ctx.gpu.hasTimestamps ? 'timestamp' : 'wall-clock');
  const all: number[][] = [];
  for (let r = 0; r < repeats; r++) {
    all.push(use === 'timestamp' ? await timestampRun(ctx, dispatches) : await wallClockRun(ctx, dispatches));
  }
  const seconds = dispatches.map((_, i) => Math.min(...all.map((row) => row[i]!)));
  return { method: use, seconds, all };
}

async function timestampRun(ctx: GpuContext, dispatches: readonly Dispatch[]): Promise<number[]> {
  const { device } = ctx;
  const out: number[] = [];
  for (let first = 0; first < dispatches.length; first += MAX_PASSES) {
    const chunk = dispatches.slice(first, first + MAX_PASSES);
    const count = chunk.length * 2;
    const querySet = device.createQuerySet({ type: 'timestamp', count });
    const resolve = device.createBuffer({ size: count * 8, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const staging = device.createBuffer({ size: count * 8, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const enc = device.createCommandEncoder();
    chunk.forEach((d, i) => {
      const pass = enc.beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } });
      pass.setPipeline(d.pipeline);
      pass.setBindGroup(0, d.bindGroup);
      pass.dispatchWorkgroups(...d.groups);
      pass.end();
    });
    enc.resolveQuerySet(querySet, 0, count, resolve, 0);
    enc.copyBufferToBuffer(resolve, 0, staging, 0, count * 8);
    device.queue.submit([enc.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const ns = new BigInt64Array(staging.getMappedRange().slice(0));
    staging.unmap();
    for (let i = 0; i < chunk.length; i++) out.push(Number(ns[2 * i + 1]! - ns[2 * i]!) / 1e9);
    querySet.destroy();
    resolve.destroy();
    staging.destroy();
  }
  return out;
}

async function wallClockRun(ctx: GpuContext, dispatches: readonly Dispatch[]): Promise<number[]> {
  const { device } = ctx;
  const out: number[] = [];
  await device.queue.onSubmittedWorkDone();
  for (const d of dispatches) {
    const t0 = performance.now();
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, d.bindGroup);
    pass.dispatchWorkgroups(...d.groups);
    pass.end();
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
    out.push((performance.now() - t0) / 1000);
  }
  return out;
}
