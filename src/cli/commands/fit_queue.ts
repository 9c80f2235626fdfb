/** `coar fit --queue redis://…`: the fit's outputs are written here, its slices of examples fitted by `coar worker`s. */
import type { Argv } from 'yargs';
import type { FitStoreOptions } from '../../coar/fit.js';
import { check } from '../../errors.js';
import { parseQueueUrl } from '../../queue/url.js';
import { connectionErrors, rate } from '../queue_log.js';

export interface FitQueueArgs { queue?: string; attempts?: number; 'max-failures'?: number; 'poll-ms'?: number; 'examples-per-job'?: number }

export function fitQueueOptions<T>(y: Argv<T>): Argv<T & FitQueueArgs> {
  return y
    .option('queue', { type: 'string', describe: 'coordinate: put slices of the examples on this Redis (redis://[user:pass@]HOST:PORT[/DB], rediss:// for TLS) for coar worker processes that see the store at the same path; the outputs are written here', group: 'Queue:' })
    .option('examples-per-job', { type: 'number', describe: 'with --queue: examples per job (default: an eighth of them, at most 32 MB of attributions)', group: 'Queue:' })
    .option('attempts', { type: 'number', default: 3, describe: 'with --queue: tries of a job on workers before it counts as failed', group: 'Queue:' })
    .option('max-failures', { type: 'number', default: 20, describe: 'with --queue: give up when one job has failed this many times', group: 'Queue:' })
    .option('poll-ms', { type: 'number', default: 1000, describe: 'with --queue: how often every waiting job is looked up in Redis', group: 'Queue:', hidden: true }) as Argv<T & FitQueueArgs>;
}

export async function fitOnQueue(store: string, options: FitStoreOptions, args: FitQueueArgs, log: (s: string) => void): Promise<Record<string, unknown>> {
  const connection = parseQueueUrl(args.queue!);
  for (const k of ['attempts', 'max-failures', 'poll-ms'] as const) {
    const v = args[k];
    check(v === undefined || (Number.isInteger(v) && v >= 1), () => `--${k} must be a positive integer, got ${v}`);
  }
  const { FitAssembly } = await import('../../coar/fit_assembly.js');
  // BullMQ and ioredis load only when a queue is used
  const { coordinateFit } = await import('../../queue/fit_coordinator.js');
  const fit = FitAssembly.plan(store, options, args['examples-per-job'], log);
  try {
    const summary = await coordinateFit(fit, { connection, attempts: args.attempts ?? 3, maxFailures: args['max-failures'] ?? 20, pollMs: args['poll-ms'] ?? 1000 }, {
      onStart: ({ jobs, pending, examples, perJob, fit: id, solver }) => log(`queue ${connection.shown}: ${jobs} jobs for ${pending} of ${examples} examples (${perJob} a job, ${solver}, fit ${id})${jobs ? '; waiting for coar worker processes' : ''}`),
      onSlice: ({ first, count, worker, done, pending, workers }) => {
        const w = [...workers].map(([k, v]) => `${k} ${rate(v.examplesPerSecond)} examples/s`).join(', ');
        log(`examples ${first}-${first + count - 1} from ${worker} (${done}/${pending}); ${w}`);
      },
      onFailed: ({ label, reason, failures, givingUp }) => log(`${label} failed (${failures}${givingUp ? ', giving up' : ', put back'}): ${reason}`),
      onRequeued: (jobs) => log(`Redis had lost ${jobs} job(s) (restarted?): added again`),
      onConnectionError: connectionErrors(connection.shown, log),
    });
    log(`wrote ${fit.outDir}/attributions.npy [${fit.store.components}, ${fit.store.examples}] from ${fit.slices.length} jobs in ${(summary.seconds as number).toFixed(1)} s (${fit.solver})`);
    return summary;
  } finally {
    fit.close();
  }
}
