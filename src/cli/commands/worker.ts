/** `coar worker --queue redis://…`: compute the rows coordinators (`coar sweep --queue`) put on the queue. */
import { resolve } from 'node:path';
import type { CommandModule } from 'yargs';
import { check } from '../../errors.js';
import { parseQueueUrl } from '../../queue/url.js';
import { gpuOptions, type GpuArgs } from '../options.js';
import { connectionErrors } from '../queue_log.js';

interface WorkerArgs extends GpuArgs {
  queue: string; name?: string; 'weights-dir'?: string; 'data-root'?: string; 'max-jobs': number; 'idle-exit': number;
  'lock-ms': number; 'stalled-ms': number; 'fail-pause': number; quiet?: boolean;
}

export const worker: CommandModule<{}, WorkerArgs> = {
  command: 'worker',
  describe: 'take jobs from a Redis queue: sweep rows (coar sweep --queue) and fit slices (coar fit --queue), computed on this machine\'s adapter',
  builder: (y) => gpuOptions(y)
    .option('queue', { type: 'string', demandOption: true, describe: 'the coordinator\'s Redis: redis://[user:pass@]HOST:PORT[/DB], rediss:// for TLS' })
    .option('name', { type: 'string', describe: 'this worker\'s name at the coordinator (default host:pid)' })
    .option('weights-dir', { type: 'string', describe: 'find the sweep\'s weights here by file name (default: the path the coordinator has)' })
    .option('data-root', { type: 'string', describe: 'find the sweep\'s examples here by name (default: the paths the coordinator has)' })
    .option('max-jobs', { type: 'number', default: 0, describe: 'leave after this many jobs (0: no limit)' })
    .option('idle-exit', { type: 'number', default: 0, describe: 'leave after this many seconds without a job (0: never)' })
    .option('fail-pause', { type: 'number', default: 10, describe: 'seconds to take no job after failing one for want of the right files (other workers take it)' })
    .option('lock-ms', { type: 'number', default: 30000, describe: 'how long a job stays locked without renewal: a dead worker\'s job is taken over after it', hidden: true })
    .option('stalled-ms', { type: 'number', default: 30000, describe: 'how often jobs of dead workers are looked for', hidden: true })
    .option('quiet', { type: 'boolean', describe: 'print only the summary' }) as any,
  handler: async (args) => {
    const connection = parseQueueUrl(args.queue);
    for (const k of ['max-jobs', 'idle-exit', 'fail-pause', 'lock-ms', 'stalled-ms'] as const) {
      check(Number.isFinite(args[k]) && args[k] >= 0, () => `--${k} must be a number >= 0, got ${args[k]}`);
    }
    check(Number.isInteger(args['max-jobs']), () => `--max-jobs must be an integer, got ${args['max-jobs']}`);
    const log = (s: string) => { if (!args.quiet) process.stderr.write(`worker: ${s}\n`); };
    // BullMQ and ioredis load only when a queue is used: every other command starts without them
    const { startWorker } = await import('../../queue/worker.js');
    const w = startWorker({
      connection, name: args.name,
      weightsDir: args['weights-dir'] === undefined ? undefined : resolve(args['weights-dir']),
      dataRoot: args['data-root'] === undefined ? undefined : resolve(args['data-root']),
      maxJobs: args['max-jobs'], idleExitSeconds: args['idle-exit'], failPauseMs: args['fail-pause'] * 1000,
      lockDurationMs: args['lock-ms'], stalledIntervalMs: args['stalled-ms'],
      gpu: { backend: args.backend, adapter: args.adapter, tune: args.tune, retune: args.retune },
    }, {
      onLoaded: ({ arch, weights, examples }) => log(`loaded ${arch} ${weights}, ${examples} examples`),
      onJob: ({ kind, first, count }) => log(`${kind} ${first}-${first + count - 1} started`),
      onDone: ({ kind, first, count, seconds }) => log(`${kind} ${first}-${first + count - 1} done in ${seconds.toFixed(2)} s (${(count / seconds).toFixed(1)} ${kind === 'rows' ? 'masks' : 'examples'}/s)`),
      onFailed: ({ kind, first, count, reason }) => log(`${kind} ${first}-${first + count - 1} failed: ${reason}`),
      onConnectionError: connectionErrors(connection.shown, log),
    });
    log(`taking jobs from ${connection.shown}`);
    // SIGTERM: finish the job in hand and leave; a second one leaves at once (the job's lock lapses and another worker takes it)
    let signals = 0;
    const onSignal = () => { if (signals++ === 0) { log('stopping after the current job'); void w.stop(); } else void w.stop(true).finally(() => process.exit(143)); };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    const r = await w.done;
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    process.stderr.write(`worker: ${r.jobs} jobs, ${r.rows} rows computed${r.examples ? `, ${r.examples} examples fitted` : ''}\n`);
  },
};
