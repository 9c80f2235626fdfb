/**
 * A profiled pass in the Chrome trace-event format (the JSON object form that Perfetto
 * and chrome://tracing open): one complete event ("ph": "X") per dispatch, at the time the
 * GPU's timestamp queries put it, with the kernel's shape, tile, FLOPs and bytes as its
 * arguments. Dispatches that overlap on the device (a GPU may run independent passes at
 * once) go on separate tracks, so no track ever holds two events at the same time.
 */
import { writeFileAtomic } from '../io/atomic.js';
import type { ProfileFile } from '../models/profile_file.js';

export interface TraceEvent {
  name: string;
  cat: string;
  ph: 'X' | 'M';
  /** microseconds */
  ts: number;
  dur?: number;
  pid: number;
  tid: number;
  args: Record<string, unknown>;
}

export interface TraceFile {
  traceEvents: TraceEvent[];
  displayTimeUnit: 'ms';
  otherData: Record<string, unknown>;
}

const PID = 1;

/** Put spans [begin, end) on the first track that is free at their begin, in begin order. */
function tracks(spans: readonly { begin: number; end: number }[]): number[] {
  const ends: number[] = [];
  const out = new Array<number>(spans.length);
  const order = spans.map((_, i) => i).sort((x, y) => spans[x]!.begin - spans[y]!.begin || x - y);
  for (const i of order) {
    let t = ends.findIndex((e) => e <= spans[i]!.begin);
    if (t < 0) { t = ends.length; ends.push(0); }
    ends[t] = spans[i]!.end;
    out[i] = t;
  }
  return out;
}

export function profileTrace(p: ProfileFile): TraceFile {
  const flat = p.profile.kernels.flatMap((k) => k.dispatches.map((d, j) => ({ k, d, j })));
  const tid = tracks(flat.map((x) => x.d));
  // microseconds to the nanosecond (the timestamps' resolution); rounding keeps the order, so events stay apart
  const us = (s: number) => Math.round(s * 1e9) / 1e3;
  const events: TraceEvent[] = flat.map(({ k, d, j }, i) => ({
    name: k.label, cat: k.kind, ph: 'X', ts: us(d.begin), dur: us(d.end) - us(d.begin), pid: PID, tid: tid[i]!,
    args: {
      kernel: d.kernel, tile: d.tile ?? null, shape: k.shape ?? null, dispatch: `${j + 1} of ${k.dispatches.length}`,
      items: k.items, computedItems: k.computedItems, flops: k.flops, bytes: k.bytes,
      // the profile table's time: the best of the repeats (this event shows the fastest repeat as a whole)
      bestMicroseconds: us(d.seconds),
    },
  }));
  const meta: TraceEvent[] = [
    { name: 'process_name', cat: '__metadata', ph: 'M', ts: 0, pid: PID, tid: 0, args: { name: `${p.arch} ${p.size}x${p.size}, ${p.masks} masks x ${p.examples} examples, ${p.precision} (${p.adapter})` } },
    ...[...new Set(tid)].map((t): TraceEvent => ({ name: 'thread_name', cat: '__metadata', ph: 'M', ts: 0, pid: PID, tid: t, args: { name: t === 0 ? 'GPU' : `GPU (overlapping ${t})` } })),
  ];
  return {
    traceEvents: [...meta, ...events], displayTimeUnit: 'ms',
    otherData: { format: p.format, date: p.date, adapter: p.adapter, timing: p.profile.method, repeats: p.repeats, ceiling: p.ceiling },
  };
}

export function writeTrace(path: string, t: TraceFile): void {
  writeFileAtomic(path, [Buffer.from(JSON.stringify(t), 'utf8')]);
}

/** One batch of a sweep as the host saw it: seconds from the sweep's start, rows (masks) it completed. */
export interface BatchSpan { begin: number; end: number; rows: number }

/**
 * A sweep's batches in the same format: one event per batch on the host's clock (a batch is
 * many dispatches plus the store write, so wall-clock time, not timestamp queries).
 */
export function sweepTrace(batches: readonly BatchSpan[], meta: { title: string; examples: number }): TraceFile {
  const us = (s: number) => Math.round(s * 1e9) / 1e3;
  let first = 0;
  const events: TraceEvent[] = batches.map((b, i) => {
    const e: TraceEvent = {
      name: `batch ${i + 1}`, cat: 'batch', ph: 'X', ts: us(b.begin), dur: us(b.end) - us(b.begin), pid: PID, tid: 0,
      args: { masks: b.rows, firstPendingMask: first, examples: meta.examples, passes: b.rows * meta.examples, passesPerSecond: (b.rows * meta.examples) / (b.end - b.begin) },
    };
    first += b.rows;
    return e;
  });
  return {
    traceEvents: [
      { name: 'process_name', cat: '__metadata', ph: 'M', ts: 0, pid: PID, tid: 0, args: { name: meta.title } },
      { name: 'thread_name', cat: '__metadata', ph: 'M', ts: 0, pid: PID, tid: 0, args: { name: 'sweep batches (host clock)' } },
      ...events,
    ],
    displayTimeUnit: 'ms', otherData: { timing: 'wall-clock', batches: batches.length },
  };
}
