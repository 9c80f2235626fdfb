import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CommandModule } from 'yargs';
import { Ablator } from '../../coar/ablate.js';
import { evaluate, type AlphaEval } from '../../coar/eval.js';
import { loadExamples, sha256File } from '../../coar/examples.js';
import { defaultMemoryBytes } from '../../coar/fit/cost.js';
import { openAttributions } from '../../coar/results.js';
import { blockBytesFor, scoreChunkExamples, scoreStore, type StoreScore } from '../../coar/score.js';
import { openStore } from '../../coar/store.js';
import { readManifest, type SweepManifest } from '../../coar/store_manifest.js';
import { check, UserError } from '../../errors.js';
import { GpuContext } from '../../gpu/context.js';
import type { GpuArgs } from '../options.js';
import { gpuOptions } from '../options.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { writeNpy } from '../../io/npy.js';
import { loadModel, type Model } from '../../models/index.js';
import { progressBar } from '../progress.js';

interface EvalArgs extends GpuArgs { store: string; attributions?: string; masks: number; alphas?: string; weights?: string; out?: string; quiet?: boolean; json?: boolean; heldout?: string; memory?: number; split?: string }

/** The model a store was made with, refusing weights whose hash differs. */
export function storeModel(manifest: SweepManifest, weights?: string): Model {
  const path = weights ?? manifest.model.weights;
  if (!existsSync(path)) throw new UserError(`weights ${path} (from the store's manifest) not found; give --weights`);
  const sha = sha256File(path);
  if (sha !== manifest.model.sha256) throw new UserError(`${path} is not the model this store was made with (sha256 ${sha.slice(0, 12)}…, the store's is ${manifest.model.sha256.slice(0, 12)}…)`);
  return loadModel(manifest.model.arch, path);
}

export async function runEval(ctx: GpuContext, manifest: SweepManifest, model: Model, attrDir: string, opts: { masks: number; alphas: number[]; quiet?: boolean; memoryBytes?: number }): Promise<AlphaEval[]> {
  const ex = await loadExamples(manifest.data, model, { indices: manifest.examples });
  const attr = openAttributions(attrDir, model.components.size, ex.shape.n);
  const net = model.build(ctx, ex.shape);
  const ablator = new Ablator(ctx, net, ex.inputs, ex.labels, Math.min(opts.masks, 64));
  const log = (s: string) => { if (!opts.quiet) process.stderr.write(`eval: ${s}\n`); };
  log(`${opts.masks} fresh masks at alpha ${opts.alphas.map((a) => +a.toFixed(4)).join(', ')} x ${ex.shape.n} examples`);
  const bar = progressBar('eval', opts.alphas.length * opts.masks * ex.shape.n, 'passes', opts.quiet);
  const t0 = performance.now();
  try {
    const chunkBytes = Math.min(256 << 20, (opts.memoryBytes ?? defaultMemoryBytes()) / 2);
    const results = await evaluate(ablator, attr.attributions, attr.bias, { seed: manifest.seed, alphas: opts.alphas, masks: opts.masks, chunkBytes }, (d) => bar.update(d));
    bar.stop();
    const s = (performance.now() - t0) / 1000;
    log(`done in ${s.toFixed(1)} s (${((opts.alphas.length * opts.masks * ex.shape.n) / s).toFixed(1)} ablated passes/s)`);
    return results;
  } finally {
    bar.stop();
    ablator.destroy();
    net.destroy();
    attr.close();
  }
}

/** What `coar eval --heldout` writes: the attributions scored on a held-out store's masks. */
export interface HeldoutEval extends StoreScore { heldout: string; alpha: number | null; seed: number | null }

/**
 * Score the attributions in `attrDir` on the held-out store's masks and margins: no model and
 * no GPU, streamed in example chunks under `memoryBytes` (src/coar/score.ts).
 */
