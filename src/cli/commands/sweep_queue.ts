/** `coar sweep --queue redis://…`: the store stays here, the rows are computed by `coar worker`s. */
import type { Argv } from 'yargs';
import type { SweepStore } from '../../coar/sweep_store.js';
import { check, UserError } from '../../errors.js';
import { parseQueueUrl } from '../../queue/url.js';
import { connectionErrors, rate } from '../queue_log.js';

export interface QueueArgs { queue?: string; attempts?: number; 'max-failures'?: number; 'poll-ms'?: number; chunk?: number; precision?: 'f32' | 'f16' }

export function queueOptions<T>(y: Argv<T>): Argv<T & QueueArgs> {
  return y
    .option('queue', { type: 'string', describe: 'coordinate: put the rows on this Redis (redis://[user:pass@]HOST:PORT[/DB], rediss:// for TLS) for coar worker processes; the store stays here', group: 'Queue:' })
    .option('attempts', { type: 'number', default: 3, describe: 'with --queue: tries of a job on workers before it counts as failed', group: 'Queue:' })
    .option('max-failures', { type: 'number', default: 20, describe: 'with --queue: give up when one job has failed this many times', group: 'Queue:' })
    .option('poll-ms', { type: 'number', default: 1000, describe: 'with --queue: how often every waiting job is looked up in Redis', group: 'Queue:', hidden: true }) as Argv<T & QueueArgs>;
}

/** Refuse bad queue flags before any store is opened. */
export function checkQueueArgs(args: QueueArgs & { shard?: string }): void {
  if (args.queue === undefined) return;
  parseQueueUrl(args.queue);
  for (const k of ['attempts', 'max-failures', 'poll-ms'] as const) {
    const v = args[k];
    check(v === undefined || (Number.isInteger(v) && v >= 1), () => `--${k} must be a positive integer, got ${v}`);
  }
  check(args.chunk === undefined || (Number.isInteger(args.chunk) && args.chunk >= 1), () => `--chunk must be a positive integer, got ${args.chunk}`);
}

export async function sweepOnQueue(store: SweepStore, range: [number, number], args: QueueArgs & { quiet?: boolean; out: string }, log: (s: string) => void): Promise<{ computed: number; seconds: number }> {
  if (store.adoption) throw new UserError(`${args.out} has no manifest.json yet: resume it once without --queue (its first completed row is checked on this machine), then use --queue`);
  const connection = parseQueueUrl(args.queue!);
  const t0 = performance.now();
  // BullMQ and ioredis load only when a queue is used
  const { coordinateSweep } = await import('../../queue/coordinator.js');
  const computed = await coordinateSweep(store, {
    connection, range, chunk: args.chunk ?? 64, precision: args.precision ?? 'f32',
    attempts: args.attempts ?? 3, maxFailures: args['max-failures'] ?? 20, pollMs: args['poll-ms'] ?? 1000,
  }, {
    onStart: ({ jobs, pending, sweep }) => log(`queue ${connection.shown}: ${jobs} jobs for ${pending} rows (sweep ${sweep}); waiting for coar worker processes`),
    onRows: ({ first, count, worker, done, pending, workers }) => {
      const w = [...workers].map(([k, v]) => `${k} ${rate(v.rowsPerSecond)} masks/s`).join(', ');
      log(`rows ${first}-${first + count - 1} from ${worker} (${done}/${pending}); ${w}`);
    },
    onFailed: ({ first, count, reason, failures, givingUp }) => log(`rows ${first}-${first + count - 1} failed (${failures}${givingUp ? ', giving up' : ', put back'}): ${reason}`),
    onRequeued: (jobs) => log(`Redis had lost ${jobs} job(s) (restarted?): added again`),
    onConnectionError: connectionErrors(connection.shown, log),
  });
  const s = (performance.now() - t0) / 1000;
  log(`${computed} masks from the queue in ${s.toFixed(1)} s`);
  return { computed, seconds: s };
}
