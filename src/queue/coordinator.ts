/**
 * The coordinator of a sweep on a Redis queue (BullMQ): it holds the store (the one source
 * of truth, with its lock), puts every pending run of rows on the queue as a job named after
 * the sweep and the rows, and writes the margins workers send back exactly as a local sweep
 * writes its own. The waiting is drain.ts's: every job is looked up in Redis, so a job Redis
 * lost (restart) is added again, a job finished while the coordinator was down is taken from
 * Redis when it comes back.
 */
import { generateMasks } from '../coar/masks.js';
import { pendingRuns } from '../coar/sweep.js';
import type { SweepStore } from '../coar/sweep_store.js';
import { drain, type DrainJob } from './drain.js';
import { decodeResult, jobId, jobTemplate, type SweepJob } from './job.js';
import type { QueueConnection } from './url.js';

export interface CoordinatorOptions {
  connection: QueueConnection;
  range: [number, number];
  chunk: number;
  precision: 'f32' | 'f16';
  /** tries of a job on workers before it counts as failed (BullMQ attempts) */
  attempts: number;
  /** failed rounds of one job (each of `attempts` tries) before the coordinator gives up */
  maxFailures: number;
  /** how often every waiting job is looked up in Redis, ms */
  pollMs: number;
}

export interface WorkerRate { rows: number; seconds: number; rowsPerSecond: number }

export interface CoordinatorCallbacks {
  onStart?: (info: { pending: number; jobs: number; sweep: string }) => void;
  /** rows [first, first+count) were written; `workers`: each worker's rows so far and rate (rows per second of its compute) */
  onRows?: (info: { first: number; count: number; worker: string; done: number; pending: number; workers: Map<string, WorkerRate> }) => void;
  /** a job failed all its attempts; it is put back unless `givingUp` */
  onFailed?: (info: { first: number; count: number; reason: string; failures: number; givingUp: boolean }) => void;
  /** jobs Redis no longer had (it restarted) were added again */
  onRequeued?: (jobs: number) => void;
  /** Redis unreachable or another connection error; the coordinator keeps retrying */
  onConnectionError?: (message: string) => void;
}

/** Compute every pending row of `range` on the queue's workers; returns the rows written. */
export async function coordinateSweep(store: SweepStore, opts: CoordinatorOptions, cb: CoordinatorCallbacks = {}): Promise<number> {
  const template = jobTemplate(store.manifest, opts.chunk, opts.precision);
  const runs = pendingRuns(store.completed, opts.range, opts.chunk);
  const jobs = new Map<string, DrainJob>();
  const rowsOf = new Map<string, [number, number]>();
  for (const [first, count] of runs) {
    const id = jobId(template.sweep, first, count);
    const data: SweepJob = { ...template, first, count };
    jobs.set(id, { name: 'rows', data, label: `rows ${first}-${first + count - 1}` });
    rowsOf.set(id, [first, count]);
  }
  const pending = runs.reduce((a, r) => a + r[1], 0);
  cb.onStart?.({ pending, jobs: runs.length, sweep: template.sweep });
  const workers = new Map<string, WorkerRate>();
  const n = store.manifest.examples.length, C = store.manifest.components.length;
  const written = (first: number, count: number) => store.completed.subarray(first, first + count).every((c) => c);
  let done = 0;
  const prefix = `${template.sweep}-`;
  await drain(jobs, opts, {
    accept: (id, result) => {
      const [first, count] = rowsOf.get(id)!;
      // a result of the wrong size counts as a failed try, not as rows
      const r = decodeResult(result, count, n, store.marginsDtype);
      // rows written by an earlier coordinator (killed after writing, before removing the job) are not written twice
      if (written(first, count)) return;
      store.writeRows(first, generateMasks(store.manifest.seed, store.manifest.alpha, first, count, C), r.margins, count);
      const w = workers.get(r.worker) ?? { rows: 0, seconds: 0, rowsPerSecond: 0 };
      w.rows += count; w.seconds += r.seconds; w.rowsPerSecond = w.seconds > 0 ? w.rows / w.seconds : 0;
      workers.set(r.worker, w);
      done += count;
      cb.onRows?.({ first, count, worker: r.worker, done, pending, workers });
    },
    // jobs of this sweep whose rows an earlier coordinator wrote but did not remove (killed in between)
    leftover: (id) => {
      const m = id.startsWith(prefix) ? /-(\d+)-(\d+)$/.exec(id) : null;
      return m !== null && written(Number(m[1]), Number(m[2]));
    },
    onFailed: ({ id, reason, failures, givingUp }) => {
      const [first, count] = rowsOf.get(id)!;
      cb.onFailed?.({ first, count, reason, failures, givingUp });
    },
    onRequeued: cb.onRequeued, onConnectionError: cb.onConnectionError,
  });
  return done;
}