export function runHeldoutEval(storeDir: string, heldoutDir: string, attrDir: string, opts: { memoryBytes: number; split?: string; quiet?: boolean }): HeldoutEval {
  const held = openStore(heldoutDir, { split: opts.split });
  try {
    if (resolve(storeDir) !== resolve(heldoutDir) && existsSync(join(storeDir, 'manifest.json'))) {
      const a = JSON.parse(readFileSync(join(storeDir, 'manifest.json'), 'utf8')) as Partial<SweepManifest>;
      const b = (held.manifest ?? {}) as Partial<SweepManifest>;
      check(a.seed === undefined || b.seed === undefined || a.seed !== b.seed,
        () => `the held-out store has the training store's seed (${a.seed}): its masks are the training masks; sweep it with another --seed`);
    }
    const attr = openAttributions(attrDir, held.components, held.examples, blockBytesFor(opts.memoryBytes));
    try {
      const log = (s: string) => { if (!opts.quiet) process.stderr.write(`eval: ${s}\n`); };
      const w = scoreChunkExamples(held.usedRows.length, held.components, held.examples, opts.memoryBytes);
      log(`${held.usedRows.length} held-out masks of ${heldoutDir} x ${held.examples} examples, ${w} examples at a time (--memory ${(opts.memoryBytes / 2 ** 30).toFixed(3)} GB)`);
      const bar = progressBar('eval', held.examples, 'examples', opts.quiet);
      const t0 = performance.now();
      try {
        const r = scoreStore(held, attr.attributions, attr.bias, { memoryBytes: opts.memoryBytes, onProgress: (d) => bar.update(d) });
        bar.stop();
        log(`done in ${((performance.now() - t0) / 1000).toFixed(1)} s (${r.chunks} chunk${r.chunks > 1 ? 's' : ''})`);
        const m = (held.manifest ?? {}) as Partial<SweepManifest>;
        return { ...r, heldout: resolve(heldoutDir), alpha: m.alpha ?? null, seed: m.seed ?? null };
      } finally { bar.stop(); }
    } finally { attr.close(); }
  } finally { held.close(); }
}

/** heldout_eval.json (eval.json stays the fresh-mask evaluation the report reads). */
export function writeHeldoutEval(dir: string, r: HeldoutEval): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'heldout_eval.json');
  const json = { heldout: r.heldout, alpha: r.alpha, seed: r.seed, masks: r.masks, chunkExamples: r.chunkExamples, chunks: r.chunks, ...r.summary, pearson: [...r.pearson], spearman: [...r.spearman] };
  writeFileAtomic(path, [new TextEncoder().encode(JSON.stringify(json, null, 1) + '\n')]);
  return path;
}

export function writeEval(dir: string, results: AlphaEval[]): void {
  mkdirSync(dir, { recursive: true });
  const n = results[0]!.pearson.length;
  results.forEach((r, i) => {
    writeNpy(join(dir, `eval_${i}_true.npy`), 'f4', [r.masks, n], r.trueMargins);
    writeNpy(join(dir, `eval_${i}_predicted.npy`), 'f4', [r.masks, n], r.predicted);
  });
  const json = results.map((r, i) => ({ alpha: r.alpha, seed: r.seed, masks: r.masks, files: [`eval_${i}_true.npy`, `eval_${i}_predicted.npy`], ...r.summary, pearson: [...r.pearson], spearman: [...r.spearman] }));
  writeFileAtomic(join(dir, 'eval.json'), [new TextEncoder().encode(JSON.stringify(json, null, 1) + '\n')]);
}

/** The evaluation as `--json` prints it: one record per alpha. */
export function evalSummary(results: AlphaEval[]) {
  return results.map((r) => ({ alpha: r.alpha, masks: r.masks, ...r.summary }));
}

