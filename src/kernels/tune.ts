/**
 * The tuner: measures the candidate variants of every tunable dispatch the tuning table
 * collected (conv2d.ts, attention.ts register theirs while preparing), on the real shapes
 * and buffers, and records the fastest per shape class in the on-disk cache.
 */
import type { GpuContext } from '../gpu/context.js';
import { timeDispatches } from '../gpu/timing.js';
import type { Choice, Tunable } from '../gpu/tuning.js';

export interface TuneReport { key: string; choice: Choice; seconds: number; defaultSeconds: number; candidates: number }

const name = (c: Choice) => JSON.stringify(c);

export type OnCandidate = (key: string, choice: Choice, seconds: number) => void;

export async function tuneOne(ctx: GpuContext, t: Tunable, repeats = 2, onCandidate?: OnCandidate): Promise<TuneReport> {
  const tried = new Map<string, number>();
  const measure = async (c: Choice): Promise<number> => {
    const k = name(c);
    if (tried.has(k)) return tried.get(k)!;
    let s = Infinity;
    try {
      ctx.device.pushErrorScope('validation');
      const d = t.prepare(c);
      if (await ctx.device.popErrorScope()) throw new Error('invalid variant');
      await timeDispatches(ctx, [d], 1); // compiles on lazy adapters: not a measurement
      const first = (await timeDispatches(ctx, [d], 1)).seconds[0]!;
      const best = Math.min(...[...tried.values()]);
      // a candidate 3x slower than the best so far is not measured again
      s = first > 3 * best ? first : Math.min(first, (await timeDispatches(ctx, [d], repeats)).seconds[0]!);
    } catch {
      // a variant the adapter cannot compile is simply not a candidate
    }
    tried.set(k, s);
    onCandidate?.(t.key, c, s);
    return s;
  };
  const defaultSeconds = await measure(t.defaultChoice);
  let best = { choice: t.defaultChoice, seconds: defaultSeconds };
  for (let stage = 0; ; stage++) {
    const cands = t.candidates(stage, best.choice);
    if (!cands.length) break;
    for (const c of cands) {
      const s = await measure(c);
      if (s < best.seconds) best = { choice: c, seconds: s };
    }
  }
  return { key: t.key, choice: best.choice, seconds: best.seconds, defaultSeconds, candidates: tried.size };
}

/** Tune everything pending in the context's tuning table; returns what was measured. */
export async function tunePending(ctx: GpuContext, onDone?: (r: TuneReport, i: number, total: number) => void, onCandidate?: OnCandidate): Promise<TuneReport[]> {
  const pending = ctx.tuning.drain();
  const out: TuneReport[] = [];
  for (const t of pending) {
    const r = await tuneOne(ctx, t, 2, onCandidate);
    ctx.tuning.set(t.key, { choice: r.choice, seconds: r.seconds, defaultSeconds: r.defaultSeconds, flops: t.flops, candidates: r.candidates, date: new Date().toISOString() });
    out.push(r);
    onDone?.(r, out.length, pending.length);
  }
  return out;
}
