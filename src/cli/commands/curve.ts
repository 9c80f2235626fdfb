/**
 * `coar curve`: held-out correlation against the number of training masks m for every
 * estimator (src/coar/curve_stores.ts) from the command line: the flags in, the table out.
 * The stores are given (--store, --heldout) or swept and resumed for a bundled model or
 * yours (--arch, --weights, --data).
 */
import { join } from 'node:path';
import type { CommandModule } from 'yargs';
import { curveStores, type CurveSweep } from '../../coar/curve_stores.js';
import { ESTIMATORS, type EstimatorName } from '../../coar/estimators/index.js';
import { fashionSpec } from '../../coar/examples.js';
import { check } from '../../errors.js';
import { BUNDLED } from '../../models/bundled.js';
import { ARCHS } from '../../models/index.js';
import { renderCurvePage } from '../../report/curve.js';
import { fmt, printCurve } from '../curve_table.js';
import { DATA_DESCRIBE, dataSpec, type DataArgs } from '../data_options.js';
import { imageOptions } from '../image_options.js';
import { gpuOptions, type GpuArgs } from '../options.js';
import { progressBar } from '../progress.js';

interface CurveArgs extends GpuArgs, DataArgs {
  store?: string; heldout?: string; model?: string; arch?: string; weights?: string; alpha: number; seed: number; 'heldout-masks': number;
  out?: string; estimators: string; 'min-masks'?: number; 'max-masks'?: number; 'val-frac': number; split?: string; quiet?: boolean;
  'lasso-path': number; 'lasso-max-iter': number; 'lasso-tol': number; 'extracted-epochs': number; 'extracted-batch': number; 'kept-only'?: boolean;
  memory?: number;
}