export function printEval(results: Pick<AlphaEval, 'alpha' | 'masks' | 'summary'>[]): void {
  console.log('alpha    masks  pearson mean  median   spearman mean  median');
  for (const r of results) {
    const s = r.summary;
    console.log(`${r.alpha.toFixed(4).padEnd(8)} ${String(r.masks).padStart(5)}  ${s.pearsonMean.toFixed(3).padStart(12)}  ${s.pearsonMedian.toFixed(3).padStart(6)}   ${s.spearmanMean.toFixed(3).padStart(13)}  ${s.spearmanMedian.toFixed(3).padStart(6)}`);
  }
}

export const evalCommand: CommandModule<{}, EvalArgs> = {
  command: 'eval <store>',
  describe: 'correlate predicted and true margins on fresh masks at alpha/2, alpha, 2 alpha',
  builder: (y) => gpuOptions(y)
    .positional('store', { type: 'string', demandOption: true, describe: 'a sweep store (with manifest.json)' })
    .option('attributions', { type: 'string', describe: 'folder with attributions.npy and bias.npy (default: the store)' })
    .option('masks', { type: 'number', default: 100, describe: 'fresh masks per alpha' })
    .option('alphas', { type: 'string', describe: 'comma-separated alphas (default: alpha/2, alpha, 2 alpha of the sweep)' })
    .option('weights', { type: 'string', describe: "the model's weights, if moved since the sweep (hash checked)" })
    .option('out', { type: 'string', describe: 'where to write eval.json and the margins (default: the attributions folder)' })
    .option('heldout', { type: 'string', describe: 'score on this held-out store\'s masks and margins instead (no model, no GPU; writes heldout_eval.json)' })
    .option('split', { type: 'string', describe: 'with --heldout: use <split>_margins.npy of the held-out store' })
    .option('memory', { type: 'number', describe: 'bound on host memory in GB for reading the attributions and the held-out store (default: half the machine\'s)' })
    .option('json', { type: 'boolean', describe: 'print one JSON summary on stdout instead of the table' })
    .option('quiet', { type: 'boolean' }) as any,
  handler: async (args) => {
    check(args.memory === undefined || args.memory > 0, () => `--memory must be > 0 GB, got ${args.memory}`);
    const memoryBytes = args.memory === undefined ? defaultMemoryBytes() : args.memory * 2 ** 30;
    if (args.heldout !== undefined) {
      const attrDir = args.attributions ?? args.store;
      const r = runHeldoutEval(args.store, args.heldout, attrDir, { memoryBytes, split: args.split, quiet: args.quiet });
      const path = writeHeldoutEval(args.out ?? attrDir, r);
      if (args.json) console.log(JSON.stringify({ command: 'eval', store: args.store, heldout: r.heldout, out: path, eval: [{ alpha: r.alpha, masks: r.masks, ...r.summary }] }));
      else printEval([{ alpha: r.alpha ?? NaN, masks: r.masks, summary: r.summary }]);
      return;
    }
    const manifest = readManifest(args.store);
    check(Number.isInteger(args.masks) && args.masks >= 3, () => `--masks must be an integer >= 3, got ${args.masks}`);
    const alphas = args.alphas ? args.alphas.split(',').map(Number) : [manifest.alpha / 2, manifest.alpha, Math.min(0.99, 2 * manifest.alpha)];
    for (const a of alphas) check(a > 0 && a < 1, () => `--alphas: each alpha must be in (0, 1), got ${a}`);
    const model = storeModel(manifest, args.weights);
    const attrDir = args.attributions ?? args.store;
    const ctx = await GpuContext.open(args);
    try {
      const results = await runEval(ctx, manifest, model, attrDir, { masks: args.masks, alphas, quiet: args.quiet, memoryBytes });
      const out = args.out ?? attrDir;
      writeEval(out, results);
      if (args.json) console.log(JSON.stringify({ command: 'eval', store: args.store, out, eval: evalSummary(results) }));
      else printEval(results);
    } finally {
      ctx.destroy();
    }
  },
};
