/**
 * `coar curve`: held-out correlation against the number of training masks m for every
 * estimator (src/coar/curve.ts), from a training store and a held-out store, or from two
 * sweeps this command makes (and resumes) for a bundled model or yours (--arch, --weights,
 * --data).
 */
import { join, resolve } from 'node:path';
import type { CommandModule } from 'yargs';
import { curveSizes, headline, runCurve, type CurveData, type CurvePoint } from '../../coar/curve.js';
import { ESTIMATORS, type EstimatorName, type EstimatorOptions } from '../../coar/estimators/index.js';
import { defaultMemoryBytes } from '../../coar/fit/cost.js';
import { checkScorable } from '../../coar/score.js';
import { openStore, type StoreReader } from '../../coar/store.js';
import type { SweepManifest } from '../../coar/store_manifest.js';
import { check } from '../../errors.js';
import { GpuContext } from '../../gpu/context.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { renderCurvePage } from '../../report/curve.js';
import { fashionSpec } from '../../coar/examples.js';
import { sweepStore } from '../../coar/sweep.js';
import { ARCHS, loadModel } from '../../models/index.js';
import { DATA_DESCRIBE, dataSpec, type DataArgs } from '../data_options.js';
import { imageOptions } from '../image_options.js';
import { gpuOptions, type GpuArgs } from '../options.js';
import { progressBar } from '../progress.js';
import { BUNDLED } from '../../models/bundled.js';

interface CurveArgs extends GpuArgs, DataArgs {
  store?: string; heldout?: string; model?: string; arch?: string; weights?: string; alpha: number; seed: number; 'heldout-masks': number;
  out?: string; estimators: string; 'min-masks'?: number; 'max-masks'?: number; 'val-frac': number; split?: string; quiet?: boolean;
  'lasso-path': number; 'lasso-max-iter': number; 'lasso-tol': number; 'extracted-epochs': number; 'extracted-batch': number; 'kept-only'?: boolean;
  memory?: number;
}

/** The longest run of completed rows from row 0: the curve's rows are its prefixes. */
function completedPrefix(s: StoreReader): number {
  let k = 0;
  while (k < s.usedRows.length && s.usedRows[k] === k) k++;
  return k;
}

/** Refuse a held-out store that is not fresh masks of the same model, examples and alpha. */
function checkPair(train: StoreReader, held: StoreReader): void {
  check(train.components === held.components, () => `the held-out store has ${held.components} components, the training store ${train.components}`);
  check(train.examples === held.examples, () => `the held-out store has ${held.examples} examples, the training store ${train.examples}`);
  const a = (train.manifest ?? {}) as Partial<SweepManifest>, b = (held.manifest ?? {}) as Partial<SweepManifest>;
  if (a.model && b.model) {
    check(a.model.sha256 === b.model.sha256, () => `the held-out store was made with other weights than the training store`);
    check(JSON.stringify(a.examples) === JSON.stringify(b.examples), () => `the held-out store measures other examples than the training store`);
  }
  if (a.alpha !== undefined && b.alpha !== undefined) {
    check(a.alpha === b.alpha, () => `the held-out store's alpha is ${b.alpha}, the training store's ${a.alpha}: the curve scores at the training alpha`);
  }
  if (a.seed !== undefined && b.seed !== undefined) {
    check(a.seed !== b.seed, () => `the held-out store has the training store's seed (${a.seed}): its masks are the training masks; sweep it with another --seed`);
  }
}

const fmt = (v: number | undefined, d = 3) => (v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(d));