export const curve: CommandModule<{}, CurveArgs> = {
  command: 'curve',
  describe: 'held-out correlation against the number of training masks, for every estimator (table, curve.json, curve.html)',
  builder: (y) => imageOptions(gpuOptions(y))
    .option('store', { type: 'string', describe: 'training store (its first m rows train the point at m)' })
    .option('heldout', { type: 'string', describe: 'held-out store: fresh masks at the same alpha, another seed' })
    .option('model', { choices: Object.keys(BUNDLED), describe: 'instead of --store/--heldout: sweep both for a bundled model (resumable)' })
    .option('arch', { type: 'string', describe: `instead of --model: sweep both for your model, this architecture (${ARCHS.join(', ')})` })
    .option('weights', { type: 'string', describe: 'with --arch: its safetensors' })
    .option('data', { type: 'string', describe: `with --arch: ${DATA_DESCRIBE}` })
    .option('inputs', { type: 'string', describe: 'with --arch, instead of --data: float32 .npy [n, C, H, W], already preprocessed' })
    .option('labels', { type: 'string', describe: 'with --inputs: integer .npy [n]' })
    .option('examples', { type: 'number', describe: 'with --model or --arch: the first N examples (default: 32 Fashion-MNIST test images for --model, every example of --data for --arch)' })
    .option('alpha', { type: 'number', default: 0.05, describe: 'with --model or --arch: ablation fraction' })
    .option('seed', { type: 'number', default: 0, describe: 'with --model or --arch: mask seed of the training store (the held-out store uses seed + 1)' })
    .option('heldout-masks', { type: 'number', default: 256, describe: 'with --model or --arch: masks in the held-out store' })
    .option('out', { type: 'string', describe: 'output folder (default: out/curve-<model or arch>, or the training store\'s curve/ folder)' })
    .option('estimators', { type: 'string', default: ESTIMATORS.join(','), describe: `comma-separated, from ${ESTIMATORS.join(', ')}` })
    .option('min-masks', { type: 'number', describe: 'smallest m (default |C|/8)' })
    .option('max-masks', { type: 'number', describe: 'largest m (default 8 |C|, at most the training rows)' })
    .option('val-frac', { type: 'number', default: 0.2, describe: 'share of each point\'s training rows held out to choose hyperparameters' })
    .option('split', { type: 'string', describe: 'use <split>_margins.npy in both stores' })
    // FISTA's defaults (tolerance 1e-7, 20,000 iterations per lambda) take many minutes per point on a CPU adapter
    .option('lasso-path', { type: 'number', default: 12, describe: 'lasso: lambdas tried per point', group: 'Estimators:' })
    .option('lasso-max-iter', { type: 'number', default: 2000, describe: 'lasso: FISTA iterations per lambda', group: 'Estimators:' })
    .option('lasso-tol', { type: 'number', default: 1e-5, describe: 'lasso: FISTA tolerance', group: 'Estimators:' })
    .option('extracted-epochs', { type: 'number', default: 300, describe: 'extracted: most epochs per training', group: 'Estimators:' })
    .option('extracted-batch', { type: 'number', default: 64, describe: 'extracted: minibatch rows', group: 'Estimators:' })
    .option('memory', { type: 'number', describe: 'bound in GB on the memory scoring a point on the held-out store takes (default: half the machine\'s)' })
    .option('kept-only', { type: 'boolean', describe: 'fit nothing: write the table and page from the points already in --out (a curve cut short)' })
    .option('quiet', { type: 'boolean' }) as any,
  handler: async (args) => {
    const estimators = args.estimators.split(',').map((s) => s.trim()).filter(Boolean);
    for (const e of estimators) check((ESTIMATORS as readonly string[]).includes(e), () => `--estimators: unknown estimator '${e}'; choose from ${ESTIMATORS.join(', ')}`);
    check(estimators.length > 0, () => '--estimators: name at least one estimator');
    check(args['val-frac'] > 0 && args['val-frac'] < 1, () => `--val-frac must be between 0 and 1, got ${args['val-frac']}`);
    const sources = [args.model, args.arch, args.store].filter((v) => v !== undefined).length;
    check(sources === 1, () => 'give one of --model (a bundled model swept here), --arch with --weights and --data (your model swept here), or --store with --heldout');
    check(args.arch === undefined || args.weights !== undefined, () => `--arch ${args.arch}: give its weights with --weights FILE.safetensors`);
    check(args.arch === undefined || args.data !== undefined || args.inputs !== undefined, () => `--arch ${args.arch}: give the examples with --data imagefolder:DIR (or list:FILE, or --inputs/--labels)`);
    check(args.store === undefined || args.heldout !== undefined, () => '--store needs --heldout: a store of fresh masks to score on');
    for (const k of ['lasso-path', 'lasso-max-iter', 'extracted-epochs', 'extracted-batch'] as const) {
      check(Number.isInteger(args[k]) && args[k] >= 2, () => `--${k} must be an integer >= 2, got ${args[k]}`);
    }
    check(args.memory === undefined || args.memory > 0, () => `--memory must be > 0 GB, got ${args.memory}`);
    check(args['lasso-tol'] > 0, () => `--lasso-tol must be > 0, got ${args['lasso-tol']}`);
    for (const k of ['min-masks', 'max-masks'] as const) {
      const v = args[k];
      check(v === undefined || (Number.isInteger(v) && v >= 4), () => `--${k} must be an integer >= 4, got ${v}`);
    }
    const bundled = args.model !== undefined ? BUNDLED[args.model]! : undefined;
    const sweeping = bundled ? { arch: bundled.arch, weights: bundled.weights, name: args.model! } : args.arch !== undefined ? { arch: args.arch, weights: args.weights!, name: args.arch } : undefined;
    const sweep: CurveSweep | undefined = sweeping && {
      ...sweeping, data: bundled ? fashionSpec('test', sweeping.arch) : dataSpec(args, sweeping.arch), count: args.examples ?? (bundled ? 32 : undefined),
      alpha: args.alpha, seed: args.seed, heldoutMasks: args['heldout-masks'],
    };
    const lines = (prefix: string) => (s: string) => { if (!args.quiet) process.stderr.write(`${prefix}: ${s}\n`); };
    const log = lines('curve');
    const r = await curveStores({
      stores: sweep ? { sweep } : { train: args.store!, heldout: args.heldout! },
      out: args.out, estimators: estimators as EstimatorName[], minMasks: args['min-masks'], maxMasks: args['max-masks'], valFrac: args['val-frac'],
      estimatorOptions: {
        regression: { valFrac: args['val-frac'] },
        lasso: { tol: args['lasso-tol'], maxIter: args['lasso-max-iter'], lambdaPath: args['lasso-path'] },
        extracted: { valFrac: args['val-frac'], epochs: args['extracted-epochs'], batch: args['extracted-batch'] },
        shared: { valFrac: args['val-frac'] },
      },
      split: args.split, memoryBytes: args.memory === undefined ? undefined : args.memory * 2 ** 30, keptOnly: args['kept-only'], gpu: args,
      page: renderCurvePage,
    }, {
      log,
      sweep: { log: lines('sweep'), progress: (passes) => progressBar('sweep', passes, 'passes', args.quiet) },
      point: (p, fresh) => log(`${p.estimator} m = ${p.masks}: mean Pearson ${fmt(p.summary.pearsonMean)}, Spearman ${fmt(p.summary.spearmanMean)}${fresh ? ` (${p.seconds.toFixed(1)} s)` : ' (kept from an earlier run)'}`),
    });
    printCurve(r.points, r.sizes, estimators);
    console.log(`\ncurve: ${join(r.out, 'curve.json')}, report: ${join(r.out, 'curve.html')}`);
  },
};
