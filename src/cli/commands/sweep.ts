import { resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { Ablator } from '../../coar/ablate.js';
import { imageSpec, loadExamples, npySpec, sha256File, type DataSpec } from '../../coar/examples.js';
import { parseIndices } from '../../coar/indices.js';
import { MASK_GENERATOR } from '../../coar/masks.js';
import { mergeStores } from '../../coar/merge.js';
import { confirmAdoption, parseShard, runSweep, shardRows } from '../../coar/sweep.js';
import { DTYPE_NAME, STORE_FORMAT, type MarginsDtype, type SweepManifest } from '../../coar/store_manifest.js';
import { SweepStore } from '../../coar/sweep_store.js';
import { check } from '../../errors.js';
import { GpuContext } from '../../gpu/context.js';
import { ARCHS, loadModel } from '../../models/index.js';
import { imageOptions, parseImageSource, preprocessingFrom, type ImageArgs } from '../image_options.js';
import { gpuOptions, type GpuArgs } from '../options.js';
import { progressBar } from '../progress.js';
import { sweepTrace, writeTrace, type BatchSpan } from '../../report/trace.js';
import { checkQueueArgs, queueOptions, sweepOnQueue, type QueueArgs } from './sweep_queue.js';

export interface ModelDataArgs extends GpuArgs, ImageArgs {
  arch: string; weights: string; inputs?: string; labels?: string;
  data?: string; examples?: number;
}

/** --arch/--weights and the examples: --inputs/--labels .npy, or --data fashion-mnist[:split] | imagefolder:DIR | list:FILE. */
export function modelDataOptions<T>(y: Argv<T>): Argv<T & ModelDataArgs> {
  return imageOptions(gpuOptions(y))
    .option('arch', { type: 'string', demandOption: true, describe: `architecture: ${ARCHS.join(', ')}` })
    .option('weights', { type: 'string', demandOption: true, describe: 'safetensors file with PyTorch parameter names' })
    .option('inputs', { type: 'string', describe: 'float32 .npy [n, C, H, W], already preprocessed' })
    .option('labels', { type: 'string', describe: 'integer .npy [n]' })
    .option('data', { type: 'string', describe: "instead of --inputs/--labels: 'fashion-mnist[:test|:train]' (Debian's dataset-fashion-mnist), 'imagefolder:DIR' (torchvision ImageFolder) or 'list:FILE' (path<TAB>label lines)" })
    .option('examples', { type: 'number', describe: 'use the first N examples' }) as Argv<T & ModelDataArgs>;
}

export function dataSpec(args: ModelDataArgs): DataSpec {
  if (args.data !== undefined) {
    check(args.inputs === undefined && args.labels === undefined, () => 'give either --data or --inputs/--labels, not both');
    const images = parseImageSource(args.data);
    if (images) return imageSpec(images.source, images.path, preprocessingFrom(args), args['bad-images'] ?? 'fail');
    const m = /^fashion-mnist(?::(train|test))?$/.exec(args.data);
    check(m, () => `--data ${args.data}: use fashion-mnist, fashion-mnist:test, fashion-mnist:train, imagefolder:DIR or list:FILE`);
    return { source: 'fashion-mnist', split: (m[1] ?? 'test') as 'train' | 'test', preprocessing: args.arch.startsWith('vit') ? 'vit' : 'cnn' };
  }
  check(args.inputs !== undefined && args.labels !== undefined, () => 'name the examples: --inputs X.npy --labels Y.npy, or --data fashion-mnist');
  return npySpec(args.inputs, args.labels);
}

export interface SweepArgs extends ModelDataArgs, QueueArgs { json?: boolean; indices?: string; alpha: number; masks: number; seed: number; out: string; shard?: string; chunk?: number; quiet?: boolean; split?: string; 'margins-dtype'?: string; trace?: string }

/** What one invocation did: rows computed now (completed rows are skipped) and how long that took. */
export interface SweepRun { computed: number; examples: number; seconds: number }

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
    const r = await sweepCommand(args);
    if (args.json) {
      console.log(JSON.stringify({
        command: 'sweep', store: resolve(args.out), masks: args.masks, examples: r.examples, computed: r.computed, seconds: r.seconds,
        passesPerSecond: r.computed && r.seconds ? (r.computed * r.examples) / r.seconds : null,
      }));
    }
  },
};

