/**
 * The coordinator of a sweep on a Redis queue (BullMQ): it holds the store (the one source
 * of truth, with its lock), puts every pending run of rows on the queue as a job named after
 * the sweep and the rows, and writes the margins workers send back exactly as a local sweep
 * writes its own. It asks Redis about each job it waits for, so nothing depends on having
 * seen an event: a job Redis lost (restart) is added again, a job finished while the
 * coordinator was down is taken from Redis when it comes back.
 */
import { Job, Queue, QueueEvents } from 'bullmq';
import { UserError } from '../errors.js';
import { generateMasks } from '../coar/masks.js';
import { pendingRuns } from '../coar/sweep.js';
import type { SweepStore } from '../coar/sweep_store.js';
import { decodeResult, jobId, jobTemplate, QUEUE_NAME, type SweepJob } from './job.js';
import { ioredisOptions, type QueueConnection } from './url.js';

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

interface Pending { first: number; count: number; failures: number }

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Compute every pending row of `range` on the queue's workers; returns the rows written. */
export async function coordinateSweep(store: SweepStore, opts: CoordinatorOptions, cb: CoordinatorCallbacks = {}): Promise<number> {
  const template = jobTemplate(store.manifest, opts.chunk, opts.precision);
  const runs = pendingRuns(store.completed, opts.range, opts.chunk);
  const waiting = new Map<string, Pending>();
  for (const [first, count] of runs) waiting.set(jobId(template.sweep, first, count), { first, count, failures: 0 });
  const pending = runs.reduce((a, r) => a + r[1], 0);
  cb.onStart?.({ pending, jobs: runs.length, sweep: template.sweep });
  if (!waiting.size) return 0;

  const connection = ioredisOptions(opts.connection);
  const queue = new Queue(QUEUE_NAME, { connection });
  const events = new QueueEvents(QUEUE_NAME, { connection });
  // an event only says "look at this job now"; the lookups below decide
  const urgent = new Set<string>();
  let wake: (() => void) | null = null;
  const nudge = (id: string) => { if (waiting.has(id)) { urgent.add(id); wake?.(); } };
  events.on('completed', ({ jobId: id }) => nudge(id));
  events.on('failed', ({ jobId: id }) => nudge(id));
  // errors while Redis is away are retried by ioredis; they must not crash the process
  queue.on('error', (e) => cb.onConnectionError?.(e.message));
  events.on('error', (e) => cb.onConnectionError?.(e.message));

  const add = (ids: string[]) => queue.addBulk(ids.map((id) => {
    const p = waiting.get(id)!;
    const data: SweepJob = { ...template, first: p.first, count: p.count };
    return { name: 'rows', data, opts: { jobId: id, attempts: opts.attempts, backoff: { type: 'fixed', delay: 200 }, removeOnComplete: false, removeOnFail: false } };
  }));

  const workers = new Map<string, WorkerRate>();
  const n = store.manifest.examples.length, C = store.manifest.components.length;
  let done = 0;

  const settle = async (id: string, job: Job | undefined): Promise<'gone' | 'open' | 'settled'> => {
    const p = waiting.get(id);
    if (!p) return 'settled';
    if (!job) return 'gone';
    if (!job.finishedOn) return 'open';
    let state = await job.getState();
    let reason = job.failedReason ?? 'no reason given';
    if (state === 'completed') {
      // a result of the wrong size counts as a failed try, not as rows
      try { decodeResult(job.returnvalue, p.count, n, store.marginsDtype); } catch (e) { state = 'failed'; reason = (e as Error).message; }
    }
    if (state === 'completed') {
      // rows written by an earlier coordinator (killed after writing, before removing the job) are not written twice
      if (!store.completed.subarray(p.first, p.first + p.count).every((c) => c)) {
        const r = decodeResult(job.returnvalue, p.count, n, store.marginsDtype);
        store.writeRows(p.first, generateMasks(store.manifest.seed, store.manifest.alpha, p.first, p.count, C), r.margins, p.count);
        const w = workers.get(r.worker) ?? { rows: 0, seconds: 0, rowsPerSecond: 0 };
        w.rows += p.count; w.seconds += r.seconds; w.rowsPerSecond = w.seconds > 0 ? w.rows / w.seconds : 0;
        workers.set(r.worker, w);
        done += p.count;
        waiting.delete(id);
        cb.onRows?.({ first: p.first, count: p.count, worker: r.worker, done, pending, workers });
      } else waiting.delete(id);
      await job.remove().catch(() => {});
      return 'settled';
    }
    if (state === 'failed') {
      p.failures++;
      const givingUp = p.failures >= opts.maxFailures;
      cb.onFailed?.({ first: p.first, count: p.count, reason, failures: p.failures, givingUp });
      if (givingUp) throw new UserError(`rows ${p.first}-${p.first + p.count - 1} failed ${p.failures} times (${opts.attempts} attempts each), last: ${reason}; rows already written are safe, re-run the same command to resume`);
      await job.remove();
      await add([id]);
      return 'open';
    }
    return 'open';
  };

  try {
    // jobs of this sweep whose rows an earlier coordinator wrote but did not remove (killed in between)
    const prefix = `${template.sweep}-`;
    for (const id of await queue.getRanges(['completed', 'failed'], 0, -1)) {
      const m = id.startsWith(prefix) ? /-(\d+)-(\d+)$/.exec(id) : null;
      if (m && !waiting.has(id) && store.completed.subarray(Number(m[1]), Number(m[1]) + Number(m[2])).every((c) => c)) await queue.remove(id);
    }
    await add([...waiting.keys()]);
    let lastFull = 0;
    while (waiting.size) {
      const full = performance.now() - lastFull >= opts.pollMs;
      const ids = full ? [...waiting.keys()] : [...urgent];
      urgent.clear();
      if (full) lastFull = performance.now();
      const gone: string[] = [];
      for (let i = 0; i < ids.length; i += 256) {
        const batch = ids.slice(i, i + 256);
        const jobs = await Promise.all(batch.map((id) => Job.fromId(queue, id)));
        for (let k = 0; k < batch.length; k++) if (await settle(batch[k]!, jobs[k]) === 'gone') gone.push(batch[k]!);
      }
      if (gone.length) {
        // Redis lost them (restarted without its data, or flushed): the rows are still pending here
        await add(gone);
        cb.onRequeued?.(gone.length);
      }
      if (!waiting.size) break;
      await Promise.race([sleep(Math.max(1, opts.pollMs - (performance.now() - lastFull))), new Promise<void>((r) => { wake = r; })]);
      wake = null;
    }
  } finally {
    await events.close().catch(() => {});
    await queue.close().catch(() => {});
  }
  return done;
}
