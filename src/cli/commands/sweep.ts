import { resolve } from 'node:path';
import type { CommandModule } from 'yargs';
import { mergeStores } from '../../coar/merge.js';
import { parseShard, sweepStore, type SweepRun } from '../../coar/sweep.js';
import { checkQueueArgs, queueOptions, sweepOnQueue, type QueueArgs } from './sweep_queue.js';
import { dataSpec, exampleSelection, modelDataOptions, type ModelDataArgs } from '../data_options.js';
import { progressBar } from '../progress.js';
import { sweepTrace, writeTrace, type BatchSpan } from '../../report/trace.js';

export interface SweepArgs extends ModelDataArgs, QueueArgs { json?: boolean; indices?: string; alpha: number; masks: number; seed: number; out: string; shard?: string; chunk?: number; quiet?: boolean; split?: string; 'margins-dtype'?: string; trace?: string }

export const sweep: CommandModule<{}, SweepArgs> = {
  command: 'sweep',
  describe: 'measure margins under m random ablation masks into a resumable store (reference layout)',
  builder: (y) => queueOptions(modelDataOptions(y))
    .option('alpha', { type: 'number', default: 0.05, describe: 'ablation fraction: each component is dropped with probability alpha' })
    .option('masks', { type: 'number', demandOption: true, describe: 'number of masks m' })
    .option('seed', { type: 'number', default: 0, describe: 'mask stream seed' })
    .option('out', { type: 'string', demandOption: true, describe: 'store folder (created, or resumed if it holds this sweep)' })
    .option('shard', { type: 'string', describe: 'compute share i of N (i/N, contiguous mask ranges); merge shards with coar merge' })
    .option('chunk', { type: 'number', describe: 'masks per write (default: what one batch holds)' })
    .option('quiet', { type: 'boolean', describe: 'no progress bar' })
    .option('trace', { type: 'string', describe: 'write the batches as a Chrome trace (Perfetto, chrome://tracing) here' })
    .option('split', { type: 'string', describe: 'name of the margins file, <split>_margins.npy (default: test/train for Fashion-MNIST, examples otherwise); give the reference\'s to resume its store' })
    .option('margins-dtype', { choices: ['f32', 'f16'], describe: 'margin storage: f32 (default, exact) or f16 (the reference\'s, half the disk)' })
    .option('indices', { type: 'string', describe: 'instead of --examples: the example indices to attribute (5+9+12, 0-499 or @file)' })
    .option('json', { type: 'boolean', describe: 'print one JSON summary on stdout' }) as any,
  handler: async (args) => {
    const shard = parseShard(args.shard);
    checkQueueArgs(args);
    const log = (s: string) => { if (!args.quiet) process.stderr.write(`sweep: ${s}\n`); };
    const batches: BatchSpan[] = []; // for --trace
    let traced = 0;
    const r: SweepRun = await sweepStore({
      arch: args.arch, weights: args.weights, data: dataSpec(args, args.arch), select: exampleSelection(args),
      alpha: args.alpha, masks: args.masks, seed: args.seed, out: args.out, shard, chunk: args.chunk, split: args.split,
      marginsDtype: args['margins-dtype'] as 'f16' | 'f32' | undefined, gpu: args,
      remote: args.queue !== undefined ? (store, range, l) => sweepOnQueue(store, range, args, l) : undefined,
      command: args.queue !== undefined ? 'coar sweep --queue' : 'coar sweep',
    }, {
      log,
      progress: (passes) => progressBar('sweep', passes, 'passes', args.quiet),
      onRows: (rows, seconds) => {
        batches.push({ begin: batches.at(-1)?.end ?? 0, end: seconds, rows: rows - traced });
        traced = rows;
      },
    });
    if (args.trace && batches.length) writeTrace(args.trace, sweepTrace(batches, { title: `coar sweep ${args.arch} -> ${args.out}`, examples: r.examples }));
    if (args.json) {
      console.log(JSON.stringify({
        command: 'sweep', store: resolve(args.out), masks: args.masks, examples: r.examples, computed: r.computed, seconds: r.seconds,
        passesPerSecond: r.computed && r.seconds ? (r.computed * r.examples) / r.seconds : null,
      }));
    }
  },
};

export const merge: CommandModule<{}, { out: string; shards: string[] }> = {
  command: 'merge <out> <shards..>',
  describe: 'merge the completed rows of shard stores of one sweep into one store',
  builder: (y) => y
    .positional('out', { type: 'string', demandOption: true, describe: 'target store (created if absent)' })
    .positional('shards', { type: 'string', array: true, demandOption: true, describe: 'shard stores' }) as any,
  handler: (args) => {
    const r = mergeStores(args.out, args.shards);
    const gaps = r.missing.slice(0, 5).map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(', ') + (r.missing.length > 5 ? `, ... (${r.missing.length} ranges)` : '');
    console.error(`merge: ${args.out} has ${r.completed}/${r.rows} rows completed (${r.copied} copied now)${r.missing.length ? `; no shard has rows ${gaps}` : ''}`);
  },
};
