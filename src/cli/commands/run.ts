/**
 * `coar run`: the main job. Sweep, fit, evaluate and report on a bundled model and
 * Fashion-MNIST (or any model and data given by flags), with timings by stage.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CommandModule } from 'yargs';
import { readManifest } from '../../coar/sweep.js';
import { loadExamples } from '../../coar/examples.js';
import { check } from '../../errors.js';
import { GpuContext } from '../../gpu/context.js';
import { writeReport } from '../../report/html.js';
import { gpuOptions, type GpuArgs } from '../options.js';
import { printEval, readAttributions, runEval, storeModel, writeEval } from './eval.js';
import { fit } from './fit.js';
import { sweep } from './sweep.js';

const WEIGHTS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'weights');
export const BUNDLED: Record<string, { arch: string; weights: string; title: string }> = {
  cnn: { arch: 'mini-resnet', weights: join(WEIGHTS, 'fashion-cnn.safetensors'), title: 'MiniResNet (16 channels, 3 blocks) on Fashion-MNIST' },
  vit: { arch: 'vit', weights: join(WEIGHTS, 'fashion-vit.safetensors'), title: 'ViT (4 layers, width 64) on Fashion-MNIST' },
};

interface RunArgs extends GpuArgs {
  model: string; out?: string; examples: number; masks: number; alpha: number; seed: number;
  'eval-masks': number; method: string; quiet?: boolean;
}

export const run: CommandModule<{}, RunArgs> = {
  command: 'run',
  describe: 'the main job: sweep, fit, evaluate and write an HTML report for a bundled model on Fashion-MNIST',
  builder: (y) => gpuOptions(y)
    .option('model', { choices: Object.keys(BUNDLED), default: 'cnn', describe: 'bundled model' })
    .option('out', { type: 'string', describe: 'output folder (default: out/run-<model>)' })
    .option('examples', { type: 'number', default: 32, describe: 'Fashion-MNIST test examples to attribute' })
    .option('masks', { type: 'number', default: 600, describe: 'masks m in the sweep' })
    .option('alpha', { type: 'number', default: 0.05, describe: 'ablation fraction' })
    .option('seed', { type: 'number', default: 0 })
    .option('eval-masks', { type: 'number', default: 100, describe: 'fresh masks per alpha in the evaluation' })
    .option('method', { choices: ['ols', 'ridge', 'lasso'], default: 'ridge', describe: 'fit (ridge and lasso choose lambda on held-out masks)' })
    .option('quiet', { type: 'boolean' }) as any,
  handler: async (args) => {
    const bundled = BUNDLED[args.model]!;
    check(existsSync(bundled.weights), () => `bundled weights ${bundled.weights} are missing: is this a complete checkout?`);
    const out = resolve(args.out ?? join('out', `run-${args.model}`));
    try { mkdirSync(out, { recursive: true }); } catch (e) { check(false, () => `cannot create ${out}: ${(e as NodeJS.ErrnoException).code}`); }
    const stages: { name: string; seconds: number }[] = [];
    const stage = async <T>(name: string, f: () => Promise<T> | T): Promise<T> => {
      if (!args.quiet) process.stderr.write(`\n== ${name}\n`);
      const t0 = performance.now();
      const r = await f();
      stages.push({ name, seconds: (performance.now() - t0) / 1000 });
      return r;
    };
    const gpu = { backend: args.backend, adapter: args.adapter, precision: args.precision, tune: args.tune, retune: args.retune };
    await stage('sweep', () => sweep.handler({
      ...gpu, arch: bundled.arch, weights: bundled.weights, data: 'fashion-mnist:test', examples: args.examples,
      alpha: args.alpha, masks: args.masks, seed: args.seed, out, quiet: args.quiet, _: [], $0: 'coar',
    } as any));
    await stage('fit', () => fit.handler({ ...gpu, store: out, method: args.method, 'val-frac': 0.1, solver: 'auto', quiet: args.quiet, _: [], $0: 'coar' } as any));
    const manifest = readManifest(out);
    const model = storeModel(manifest);
    const alphas = [args.alpha / 2, args.alpha, Math.min(0.99, 2 * args.alpha)];
    const ctx = await GpuContext.open(gpu);
    let results;
    try {
      results = await stage('eval', () => runEval(ctx, manifest, model, out, { masks: args['eval-masks'], alphas, quiet: args.quiet }));
    } finally {
      ctx.destroy();
    }
    writeEval(out, results);
    const reportPath = join(out, 'report.html');
    await stage('report', () => {
      const ex = loadExamples(manifest.data, model, { indices: manifest.examples });
      const { attributions, bias } = readAttributions(out, model.components.size, ex.shape.n);
      const names = [...model.components.entries()];
      const at = results.findIndex((r) => r.alpha === args.alpha);
      const n = ex.shape.n;
      writeReport(reportPath, {
        title: `COAR on ${args.model === 'cnn' ? 'the bundled CNN' : 'the bundled ViT'}`,
        model: { arch: bundled.arch, weights: bundled.weights, weightsSha256: manifest.model.sha256, components: model.components.size },
        sweep: { alpha: args.alpha, masks: args.masks, examples: n, seed: args.seed, passesPerSecond: (args.masks * n) / stages[0]!.seconds },
        fit: { method: args.method, seconds: stages[1]!.seconds },
        components: names.map((c) => ({ name: c.name, layer: c.layer })),
        attributions, bias,
        examples: ex.indices.map((index, i) => ({ index, label: ex.labels[i]!, className: ex.classNames[ex.labels[i]!]! })),
        classNames: ex.classNames,
        eval: results.map((r, ri) => ({
          alpha: r.alpha, pearson: r.pearson, spearman: r.spearman,
          scatter: ri === at ? [0, 1, 2, 3].filter((e) => e < n).map((e) => ({
            example: e,
            trueMargin: Float32Array.from({ length: r.masks }, (_, i) => r.trueMargins[i * n + e]!),
            predicted: Float32Array.from({ length: r.masks }, (_, i) => r.predicted[i * n + e]!),
          })) : [],
        })),
        stages,
      });
    });
    console.log(`\n${bundled.title}: ${model.components.size} components, ${args.masks} masks x ${args.examples} examples, alpha ${args.alpha}, ${args.method} fit`);
    printEval(results);
    console.log(`\ntime by stage: ${stages.map((s) => `${s.name} ${s.seconds.toFixed(1)} s`).join(', ')}; total ${stages.reduce((a, s) => a + s.seconds, 0).toFixed(1)} s`);
    console.log(`report: ${reportPath}`);
  },
};
