/**
 * Device time of individual dispatches: each in its own compute pass between two
 * timestamp queries (Dawn's timestamp quantization is off, see device.ts), or, on an
 * adapter without timestamp queries, wall-clock time of one submission per dispatch.
 * The spans keep when each dispatch began and ended (a trace lays them out on the GPU's
 * own clock); the durations are their differences.
 */
import type { Dispatch, GpuContext } from './context.js';
import { checkDevice } from './failure.js';

export type TimingMethod = 'timestamp' | 'wall-clock';

/** One dispatch on the device: seconds from the run's first begin. */
export interface Span { begin: number; end: number }

export interface DispatchTimes {
  method: TimingMethod;
  /** seconds per dispatch, best of the repeats (other engineers' jobs only ever add time) */
  seconds: number[];
  /** every repeat: [repeat][dispatch] */
  all: number[][];
}

const MAX_PASSES = 2048; // query sets hold at most 4096 queries

/** The spans of every dispatch, `repeats` times over: [repeat][dispatch]. */
export async function recordSpans(ctx: GpuContext, dispatches: readonly Dispatch[], repeats = 3, method?: TimingMethod): Promise<{ method: TimingMethod; repeats: Span[][] }> {
  const use: TimingMethod = method ?? (ctx.gpu.hasTimestamps ? 'timestamp' : 'wall-clock');
  const all: Span[][] = [];
  for (let r = 0; r < repeats; r++) all.push(use === 'timestamp' ? await timestampSpans(ctx, dispatches) : await wallClockSpans(ctx, dispatches));
  return { method: use, repeats: all };
}

export async function timeDispatches(ctx: GpuContext, dispatches: readonly Dispatch[], repeats = 3, method?: TimingMethod): Promise<DispatchTimes> {
  const spans = await recordSpans(ctx, dispatches, repeats, method);
  const all = spans.repeats.map((row) => row.map((s) => s.end - s.begin));
  const seconds = dispatches.map((_, i) => Math.min(...all.map((row) => row[i]!)));
  return { method: spans.method, seconds, all };
}

function encodePass(pass: GPUComputePassEncoder, d: Dispatch): void {
  pass.setPipeline(d.pipeline);
  pass.setBindGroup(0, d.bindGroup);
  pass.dispatchWorkgroups(...d.groups);
  pass.end();
}

async function timestampSpans(ctx: GpuContext, dispatches: readonly Dispatch[]): Promise<Span[]> {
  const { device } = ctx;
  const ns: bigint[] = [];
  for (let first = 0; first < dispatches.length; first += MAX_PASSES) {
    const chunk = dispatches.slice(first, first + MAX_PASSES);
    const count = chunk.length * 2;
    const querySet = device.createQuerySet({ type: 'timestamp', count });
    const resolve = device.createBuffer({ size: count * 8, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const staging = device.createBuffer({ size: count * 8, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const enc = device.createCommandEncoder();
    chunk.forEach((d, i) => encodePass(enc.beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } }), d));
    enc.resolveQuerySet(querySet, 0, count, resolve, 0);
    enc.copyBufferToBuffer(resolve, 0, staging, 0, count * 8);
    device.queue.submit([enc.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    checkDevice(device);
    ns.push(...new BigInt64Array(staging.getMappedRange().slice(0)));
    staging.unmap();
    querySet.destroy();
    resolve.destroy();
    staging.destroy();
  }
  const t0 = ns[0] ?? 0n;
  return dispatches.map((_, i) => ({ begin: Number(ns[2 * i]! - t0) / 1e9, end: Number(ns[2 * i + 1]! - t0) / 1e9 }));
}

async function wallClockSpans(ctx: GpuContext, dispatches: readonly Dispatch[]): Promise<Span[]> {
  const { device } = ctx;
  const out: Span[] = [];
  await device.queue.onSubmittedWorkDone();
  const t0 = performance.now();
  for (const d of dispatches) {
    const begin = performance.now();
    const enc = device.createCommandEncoder();
    encodePass(enc.beginComputePass(), d);
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
    out.push({ begin: (begin - t0) / 1000, end: (performance.now() - t0) / 1000 });
  }
  return out;
}
