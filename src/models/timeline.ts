/**
 * When every dispatch of a pass began and ended on the device: each dispatch in its own
 * compute pass between two timestamp queries (as src/gpu/timing.ts times them), keeping the
 * timestamps themselves, not only their differences, so that a trace can lay the kernels
 * out on the GPU's own clock, gaps included. On an adapter without timestamp queries, the
 * wall-clock time around one submission per dispatch.
 *
 * Why not timing.ts: it returns durations only, and src/gpu is another session's area;
 * this is the same measurement with the begin times kept (a follow-up can merge the two).
 */
import type { Dispatch, GpuContext } from '../gpu/context.js';
import type { TimingMethod } from '../gpu/timing.js';

/** One dispatch on the device: seconds from the pass's first begin. */
export interface Span { begin: number; end: number }

export interface Timeline {
  method: TimingMethod;
  /** every repeat: [repeat][dispatch] */
  repeats: Span[][];
}

const MAX_PASSES = 2048; // a query set holds at most 4096 queries

export async function recordTimeline(ctx: GpuContext, dispatches: readonly Dispatch[], repeats = 3): Promise<Timeline> {
  const method: TimingMethod = ctx.gpu.hasTimestamps ? 'timestamp' : 'wall-clock';
  const all: Span[][] = [];
  for (let r = 0; r < repeats; r++) all.push(method === 'timestamp' ? await timestampSpans(ctx, dispatches) : await wallClockSpans(ctx, dispatches));
  return { method, repeats: all };
}

/** Per dispatch, the least time over the repeats (other work on the machine only ever adds time). */
export function bestSeconds(t: Timeline): number[] {
  const n = t.repeats[0]?.length ?? 0;
  return Array.from({ length: n }, (_, i) => Math.min(...t.repeats.map((row) => row[i]!.end - row[i]!.begin)));
}

/** The repeat with the least total device time: the one a trace shows. */
export function fastestRepeat(t: Timeline): number {
  let best = 0, bestTotal = Infinity;
  t.repeats.forEach((row, r) => {
    const total = row.reduce((a, s) => a + (s.end - s.begin), 0);
    if (total < bestTotal) { bestTotal = total; best = r; }
  });
  return best;
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
    const pass = enc.beginComputePass();
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, d.bindGroup);
    pass.dispatchWorkgroups(...d.groups);
    pass.end();
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
    out.push({ begin: (begin - t0) / 1000, end: (performance.now() - t0) / 1000 });
  }
  return out;
}