/** `coar sweep` as a function (coar run calls it): validate, open or resume the store, compute what is pending. */
export async function sweepCommand(args: SweepArgs): Promise<SweepRun> {
  check(args.alpha > 0 && args.alpha < 1, () => `--alpha must be in (0, 1), got ${args.alpha}`);
  check(Number.isInteger(args.masks) && args.masks > 0, () => `--masks must be a positive integer, got ${args.masks}`);
  check(Number.isInteger(args.seed) && args.seed >= 0 && args.seed < 2 ** 32, () => `--seed must be an integer in [0, 2^32), got ${args.seed}`);
  const shard = parseShard(args.shard);
  checkQueueArgs(args);
  const model = loadModel(args.arch, args.weights);
  const spec = dataSpec(args);
  check(args.indices === undefined || args.examples === undefined, () => 'give --examples (the first N) or --indices, not both');
  const ex = await loadExamples(spec, model, args.indices !== undefined ? { indices: parseIndices(args.indices, '--indices') } : { count: args.examples });
  if (!args.quiet && ex.spec.source !== 'fashion-mnist' && ex.spec.source !== 'npy' && ex.spec.skipped?.length) {
    process.stderr.write(`sweep: skipped ${ex.spec.skipped.length} unreadable image(s) (listed in the manifest), first: ${ex.spec.skipped[0]!.reason}\n`);
  }
  const manifest: SweepManifest = {
    format: STORE_FORMAT,
    model: { arch: args.arch, weights: resolve(args.weights), sha256: sha256File(args.weights) },
    components: model.components.names(),
    data: ex.spec, split: args.split ?? (spec.source === 'fashion-mnist' ? spec.split : 'examples'),
    examples: ex.indices, labels: [...ex.labels], classNames: ex.classNames,
    alpha: args.alpha, seed: args.seed, masks: args.masks, generator: MASK_GENERATOR, created: new Date().toISOString(),
  };
  check(args.split === undefined || /^[A-Za-z0-9][\w.-]*$/.test(args.split), () => `--split ${args.split}: use letters, digits, '.', '_' or '-'`);
  const dtype = args['margins-dtype'] === undefined ? undefined : ({ f16: 'f2', f32: 'f4' } as const)[args['margins-dtype'] as 'f16' | 'f32'];
  const store = SweepStore.openOrCreate(args.out, manifest, { marginsDtype: dtype as MarginsDtype | undefined, command: args.queue !== undefined ? 'coar sweep --queue' : 'coar sweep' });
  const log = (s: string) => { if (!args.quiet) process.stderr.write(`sweep: ${s}\n`); };
  let ctx: GpuContext | undefined;
  try {
    const range = shardRows(args.masks, shard);
    const pending = store.completed.subarray(range[0], range[1]).reduce((a, b) => a + (b ? 0 : 1), 0);
    const total = range[1] - range[0];
    if (store.adoption) log(`${args.out}: no manifest.json; resuming the store there (${store.adoption.completedRows} completed rows, ${DTYPE_NAME[store.marginsDtype]} margins, ${(100 * store.adoption.keepRate).toFixed(2)}% kept)`);
    log(`${args.out}: rows ${range[0]}-${range[1] - 1}${shard.count > 1 ? ` (shard ${shard.index}/${shard.count})` : ''}, ${total - pending} already completed, ${pending} to do; ${model.components.size} components, ${ex.shape.n} examples, alpha ${args.alpha}`);
    if (pending === 0 && !store.adoption) return { computed: 0, examples: ex.shape.n, seconds: 0 };
    if (args.queue !== undefined) return { ...await sweepOnQueue(store, range, args, log), examples: ex.shape.n };
    ctx = await GpuContext.open(args);
    const net = model.build(ctx, ex.shape);
    const ablator = new Ablator(ctx, net, ex.inputs, ex.labels, args.chunk ?? 64);
    if (store.adoption) {
      await confirmAdoption(store, ablator);
      if (pending === 0) return { computed: 0, examples: ex.shape.n, seconds: 0 };
    }
    const chunk = args.chunk ?? ablator.shape.masks;
    const bar = progressBar('sweep', pending * ex.shape.n, 'passes', args.quiet);
    const t0 = performance.now();
    const batches: BatchSpan[] = []; // for --trace
    let traced = 0;
    const done = await runSweep(store, ablator, range, chunk, (rows) => {
      batches.push({ begin: batches.at(-1)?.end ?? 0, end: (performance.now() - t0) / 1000, rows: rows - traced });
      traced = rows;
      bar.update(rows * ex.shape.n);
    });
    bar.stop();
    const s = (performance.now() - t0) / 1000;
    log(`${done} masks x ${ex.shape.n} examples in ${s.toFixed(1)} s (${((done * ex.shape.n) / s).toFixed(1)} ablated passes/s)`);
    if (args.trace) writeTrace(args.trace, sweepTrace(batches, { title: `coar sweep ${args.arch} -> ${args.out}`, examples: ex.shape.n }));
    ablator.destroy();
    net.destroy();
    return { computed: done, examples: ex.shape.n, seconds: s };
  } finally {
    store.close();
    ctx?.destroy();
  }
}

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
