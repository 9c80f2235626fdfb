/**
 * Put a set of jobs on the queue and wait until each has been accepted, asking Redis about
 * every job it waits for, so nothing depends on having seen an event: a job Redis lost
 * (restart) is added again, a job finished while the coordinator was down is taken from Redis
 * when it comes back, a job that failed all its attempts is put back until `maxFailures`.
 * (The sweep's coordinator, coordinator.ts, runs the same loop with its rows in it.)
 */
import { Job, Queue, QueueEvents } from 'bullmq';
import { UserError } from '../errors.js';
import { QUEUE_NAME } from './job.js';
import { ioredisOptions, type QueueConnection } from './url.js';

export interface DrainOptions {
  connection: QueueConnection;
  /** tries of a job on workers before it counts as failed (BullMQ attempts) */
  attempts: number;
  /** failed rounds of one job before the coordinator gives up */
  maxFailures: number;
  /** how often every waiting job is looked up in Redis, ms */
  pollMs: number;
}

export interface DrainJob { name: string; data: unknown; label: string }

export interface DrainHandlers {
  /** take a completed job's result; throwing makes it a failed try (a result of the wrong size, say) */
  accept(id: string, result: unknown): void;
  /** a finished job in Redis that is not waited for: may it be removed (its result is already kept)? */
  leftover?(id: string): boolean;
  onFailed?: (info: { id: string; label: string; reason: string; failures: number; givingUp: boolean }) => void;
  onRequeued?: (jobs: number) => void;
  onConnectionError?: (message: string) => void;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function drain(jobs: Map<string, DrainJob>, opts: DrainOptions, h: DrainHandlers): Promise<void> {
  const waiting = new Map([...jobs].map(([id, j]) => [id, { ...j, failures: 0 }]));
  if (!waiting.size) return;
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
  queue.on('error', (e) => h.onConnectionError?.(e.message));
  events.on('error', (e) => h.onConnectionError?.(e.message));

  const add = (ids: string[]) => queue.addBulk(ids.map((id) => {
    const p = waiting.get(id)!;
    return { name: p.name, data: p.data, opts: { jobId: id, attempts: opts.attempts, backoff: { type: 'fixed', delay: 200 }, removeOnComplete: false, removeOnFail: false } };
  }));

  const settle = async (id: string, job: Job | undefined): Promise<'gone' | 'open' | 'settled'> => {
    const p = waiting.get(id);
    if (!p) return 'settled';
    if (!job) return 'gone';
    if (!job.finishedOn) return 'open';
    let state = await job.getState();
    let reason = job.failedReason ?? 'no reason given';
    if (state === 'completed') {
      try { h.accept(id, job.returnvalue); } catch (e) { state = 'failed'; reason = (e as Error).message; }
    }
    if (state === 'completed') {
      waiting.delete(id);
      await job.remove().catch(() => {});
      return 'settled';
    }
    if (state === 'failed') {
      p.failures++;
      const givingUp = p.failures >= opts.maxFailures;
      h.onFailed?.({ id, label: p.label, reason, failures: p.failures, givingUp });
      if (givingUp) throw new UserError(`${p.label} failed ${p.failures} times (${opts.attempts} attempts each), last: ${reason}; what is already written is safe, re-run the same command to resume`);
      await job.remove();
      await add([id]);
    }
    return 'open';
  };

  try {
    if (h.leftover) {
      for (const id of await queue.getRanges(['completed', 'failed'], 0, -1)) if (!waiting.has(id) && h.leftover(id)) await queue.remove(id);
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
        const found = await Promise.all(batch.map((id) => Job.fromId(queue, id)));
        for (let k = 0; k < batch.length; k++) if (await settle(batch[k]!, found[k]) === 'gone') gone.push(batch[k]!);
      }
      if (gone.length) {
        // Redis lost them (restarted without its data, or flushed): still pending here
        await add(gone);
        h.onRequeued?.(gone.length);
      }
      if (!waiting.size) break;
      await Promise.race([sleep(Math.max(1, opts.pollMs - (performance.now() - lastFull))), new Promise<void>((r) => { wake = r; })]);
      wake = null;
    }
  } finally {
    await events.close().catch(() => {});
    await queue.close().catch(() => {});
  }
}
