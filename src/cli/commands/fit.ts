/** `coar fit`: options in, progress out; the stage is fitStore (src/coar/fit.ts). */
import { resolve } from 'node:path';
import type { CommandModule } from 'yargs';
import { fitStore, parseExamples, type FitMethod, type Solver } from '../../coar/fit.js';
import { DEFAULT_VAL_FRAC } from '../../coar/fit.js';
import { ESTIMATORS, type EstimatorName } from '../../coar/estimators/index.js';
import { openStore } from '../../coar/store.js';
import { gpuOptions, type GpuArgs } from '../options.js';
import { progressBar, type Progress } from '../progress.js';
import { fitOnQueue, fitQueueOptions, type FitQueueArgs } from './fit_queue.js';

export interface FitArgs extends GpuArgs, FitQueueArgs {
  store: string;
  method: EstimatorName;
  lambda?: number;
  'val-frac': number;
  split?: string;
  out?: string;
  solver: Solver | 'auto';
  tol?: number;
  'max-iter'?: number;
  examples?: string;
  memory?: number;
  'examples-per-chunk'?: number;
  quiet?: boolean;
  verbose?: boolean;
  json?: boolean;
}

export const fit: CommandModule<{}, FitArgs> = {
  command: 'fit <store>',
  describe: 'fit component attributions (ridge, OLS, LASSO, extracted or shared) for every example of a mask/margin store',
  builder: (y) => fitQueueOptions(gpuOptions(y))
    .positional('store', { type: 'string', demandOption: true, describe: 'folder with masks.npy, <split>_margins.npy, optional _completed.npy' })
    .option('method', { choices: ESTIMATORS, default: 'ridge' as FitMethod, describe: 'estimator: regression (ols, ridge, lasso), the seed\'s extracted network, or the shared prior' })
    .option('lambda', { type: 'number', describe: 'regularisation; absent: chosen per example on held-out rows' })
    .option('val-frac', { type: 'number', default: DEFAULT_VAL_FRAC, describe: 'share of rows (the last) held out to choose lambda (shared: nu; extracted: its training setting)' })
    .option('split', { type: 'string', describe: 'use <split>_margins.npy (needed when the store has several)' })
    .option('out', { type: 'string', describe: 'output folder (default: the store)' })
    .option('solver', { choices: ['auto', 'gram', 'dual', 'matrix-free', 'cholesky'] as const, default: 'auto' as const, describe: 'stored |C| x |C| Gram matrix, stored m x m kernel matrix (ridge/OLS), products with the masks, or the Gram matrix factored once (ridge with --lambda, OLS); auto: the cheapest that fits' })
    .option('tol', { type: 'number', describe: 'relative tolerance (CG residual / FISTA change)' })
    .option('max-iter', { type: 'number', describe: 'iteration cap per solve' })
    .option('examples', { type: 'string', describe: 'fit examples a:b only (for distributed fits; slices assemble to the whole fit)' })
    .option('memory', { type: 'number', describe: 'bound on host + device memory in GB (default: half the machine\'s)' })
    .option('examples-per-chunk', { type: 'number', describe: 'cap on examples solved together (default: as many as --memory allows)' })
    .option('json', { type: 'boolean', describe: 'print one JSON summary on stdout (what fit.json holds)' })
    .option('quiet', { type: 'boolean', describe: 'no progress on stderr' })
    .option('verbose', { type: 'boolean', describe: 'also the solver\'s iterations and residuals' }) as any,
  handler: async (args) => {
    const log = (s: string) => { if (!args.quiet) process.stderr.write(`fit: ${s}\n`); };
    let examples: [number, number] | undefined;
    if (args.examples !== undefined) {
      const s = openStore(args.store, { split: args.split });
      s.close();
      examples = parseExamples(args.examples, s.examples);
    }
    // one bar per phase of a fit in several chunks (one chunk is one short stage: no bar)
    let bar: { phase: string; p: Progress } | undefined;
    const chunkDone = (phase: string, done: number, total: number) => {
      if (total < 2) return;
      if (bar?.phase !== phase) { bar?.p.stop(); bar = { phase, p: progressBar(`fit: ${phase}`, total, 'chunks', args.quiet) }; }
      bar.p.update(done);
      if (done >= total) { bar.p.stop(); }
    };
    const options = {
      method: args.method, lambda: args.lambda, valFrac: args['val-frac'], split: args.split, out: args.out, solver: args.solver,
      tol: args.tol, maxIter: args['max-iter'], examples, memoryBytes: args.memory === undefined ? undefined : args.memory * 2 ** 30,
      examplesPerChunk: args['examples-per-chunk'], gpu: args,
    };
    if (args.queue !== undefined) {
      const summary = await fitOnQueue(resolve(args.store), { ...options, out: args.out === undefined ? undefined : resolve(args.out) }, args, log);
      if (args.json) console.log(JSON.stringify({ command: 'fit', store: args.store, out: args.out ?? args.store, ...summary }));
      return;
    }
    const r = await fitStore(args.store, options, { progress: log, detail: args.verbose ? log : undefined, chunkDone });
    if (args.json) console.log(JSON.stringify({ command: 'fit', store: args.store, out: r.outDir, ...r.summary }));
  },
};
