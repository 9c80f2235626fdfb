/**
 * `coar bench ceiling`: the adapter's ceilings (best f32 GEMM that WGSL reaches on it, best
 * copy bandwidth). `coar bench --profile`: one batched ablated forward pass of a model,
 * per kernel: time, FLOPs, bytes, rates and the share of the ceiling that bounds it.
 * `coar bench tune`: measure and cache the tiles of a model's kernels on this adapter.
 * `coar bench tiles`: list the tiles the tuner may choose, with their kinds (bench_tiles.ts).
 */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { generateMasks, packMasks } from '../../coar/masks.js';
import { check } from '../../errors.js';
import { GpuContext } from '../../gpu/context.js';
import { forceTiles, parseForcedTiles } from '../../kernels/forced_tiles.js';
import { measureCeiling, type Ceiling } from '../../kernels/ceiling.js';

import { BatchedNetwork, inputShapeElems, toDeviceLayout } from '../../models/batched.js';
import { ARCHS, loadModel } from '../../models/index.js';
import { networkFlops } from '../../models/network.js';
import { formatProfile, profileNetwork } from '../../models/profile.js';
import { PROFILE_FORMAT, profileJson, type ProfileFile } from '../../models/profile_file.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { writeRooflinePage } from '../../report/roofline.js';
import { profileTrace, writeTrace } from '../../report/trace.js';
import { benchCompare } from './bench_compare.js';
import { gpuOptions, type GpuArgs } from '../options.js';
import { formatTiles, listTiles } from './bench_tiles.js';
import { BUNDLED } from '../../models/bundled.js';

interface Args extends GpuArgs {
  what?: string; profile?: boolean; model?: string; arch?: string; weights?: string; heads?: number; size?: number;
  masks: number; examples: number; alpha: number; quick?: boolean; tile?: string; 'gemm-size'?: number; ceiling?: boolean; json?: boolean; repeats: number;
  out?: string; html?: string; trace?: string;
}

const CEILING_KEY = 'ceiling';

/** The last ceiling measured on this adapter (kept beside the tuned tiles). */
function cachedCeiling(ctx: GpuContext): Pick<Ceiling, 'gemm' | 'copy'> | undefined {
  const e = ctx.tuning.get(CEILING_KEY);
  if (!e) return undefined;
  const c = e.choice;
  return { gemm: { gflops: Number(c.gflops), tile: String(c.tile), size: Number(c.size) }, copy: { gbps: Number(c.gbps), variant: String(c.variant), mib: Number(c.mib) } };
}

async function ceiling(ctx: GpuContext, args: Args, log: (s: string) => void): Promise<Ceiling> {
  const c = await measureCeiling(ctx, {
    quick: args.quick, size: args['gemm-size'], mib: args.quick ? 16 : undefined,
    onTrial: (kind, name, rate, done, total) => log(`  [${done}/${total}] ${kind} ${name}: ${rate.toFixed(2)} ${kind === 'gemm' ? 'GFLOP/s' : 'GB/s'}`),
  });
  ctx.tuning.set(CEILING_KEY, {
    choice: { gflops: c.gemm.gflops, tile: c.gemm.tile, size: c.gemm.size, gbps: c.copy.gbps, variant: c.copy.variant, mib: c.copy.mib },
    seconds: 0, defaultSeconds: 0, flops: 0, candidates: c.trials.length, date: c.date,
  });
  return c;
}