export function printCurve(points: CurvePoint[], sizes: number[], estimators: string[]): void {
  console.log(`mean Pearson (± sd over examples) on held-out masks`);
  console.log(['m'.padStart(6), ...estimators.map((e) => e.padStart(15))].join(' '));
  for (const m of sizes) {
    const cells = estimators.map((e) => {
      const p = points.find((x) => x.estimator === e && x.masks === m);
      return (p ? `${fmt(p.summary.pearsonMean)} ± ${fmt(p.summary.pearsonSd, 2)}` : '').padStart(15);
    });
    console.log([String(m).padStart(6), ...cells].join(' '));
  }
  const h = headline(points, estimators);
  console.log(`\nmasks (= forward passes per example) to reach a mean Pearson of ${h.thresholds.join(', ')}; best reached`);
  for (const r of h.rows) console.log(`${r.estimator.padEnd(10)} ${r.masks.map((m) => (m === undefined ? '–' : Math.round(m).toString()).padStart(7)).join(' ')}   best ${fmt(r.best)} at m = ${r.bestAt}`);
  if (h.target) {
    console.log(`\nto match ${h.target.estimator} at m = ${h.target.masks} (mean Pearson ${fmt(h.target.pearson)}):`);
    for (const r of h.target.reach) console.log(`${r.estimator.padEnd(10)} ${r.masks === undefined ? 'not reached' : `${Math.round(r.masks)} masks (${fmt(r.ratio, 2)} of ${h.target.masks})`}`);
  }
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
    const memoryBytes = args.memory === undefined ? defaultMemoryBytes() : args.memory * 2 ** 30;
    check(args['lasso-tol'] > 0, () => `--lasso-tol must be > 0, got ${args['lasso-tol']}`);
    for (const k of ['min-masks', 'max-masks'] as const) {
      const v = args[k];
      check(v === undefined || (Number.isInteger(v) && v >= 4), () => `--${k} must be an integer >= 4, got ${v}`);
    }
    const log = (s: string) => { if (!args.quiet) process.stderr.write(`curve: ${s}\n`); };
    let trainDir: string, heldDir: string, out: string;
    if (args.model !== undefined || args.arch !== undefined) {
      const sweeping = args.model !== undefined ? { ...BUNDLED[args.model]!, name: args.model } : { arch: args.arch!, weights: args.weights!, name: args.arch! };
      out = resolve(args.out ?? join('out', `curve-${sweeping.name}`));
      trainDir = join(out, 'train');
      heldDir = join(out, 'heldout');
      check(Number.isInteger(args['heldout-masks']) && args['heldout-masks'] >= 3, () => `--heldout-masks must be an integer >= 3, got ${args['heldout-masks']}`);
      const C = loadModel(sweeping.arch, sweeping.weights).components.size;
      const maxMasks = args['max-masks'] ?? 8 * C;
      const common = {
        arch: sweeping.arch, weights: sweeping.weights, gpu: { backend: args.backend, adapter: args.adapter }, alpha: args.alpha,
        data: args.model !== undefined ? fashionSpec('test', sweeping.arch) : dataSpec(args, sweeping.arch),
        select: { count: args.examples ?? (args.model !== undefined ? 32 : undefined) },
      };
      const swept = { log: (s: string) => { if (!args.quiet) process.stderr.write(`sweep: ${s}\n`); }, progress: (passes: number) => progressBar('sweep', passes, 'passes', args.quiet) };
      log(`held-out store ${heldDir}: ${args['heldout-masks']} masks, seed ${args.seed + 1}`);
      await sweepStore({ ...common, masks: args['heldout-masks'], seed: args.seed + 1, out: heldDir }, swept);
      log(`training store ${trainDir}: ${maxMasks} masks, seed ${args.seed}`);
      await sweepStore({ ...common, masks: maxMasks, seed: args.seed, out: trainDir }, swept);
    } else {
      trainDir = resolve(args.store!);
      heldDir = resolve(args.heldout!);
      out = resolve(args.out ?? join(trainDir, 'curve'));
    }
    check(trainDir !== heldDir, () => 'the held-out store must not be the training store');
    const opts: EstimatorOptions = {
      regression: { valFrac: args['val-frac'] },
      lasso: { tol: args['lasso-tol'], maxIter: args['lasso-max-iter'], lambdaPath: args['lasso-path'] },
      extracted: { valFrac: args['val-frac'], epochs: args['extracted-epochs'], batch: args['extracted-batch'] },
      shared: { valFrac: args['val-frac'] },
    };
    // both stores stay open for the run: each point reads its training rows, and the held-out store to score it
    const train = openStore(trainDir, { split: args.split });
    let held: StoreReader | undefined;
    let data: CurveData, sizes: number[];
    let key: Record<string, unknown>;
    let points: CurvePoint[];
    try {
      held = openStore(heldDir, { split: args.split });
      checkPair(train, held);
      check(held.usedRows.length === held.rows, () => `the held-out store ${heldDir} has ${held!.usedRows.length} of ${held!.rows} rows completed: finish its sweep first`);
      const prefix = completedPrefix(train);
      const C = train.components;
      sizes = curveSizes(C, prefix, args['min-masks'] ?? C / 8, args['max-masks'] ?? 8 * C);
      check(sizes.length > 0, () => `the training store ${trainDir} has ${prefix} completed rows from row 0: too few for a curve (at least 4)`);
      const want = args['max-masks'] ?? 8 * C;
      if (prefix < want) log(`the training store has ${prefix} completed rows from row 0: the curve stops at m = ${sizes[sizes.length - 1]} instead of ${want}`);
      // bad rows are refused before any fit: the training rows the curve uses, and every held-out row
      const trainRows = Array.from({ length: sizes[sizes.length - 1]! }, (_, i) => i);
      checkScorable({ ...train, usedRows: trainRows }, memoryBytes);
      checkScorable(held, memoryBytes);
      data = { train, heldout: held, components: C, examples: train.examples, memoryBytes };
      const id = (s: StoreReader) => ({ dir: s.dir, rows: s.rows, manifest: s.manifest ? { seed: s.manifest.seed, alpha: s.manifest.alpha, sha256: (s.manifest as Partial<SweepManifest>).model?.sha256 ?? null } : null });
      key = { train: id(train), heldout: id(held), heldoutRows: held.usedRows.length, valFrac: args['val-frac'], estimators: opts };
      log(`${estimators.join(', ')} at m = ${sizes.join(', ')}; ${held.usedRows.length} held-out masks, ${data.examples} examples, ${data.components} components`);
      const ctx = await GpuContext.open(args);
      try {
        points = await runCurve(ctx, data, out, { sizes, estimators: estimators as EstimatorName[], key, keptOnly: args['kept-only'] }, opts, (p, fresh) =>
          log(`${p.estimator} m = ${p.masks}: mean Pearson ${fmt(p.summary.pearsonMean)}, Spearman ${fmt(p.summary.spearmanMean)}${fresh ? ` (${p.seconds.toFixed(1)} s)` : ' (kept from an earlier run)'}`));
      } finally {
        ctx.destroy();
      }
    } finally { held?.close(); train.close(); }
    check(points.length > 0, () => `--kept-only: ${join(out, 'points')} holds no points for these estimators and sizes; run without --kept-only first`);
    const manifest = train.manifest as Partial<SweepManifest> | null;
    const result = {
      train: trainDir, heldout: heldDir, components: data.components, examples: data.examples, heldoutMasks: data.heldout.usedRows.length,
      alpha: manifest?.alpha ?? null, model: manifest?.model ?? null, valFrac: args['val-frac'], options: opts, sizes, estimators,
      headline: headline(points, estimators), points,
    };
    writeFileAtomic(join(out, 'curve.json'), [new TextEncoder().encode(JSON.stringify(result, null, 1) + '\n')]);
    const bundled = Object.entries(BUNDLED).find(([, b]) => manifest?.model && resolve(b.weights) === resolve(manifest.model.weights))?.[0];
    const title = bundled ? `Estimators on ${bundled === 'cnn' ? 'the bundled CNN' : 'the bundled ViT'}`
      : `Estimators on ${manifest?.model ? `${manifest.model.arch} (${manifest.model.weights})` : trainDir}`;
    writeFileAtomic(join(out, 'curve.html'), [Buffer.from(renderCurvePage({ title, ...result }), 'utf8')]);
    printCurve(points, sizes, estimators);
    console.log(`\ncurve: ${join(out, 'curve.json')}, report: ${join(out, 'curve.html')}`);
  },
};
