/**
 * When every dispatch of a pass began and ended on the device (src/gpu/timing.ts records
 * the spans), so that a trace can lay the kernels out on the GPU's own clock, gaps included,
 * and which repeat a trace shows.
 */
import type { Dispatch, GpuContext } from '../gpu/context.js';
import { recordSpans, type Span, type TimingMethod } from '../gpu/timing.js';

export type { Span } from '../gpu/timing.js';

export interface Timeline {
  method: TimingMethod;
  /** every repeat: [repeat][dispatch] */
  repeats: Span[][];
}

export function recordTimeline(ctx: GpuContext, dispatches: readonly Dispatch[], repeats = 3): Promise<Timeline> {
  return recordSpans(ctx, dispatches, repeats);
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
