/**
 * Per-kernel profile of one batched ablated forward pass: device time of every dispatch
 * (timestamp queries, or wall-clock where the adapter has none), its FLOPs and the bytes
 * it must move at least, the rates, and the share of the adapter's ceiling that bounds it
 * (roofline: a kernel cannot beat max(FLOPs / GEMM ceiling, bytes / copy bandwidth)).
 */
import type { GpuContext } from '../gpu/context.js';
import type { TimingMethod } from '../gpu/timing.js';
import type { Ceiling } from '../kernels/ceiling.js';
import type { BatchedNetwork } from './batched.js';
import { computedItems } from '../kernels/conv2d.js';
import type { OpKind } from './network.js';
import { bestSeconds, fastestRepeat, recordTimeline } from './timeline.js';

/** What a profiled kernel computes: an op's kind, or the two kernels around the ops. */
export type KernelKind = OpKind | 'mask' | 'margin' | 'other';

/** One dispatch: its kernel and tile (from the dispatch's label), and when it ran. */
export interface DispatchProfile {
  kernel: string;
  tile?: string;
  /** best of the repeats */
  seconds: number;
  /** seconds from the pass's first begin, in the repeat with the least total time (the one a trace shows) */
  begin: number;
  end: number;
}

export interface KernelProfile {
  label: string;
  /** the dispatches' labels, joined by + */
  kernel: string;
  kind: KernelKind;
  /** the op's dimensions per item (see the op's constructor in network.ts / vit.ts) */
  shape?: Record<string, number>;
  /** items the kernel writes (masks x examples) and items it computes (a perInput conv: the examples) */
  items: number;
  computedItems: number;
  dispatches: DispatchProfile[];
  seconds: number;
  flops: number;
  bytes: number;
  gflops: number;
  gbps: number;
  bound?: 'compute' | 'memory';
  /** achieved / attainable, attainable = the roofline time at the ceilings */
  ofCeiling?: number;
}

export interface NetworkProfile {
  method: TimingMethod;
  items: number;
  kernels: KernelProfile[];
  total: { seconds: number; flops: number; bytes: number };
}

export async function profileNetwork(ctx: GpuContext, bn: BatchedNetwork, ceiling?: Pick<Ceiling, 'gemm' | 'copy'>, repeats = 3): Promise<NetworkProfile> {
  const sched = bn.schedule;
  const flat = sched.flatMap((s) => s.dispatches);
  const timeline = await recordTimeline(ctx, flat, repeats);
  const best = bestSeconds(timeline);
  const shown = timeline.repeats[fastestRepeat(timeline)]!;
  const items = bn.items;
  const kernels: KernelProfile[] = [];
  let i = 0;
  for (const s of sched) {
    const dispatches = s.dispatches.map((d): DispatchProfile => {
      const space = d.label.indexOf(' ');
      const span = shown[i]!;
      return { kernel: space < 0 ? d.label : d.label.slice(0, space), tile: space < 0 ? undefined : d.label.slice(space + 1), seconds: best[i++]!, begin: span.begin, end: span.end };
    });
    const seconds = dispatches.reduce((acc, d) => acc + d.seconds, 0);
    const op = s.op;
    const elem = op && ctx.precision === 'f16' ? 2 : 4;
    // what the kernel executes: a perInput conv computes once per example and writes every item
    const computed = op?.perInput ? computedItems({ inputItems: bn.shape.examples, batch: items }) : items;
    const flops = op ? op.flops * computed : 0;
    const bytes = op ? ((op.readElems ?? 0) * computed + op.outElems * items) * elem + (op.weightBytes ?? 0) * (elem / 4) : 0;
    const kind: KernelKind = op ? op.kind ?? 'other' : s.label === 'mask_expand' ? 'mask' : s.label === 'margin' ? 'margin' : 'other';
    const k: KernelProfile = {
      label: s.label, kernel: s.dispatches.map((d) => d.label).join('+'), kind, shape: op?.shape, items, computedItems: op ? computed : items, dispatches, seconds, flops, bytes,
      gflops: flops / seconds / 1e9, gbps: bytes / seconds / 1e9,
    };
    if (ceiling && op) {
      const tc = flops / (ceiling.gemm.gflops * 1e9);
      const tm = bytes / (ceiling.copy.gbps * 1e9);
      k.bound = tc >= tm ? 'compute' : 'memory';
      k.ofCeiling = Math.max(tc, tm) / seconds;
    }
    kernels.push(k);
  }
  const total = kernels.reduce((a, k) => ({ seconds: a.seconds + k.seconds, flops: a.flops + k.flops, bytes: a.bytes + k.bytes }), { seconds: 0, flops: 0, bytes: 0 });
  return { method: timeline.method, items, kernels, total };
}

/** The profile as a fixed-width table (one row per kernel, then the total). */
export function formatProfile(p: NetworkProfile): string {
  const head = ['kernel', 'op', 'ms', 'MFLOP', 'MB', 'GFLOP/s', 'GB/s', 'bound', '% ceiling'];
  const fmt = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  const rows = p.kernels.map((k) => [k.kernel, k.label, fmt(k.seconds * 1e3), fmt(k.flops / 1e6, 1), fmt(k.bytes / 1e6, 2), fmt(k.gflops), fmt(k.gbps),
    k.bound ?? '-', k.ofCeiling === undefined ? '-' : `${(k.ofCeiling * 100).toFixed(0)}%`]);
  const T = p.total;
  rows.push(['total', '', fmt(T.seconds * 1e3), fmt(T.flops / 1e6, 1), fmt(T.bytes / 1e6, 2), fmt(T.flops / T.seconds / 1e9), fmt(T.bytes / T.seconds / 1e9), '', '']);
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (r: string[]) => r.map((x, c) => (c < 2 ? x.padEnd(widths[c]!) : x.padStart(widths[c]!))).join('  ');
  return [line(head), ...rows.map(line)].join('\n');
}
