import { mkdirSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandModule } from 'yargs';
import { check } from '../../errors.js';
import { GpuContext } from '../../gpu/context.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { writeNpy } from '../../io/npy.js';
import { describeHolder, FIT_LOCK_FILE, lockStore } from '../../io/lock.js';
import { DEFAULT_VAL_FRAC, fitAttributions, type FitMethod } from '../../coar/fit.js';
import { packMasks } from '../../coar/fit_masks.js';
import { openStore, readMargins, readMaskRows } from '../../coar/store.js';
import type { Solver } from '../../coar/fit_solver.js';
import { gpuOptions, type GpuArgs } from '../options.js';
import { ESTIMATORS } from '../../coar/estimators/index.js';
import { fitOtherEstimator, isOtherEstimator } from './fit_estimators.js';

export interface FitArgs extends GpuArgs {
  store: string;
  method: FitMethod;
  lambda?: number;
  'val-frac': number;
  split?: string;
  out?: string;
  solver: Solver | 'auto';
  tol?: number;
  'max-iter'?: number;
  quiet?: boolean;
  verbose?: boolean;
}

export const fit: CommandModule<{}, FitArgs> = {
  command: 'fit <store>',
  describe: 'fit component attributions (ridge, OLS, LASSO, extracted or shared) for every example of a mask/margin store',
  builder: (y) => gpuOptions(y)
    .positional('store', { type: 'string', demandOption: true, describe: 'folder with masks.npy, <split>_margins.npy, optional _completed.npy' })
    .option('method', { choices: ESTIMATORS, default: 'ridge' as FitMethod, describe: 'estimator: regression (ols, ridge, lasso), the seed\'s extracted network, or the shared prior' })
    .option('lambda', { type: 'number', describe: 'regularisation; absent: chosen per example on held-out rows' })
    .option('val-frac', { type: 'number', default: DEFAULT_VAL_FRAC, describe: 'share of rows (the last) held out to choose lambda (shared: nu; extracted: its training setting)' })
    .option('split', { type: 'string', describe: 'use <split>_margins.npy (needed when the store has several)' })
    .option('out', { type: 'string', describe: 'output folder (default: the store)' })
    .option('solver', { choices: ['auto', 'gram', 'dual', 'matrix-free'] as const, default: 'auto' as const, describe: 'stored |C| x |C| Gram matrix, stored m x m kernel matrix (ridge/OLS), or products with the masks; auto: the cheapest that fits' })
    .option('tol', { type: 'number', describe: 'relative tolerance (CG residual / FISTA change)' })
    .option('max-iter', { type: 'number', describe: 'iteration cap per solve' })
    .option('quiet', { type: 'boolean', describe: 'no progress on stderr' })
    .option('verbose', { type: 'boolean', describe: 'also the solver\'s iterations and residuals' }) as any,
  handler: async (args) => {
    const log = (s: string) => { if (!args.quiet) process.stderr.write(`fit: ${s}\n`); };
    check(args.lambda === undefined || (Number.isFinite(args.lambda) && args.lambda >= 0), () => `--lambda must be a number >= 0, got ${args.lambda}`);
    check(!(args.method === 'ols' && args.lambda !== undefined && args.lambda !== 0), () => `--method ols has no lambda (got --lambda ${args.lambda}); use --method ridge`);
    check(!isOtherEstimator(args.method) || args.lambda === undefined, () => `--lambda applies to ridge and lasso, not to --method ${args.method}`);
    check(args.lambda !== undefined || args.method === 'ols' || (args['val-frac'] > 0 && args['val-frac'] < 1),
      () => `--val-frac must be between 0 and 1, got ${args['val-frac']}`);
    check(args.tol === undefined || args.tol > 0, () => `--tol must be > 0, got ${args.tol}`);
    check(args['max-iter'] === undefined || (Number.isInteger(args['max-iter']) && args['max-iter'] > 0), () => `--max-iter must be a positive integer, got ${args['max-iter']}`);
    const outDir = args.out ?? args.store;
    check(!existsSync(outDir) || statSync(outDir).isDirectory(), () => `--out ${outDir} exists and is not a folder`);

    const store = openStore(args.store, { split: args.split });
    if (store.writer) log(`${args.store} is still being written by ${describeHolder(store.writer)}: using its ${store.usedRows.length} completed rows`);
    mkdirSync(outDir, { recursive: true });
    const lock = lockStore(outDir, 'coar fit', FIT_LOCK_FILE);
    let margins: Float32Array;
    let masks;
    try {
      const rows = store.usedRows;
      log(`${rows.length} of ${store.rows} rows, ${store.components} components, ${store.examples} examples (${store.split})`);
      margins = readMargins(store, rows);
      const started = Date.now();
      masks = packMasks((s, e) => readMaskRows(store, s, e), rows, store.components,
        (done) => { if (Date.now() - started > 2000) log(`packing masks: ${done}/${rows.length} rows`); });
      if (isOtherEstimator(args.method)) return await fitOtherEstimator(args, { store, masks, margins, outDir, log });
    } catch (e) {
      lock.release();
      throw e;
    } finally {
      store.close();
    }
    const ctx = await GpuContext.open(args);
    const started = Date.now();
    let result;
    try {
      result = await fitAttributions(ctx, masks, margins, store.examples, {
        method: args.method, lambda: args.lambda, valFrac: args['val-frac'], solver: args.solver, tol: args.tol, maxIter: args['max-iter'],
        progress: log, detail: args.verbose ? log : undefined,
      });
    } finally {
      ctx.destroy();
    }
    const seconds = (Date.now() - started) / 1000;
    if (!result.converged) log(`warning: not every solve reached the tolerance within the iteration cap (${result.iterations} iterations)`);
    // everything is computed before the first file is written
    mkdirSync(outDir, { recursive: true });
    const C = store.components;
    const n = store.examples;
    writeNpy(join(outDir, 'attributions.npy'), 'f4', [C, n], result.attributions);
    writeNpy(join(outDir, 'bias.npy'), 'f4', [n], result.bias);
    if (result.lambda) writeNpy(join(outDir, 'lambda.npy'), 'f4', [n], result.lambda);
    const names = store.manifest?.components;
    if (names) writeFileAtomic(join(outDir, 'components.txt'), [new TextEncoder().encode(names.join('\n') + '\n')]);
    const summary = {
      method: args.method, lambda: args.lambda ?? null, chosen: result.lambda ? 'per example on held-out rows' : null,
      valFrac: result.lambda ? args['val-frac'] : null, lambdaGrid: result.lambdaGrid ?? null,
      lambdaGridUnits: result.lambdaGrid ? (args.method === 'lasso' ? 'fraction of each example\'s lambda_max' : 'absolute') : null,
      solver: result.solver, rows: store.usedRows.length, components: C, examples: n, split: store.split,
      iterations: result.iterations, converged: result.converged, residual: result.residual ?? null, seconds, peakDeviceBytes: result.peakDeviceBytes,
      units: 'raw mask units: predicted margin = bias + mask . attributions',
    };
    writeFileAtomic(join(outDir, 'fit.json'), [new TextEncoder().encode(JSON.stringify(summary, null, 2) + '\n')]);
    log(`wrote ${join(outDir, 'attributions.npy')} [${C}, ${n}] in ${seconds.toFixed(1)} s (${result.solver}, ${result.iterations} iterations)`);
    lock.release();
  },
};
