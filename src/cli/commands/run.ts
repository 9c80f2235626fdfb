/**
 * `coar run`: the main job. Sweep, fit, evaluate and report on a bundled model and
 * Fashion-MNIST (or any model and data given by flags), with timings by stage.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CommandModule } from 'yargs';
import { defaultEvalAlphas, evalStore, evalSummary, storeModel, writeEval } from '../../coar/eval_store.js';
import { fashionSpec } from '../../coar/examples.js';
import { fitStore, type FitMethod } from '../../coar/fit.js';
import { readManifest } from '../../coar/store_manifest.js';
import { sweepStore } from '../../coar/sweep.js';
import { check } from '../../errors.js';
import { GpuContext } from '../../gpu/context.js';
import { imageOptions } from '../image_options.js';
import { gpuOptions, type GpuArgs } from '../options.js';
import { BUNDLED } from '../../models/bundled.js';
import { printEval } from '../eval_table.js';
import { writeStoreReport } from '../../report/store_report.js';
import { dataSpec, type DataArgs } from '../data_options.js';
import { progressBar } from '../progress.js';

interface RunArgs extends GpuArgs, DataArgs {
  arch?: string; weights?: string;
  model: string; out?: string; examples?: number; masks?: number; alpha: number; seed: number;
  'eval-masks': number; method: string; quiet?: boolean; verbose?: boolean; json?: boolean;
}

export const run: CommandModule<{}, RunArgs> = {
  command: 'run',
  describe: 'the main job: sweep, fit, evaluate and write an HTML report for a bundled model on Fashion-MNIST, or your model (--arch, --weights) on your images (--data imagefolder:DIR)',
  builder: (y) => imageOptions(gpuOptions(y))
    .option('model', { choices: Object.keys(BUNDLED), default: 'cnn', describe: 'bundled model' })
    .option('arch', { type: 'string', describe: 'instead of --model: your architecture (resnet50, vit_b_16, ...)' })
    .option('weights', { type: 'string', describe: 'with --arch: its safetensors' })
    .option('data', { type: 'string', describe: "with --arch: imagefolder:DIR, list:FILE or fashion-mnist[:test|:train]" })
    .option('inputs', { type: 'string', describe: 'with --arch, instead of --data: float32 .npy [n, C, H, W]' })
    .option('labels', { type: 'string', describe: 'with --inputs: integer .npy [n]' })
    .option('out', { type: 'string', describe: 'output folder (default: out/run-<model>)' })
    .option('examples', { type: 'number', describe: 'examples to attribute (default: cnn 32, vit 16 Fashion-MNIST test images; with --arch, every example of --data)' })
    .option('masks', { type: 'number', describe: 'masks m in the sweep (default: cnn 600, vit 2000)' })
    .option('alpha', { type: 'number', default: 0.05, describe: 'ablation fraction' })
    .option('seed', { type: 'number', default: 0 })
    .option('eval-masks', { type: 'number', default: 100, describe: 'fresh masks per alpha in the evaluation' })
    .option('method', { choices: ['ols', 'ridge', 'lasso'], default: 'ridge', describe: 'fit (ridge and lasso choose lambda on held-out masks)' })
    .option('json', { type: 'boolean', describe: 'print one JSON summary on stdout instead of the tables' }) as any,
  handler: async (args) => {
    const own = args.arch !== undefined;
    if (own) {
      check(args.weights !== undefined, () => `--arch ${args.arch}: give its weights with --weights FILE.safetensors`);
      check(args.data !== undefined || args.inputs !== undefined, () => `--arch ${args.arch}: give the examples with --data imagefolder:DIR (or list:FILE, or --inputs/--labels)`);
      check(args.masks !== undefined, () => `--arch ${args.arch}: give --masks (COAR wants about as many masks as the model has components; coar components lists them)`);
    }
    const bundled = own
      ? { arch: args.arch!, weights: args.weights!, title: `${args.arch} on ${args.data ?? args.inputs}`, examples: undefined, masks: args.masks! }
      : BUNDLED[args.model]!;
    const examples: number | undefined = args.examples ?? bundled.examples, masks = args.masks ?? bundled.masks;
    check(existsSync(bundled.weights), () => own ? `--weights ${bundled.weights}: not found` : `bundled weights ${bundled.weights} are missing: is this a complete checkout?`);
    const out = resolve(args.out ?? join('out', `run-${own ? args.arch : args.model}`));
    try { mkdirSync(out, { recursive: true }); } catch (e) { check(false, () => `cannot create ${out}: ${(e as NodeJS.ErrnoException).code}`); }
    const stages: { name: string; seconds: number }[] = [];
    // each stage prints its own start and end lines on stderr
    const stage = async <T>(name: string, f: () => Promise<T> | T): Promise<T> => {
      const t0 = performance.now();
      const r = await f();
      stages.push({ name, seconds: (performance.now() - t0) / 1000 });
      return r;
    };
    const gpu = { backend: args.backend, adapter: args.adapter, precision: args.precision, tune: args.tune, retune: args.retune };
    const log = (name: string) => (line: string) => { if (!args.quiet) process.stderr.write(`${name}: ${line}\n`); };
    const swept = await stage('sweep', () => sweepStore({
      arch: bundled.arch, weights: bundled.weights, data: own ? dataSpec(args, bundled.arch) : fashionSpec('test', bundled.arch), select: { count: examples },
      alpha: args.alpha, masks, seed: args.seed, out, gpu,
    }, { log: log('sweep'), progress: (passes) => progressBar('sweep', passes, 'passes', args.quiet) }));
    await stage('fit', () => fitStore(out, { method: args.method as FitMethod, valFrac: 0.1, solver: 'auto', gpu }, { progress: log('fit'), detail: args.verbose ? log('fit') : undefined }));
    const manifest = readManifest(out);
    const model = storeModel(manifest);
    const alphas = defaultEvalAlphas(args.alpha);
    const ctx = await GpuContext.open(gpu);
    let results;
    try {
      results = await stage('eval', () => evalStore(ctx, manifest, model, out, { masks: args['eval-masks'], alphas }, {
        log: log('eval'), progress: (passes) => progressBar('eval', passes, 'passes', args.quiet),
      }));
    } finally {
      ctx.destroy();
    }
    writeEval(out, results);
    const reportPath = join(out, 'report.html');
    await stage('report', () => writeStoreReport(out, reportPath, {
      title: own ? `COAR on ${bundled.title}` : `COAR on ${args.model === 'cnn' ? 'the bundled CNN' : 'the bundled ViT'}`,
      stages, passesPerSecond: swept.computed ? (swept.computed * swept.examples) / swept.seconds : undefined,
    }));
    const total = stages.reduce((a, st) => a + st.seconds, 0);
    if (args.json) {
      console.log(JSON.stringify({
        command: 'run', title: bundled.title, store: out, report: reportPath,
        arch: bundled.arch, components: model.components.size, masks, examples: swept.examples, alpha: args.alpha, method: args.method,
        passesPerSecond: swept.computed ? (swept.computed * swept.examples) / swept.seconds : null,
        stages, seconds: total, eval: evalSummary(results),
      }));
      return;
    }
    console.log(`${bundled.title}: ${model.components.size} components, ${masks} masks x ${swept.examples} examples, alpha ${args.alpha}, ${args.method} fit`);
    printEval(results);
    console.log(`\ntime by stage: ${stages.map((st) => `${st.name} ${st.seconds.toFixed(1)} s`).join(', ')}; total ${total.toFixed(1)} s`);
    console.log(`report: ${reportPath}`);
  },
};