export const bench: CommandModule<{}, Args> = {
  command: 'bench [what]',
  describe: 'measure the adapter: `bench ceiling` (GEMM and copy ceilings), `bench --profile` (per-kernel profile of a model), `bench tune` (cache tuned tiles)',
  builder: (y) => ownOptions(y, (z) => gpuOptions(z.command(benchCompare as CommandModule))
    .positional('what', { choices: ['ceiling', 'tune', 'tiles'], describe: 'ceiling: the adapter\'s ceilings; tune: measure and cache a model\'s tiles; tiles: list the tile candidates and their kinds' })
    .option('profile', { type: 'boolean', describe: 'per-kernel profile of one batched ablated forward pass' })
    .option('model', { choices: Object.keys(BUNDLED), describe: 'bundled model (default cnn, unless --arch/--weights)' })
    .option('arch', { type: 'string', describe: `architecture: ${ARCHS.join(', ')}` })
    .option('weights', { type: 'string', describe: 'safetensors file with PyTorch parameter names' })
    .option('heads', { type: 'number', describe: 'attention heads of a ViT' })
    .option('size', { type: 'number', describe: 'input side (default: what the model is made for, 224 for torchvision ResNets)' })
    .option('masks', { type: 'number', default: 8, describe: 'masks per batch' })
    .option('examples', { type: 'number', default: 1, describe: 'examples per batch (random inputs)' })
    .option('alpha', { type: 'number', default: 0.05, describe: 'ablation fraction of the random masks' })
    .option('repeats', { type: 'number', default: 3, describe: 'timed repeats (the best is kept)' })
    .option('ceiling', { type: 'boolean', describe: 'with --profile: measure the ceiling now instead of using the cached one' })
    .option('quick', { type: 'boolean', describe: 'ceiling and tune: a few candidates of each kind only' })
    .option('gemm-size', { type: 'number', describe: 'ceiling: GEMM side n (n x n x n), default 1024' })
    .option('json', { type: 'boolean', describe: 'print JSON (with --profile: the profile file, as --out writes it)' })
    .option('tile', { type: 'string', describe: 'with --profile: run every conv (a conv tile name) or every attention (an attn/ name) with this tile; names from `coar bench tiles`, one of each kind comma-separated', group: 'GPU:' })
    .option('out', { type: 'string', describe: 'with --profile: write the profile file (JSON) here, for `coar bench compare`' })
    .option('html', { type: 'string', describe: 'with --profile: write the roofline page (self-contained HTML) here' })
    .option('trace', { type: 'string', describe: 'with --profile: write the pass as a Chrome trace (Perfetto, chrome://tracing) here' })) as any,
  handler: async (args) => {
    check(args.what || args.profile, () => 'name what to measure: `coar bench ceiling`, `coar bench --profile [--model cnn|vit | --arch A --weights W]` or `coar bench tune ...`');
    for (const k of ['masks', 'examples', 'repeats'] as const) check(Number.isInteger(args[k]) && args[k] >= 1, () => `--${k} must be a positive integer, got ${args[k]}`);
    check(args.alpha > 0 && args.alpha < 1, () => `--alpha must be in (0, 1), got ${args.alpha}`);
    const log = (s: string) => { if (!args.json) process.stderr.write(s + '\n'); };
    for (const k of ['out', 'html', 'trace'] as const) {
      const f = args[k];
      check(f === undefined || args.profile, () => `--${k} is for \`coar bench --profile\`; add --profile`);
      check(f === undefined || existsSync(dirname(resolve(f!))), () => `--${k} ${f}: folder ${dirname(resolve(f!))} does not exist; create it first`);
    }
    if (args.what === 'ceiling') {
      const ctx = await GpuContext.open(args);
      try {
        log(`adapter: ${ctx.gpu.description}`);
        const c = await ceiling(ctx, args, log);
        if (args.json) { console.log(JSON.stringify(c, null, 1)); return; }
        console.log(`adapter         ${c.adapter}`);
        console.log(`GEMM ceiling    ${c.gemm.gflops.toFixed(2)} GFLOP/s  (f32, ${c.gemm.size}^3, tile ${c.gemm.tile}, ${c.method})`);
        console.log(`copy bandwidth  ${c.copy.gbps.toFixed(2)} GB/s  (read + write of ${c.copy.mib} MiB, ${c.copy.variant}, ${c.method})`);
        console.log(`cached in       ${ctx.tuning.path}`);
      } finally {
        ctx.destroy();
      }
      return;
    }

    // a model: bundled by name, or any by --arch/--weights
    check(!args.model || (!args.arch && !args.weights), () => '--model names a bundled model; give either it or --arch and --weights');
    check(!!args.arch === !!args.weights, () => '--arch and --weights go together');
    const b = args.arch ? { arch: args.arch, weights: args.weights! } : BUNDLED[args.model ?? 'cnn']!;
    check(existsSync(b.weights), () => `weights ${b.weights} not found`);
    const model = loadModel(b.arch, b.weights, { heads: args.heads });
    const side = args.size ?? model.inputSize ?? 224;
    check(Number.isInteger(side) && side >= 1, () => `--size must be a positive integer, got ${args.size}`);
    if (args.what === 'tiles') {
      const l = await listTiles(model, side, args);
      console.log(args.json ? JSON.stringify(l, null, 1) : formatTiles(l));
      return;
    }
    const forced = parseForcedTiles(args.tile);
    const ctx = await GpuContext.open({ ...args, tune: args.tune || args.what === 'tune' });
    ctx.tuning.quick = !!args.quick;
    forceTiles(ctx, forced);
    try {
      const shape = { c: model.inChannels, h: side, w: side };
      const net = model.build(ctx, shape);
      const bn = new BatchedNetwork(ctx, net, { masks: args.masks, examples: args.examples });
      log(`adapter: ${ctx.gpu.description}; ${b.arch} ${side}x${side}, ${args.masks} masks x ${args.examples} examples per batch, precision ${ctx.precision}`);
      const tuned = await tunePendingLogged(ctx, bn, log);
      if (args.what === 'tune') {
        if (!tuned) log('every shape class is in the cache (rebuild with --retune)');
        console.log(`tuning cache: ${ctx.tuning.path}`);
        bn.destroy(); net.destroy();
        return;
      }
      // random inputs and masks
      const n = args.examples;
      const images = new Float32Array(n * shape.c * side * side).map(() => Math.random() * 2 - 1);
      const input = new Float32Array(inputShapeElems(net) * n);
      toDeviceLayout(net, images, 0, n, input);
      const labels = new Uint32Array(n).map((_, i) => i % model.classes);
      const bits = packMasks(generateMasks(1, args.alpha, 0, args.masks, model.components.size), model.components.size, 0, args.masks);
      log('warm-up pass (compiles the pipelines)');
      let t0 = performance.now();
      await bn.run(input, labels, bits);
      log(`  ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      let best = Infinity;
      for (let r = 0; r < args.repeats; r++) {
        t0 = performance.now();
        await bn.run(input, labels, bits);
        best = Math.min(best, (performance.now() - t0) / 1000);
      }
      const passes = args.masks * n;
      const flops = networkFlops(net);
      let ceil: Pick<Ceiling, 'gemm' | 'copy'> | undefined = args.ceiling ? await ceiling(ctx, args, log) : cachedCeiling(ctx);
      if (!ceil) {
        log('no ceiling cached for this adapter: measuring a quick one (run `coar bench ceiling` for the full search)');
        ceil = await ceiling(ctx, { ...args, quick: true }, log);
      }
      const prof = await profileNetwork(ctx, bn, ceil, args.repeats);
      const rate = passes / best;
      const ideal = (ceil.gemm.gflops * 1e9) / flops;
      // a ceiling measured while the machine was busy reads low, and every % above it is wrong
      const over = Math.max(rate / ideal, ...prof.kernels.map((k) => k.ofCeiling ?? 0));
      if (!args.ceiling && over > 1.5) {
        const date = ctx.tuning.get(CEILING_KEY)?.date;
        process.stderr.write(`coar: warning: kernels run at up to ${over.toFixed(1)}x the cached ceiling${date ? ` (measured ${date})` : ''}: it was probably ` +
          'measured under load; measure it again with `coar bench ceiling` (or add --ceiling) before reading the % columns\n');
      }
      const file: ProfileFile = {
        format: PROFILE_FORMAT, date: new Date().toISOString(), adapter: ctx.gpu.description, arch: b.arch, size: side, masks: args.masks, examples: n,
        precision: ctx.precision, flopsPerPass: flops, passesPerSecond: rate, ofCeiling: rate / ideal, ceiling: { gemm: ceil.gemm, copy: ceil.copy }, repeats: args.repeats, profile: prof,
      };
      if (args.out) { writeFileAtomic(args.out, [Buffer.from(profileJson(file), 'utf8')]); log(`profile: ${args.out}`); }
      if (args.html) { writeRooflinePage(args.html, { profile: file, name: args.out ?? `${b.arch} ${side}x${side}` }); log(`roofline page: ${args.html}`); }
      if (args.trace) { writeTrace(args.trace, profileTrace(file)); log(`trace: ${args.trace} (open it in https://ui.perfetto.dev or chrome://tracing)`); }
      if (args.json) {
        console.log(profileJson(file));
      } else {
        console.log(`adapter: ${ctx.gpu.description}`);
        console.log(`ceilings: GEMM ${ceil.gemm.gflops.toFixed(2)} GFLOP/s, copy ${ceil.copy.gbps.toFixed(2)} GB/s`);
        console.log(`${b.arch} ${side}x${side}, ${(flops / 1e6).toFixed(1)} MFLOP per pass, ${args.masks} masks x ${n} examples, ${ctx.precision}: ` +
          `${rate.toFixed(2)} passes/s end to end = ${((rate * flops) / 1e9).toFixed(2)} GFLOP/s = ${((100 * rate) / ideal).toFixed(1)}% of ceiling / model FLOPs (${ideal.toFixed(1)} passes/s)`);
        console.log(`per kernel (${prof.method} timing, best of ${args.repeats}):`);
        console.log(formatProfile(prof));
      }
      bn.destroy();
      net.destroy();
    } finally {
      ctx.destroy();
    }
  },
};

/**
 * The options `add` gives bench stay bench's: a subcommand (`bench compare`) neither lists nor
 * accepts them (yargs options are global by default). The CLI's own (--help, --verbose) stay global.
 */
function ownOptions<T, U>(y: Argv<T>, add: (y: Argv<T>) => Argv<U>): Argv<U> {
  const keys = (z: unknown) => Object.keys((z as { getOptions(): { key: Record<string, unknown> } }).getOptions().key);
  const before = new Set(keys(y));
  const out = add(y);
  // yargs takes global(keys, false) at run time; its types only know the one-argument form
  return (out.global as unknown as (this: Argv<U>, k: string[], g: boolean) => Argv<U>).call(out, keys(out).filter((k) => !before.has(k)), false);
}

async function tunePendingLogged(ctx: GpuContext, bn: BatchedNetwork, log: (s: string) => void): Promise<boolean> {
  let any = false;
  if (ctx.tuning.mode === 'cached') return false;
  log(`tuning tiles on this adapter (cache ${ctx.tuning.path})`);
  await bn.tune((r, i, total) => {
    any = true;
    log(`  [${i}/${total}] ${r.key}: ${JSON.stringify(r.choice)} ${(r.seconds * 1e3).toFixed(2)} ms (default ${(r.defaultSeconds * 1e3).toFixed(2)} ms, ${r.candidates} candidates)`);
  }, (key, choice, s) => log(`    ${key} ${JSON.stringify(choice)}: ${Number.isFinite(s) ? `${(s * 1e3).toFixed(2)} ms` : 'not compiled'}`));
  return any;
}

