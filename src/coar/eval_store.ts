/**
 * `coar eval` on fresh masks as a library stage: the store's model (hash checked), its
 * examples, fresh masks at each α from the sweep's seed, the correlations (eval.ts), and
 * eval.json with the margins beside it. Lines and progress go to the caller's callbacks.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Ablator } from './ablate.js';
import { evaluate, type AlphaEval } from './eval.js';
import { loadExamples, sha256File } from './examples.js';
import { defaultMemoryBytes } from './fit/cost.js';
import { openAttributions } from './results.js';
import type { SweepManifest } from './store_manifest.js';
import { UserError } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import { writeFileAtomic } from '../io/atomic.js';
import { writeNpy } from '../io/npy.js';
import { loadModel, type Model } from '../models/index.js';

/** The model a store was made with, refusing weights whose hash differs. */
export function storeModel(manifest: SweepManifest, weights?: string): Model {
  const path = weights ?? manifest.model.weights;
  if (!existsSync(path)) throw new UserError(`weights ${path} (from the store's manifest) not found; give --weights`);
  const sha = sha256File(path);
  if (sha !== manifest.model.sha256) throw new UserError(`${path} is not the model this store was made with (sha256 ${sha.slice(0, 12)}…, the store's is ${manifest.model.sha256.slice(0, 12)}…)`);
  return loadModel(manifest.model.arch, path);
}

/** α/2, α and 2α (at most 0.99): the reference's evaluation around the sweep's α. */
export const defaultEvalAlphas = (alpha: number): number[] => [alpha / 2, alpha, Math.min(0.99, 2 * alpha)];

export interface EvalOptions {
  /** fresh masks per α */
  masks: number;
  alphas: number[];
  /** bound on host memory for the predicted margins' blocks (default: fit/cost.ts's) */
  memoryBytes?: number;
}

export interface EvalCallbacks {
  /** one line of what the evaluation is doing */
  log?: (line: string) => void;
  /** the ablated passes begin: `passes` to do; returns what follows them */
  progress?: (passes: number) => { update(passesDone: number): void; stop(): void };
}

/** Evaluate the attributions in `attrDir` on fresh masks of the store's model and examples. */
export async function evalStore(ctx: GpuContext, manifest: SweepManifest, model: Model, attrDir: string, o: EvalOptions, cb: EvalCallbacks = {}): Promise<AlphaEval[]> {
  const ex = await loadExamples(manifest.data, model, { indices: manifest.examples });
  const attr = openAttributions(attrDir, model.components.size, ex.shape.n);
  const net = model.build(ctx, ex.shape);
  const ablator = new Ablator(ctx, net, ex.inputs, ex.labels, Math.min(o.masks, 64));
  const passes = o.alphas.length * o.masks * ex.shape.n;
  cb.log?.(`${o.masks} fresh masks at alpha ${o.alphas.map((a) => +a.toFixed(4)).join(', ')} x ${ex.shape.n} examples`);
  const bar = cb.progress?.(passes);
  const t0 = performance.now();
  try {
    const chunkBytes = Math.min(256 << 20, (o.memoryBytes ?? defaultMemoryBytes()) / 2);
    const results = await evaluate(ablator, attr.attributions, attr.bias, { seed: manifest.seed, alphas: o.alphas, masks: o.masks, chunkBytes }, (d) => bar?.update(d));
    bar?.stop();
    const s = (performance.now() - t0) / 1000;
    cb.log?.(`done in ${s.toFixed(1)} s (${(passes / s).toFixed(1)} ablated passes/s)`);
    return results;
  } finally {
    bar?.stop();
    ablator.destroy();
    net.destroy();
    attr.close();
    ex.inputs.close?.();
  }
}

/** eval.json (what the report reads) and each α's true and predicted margins [masks, n]. */
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

/** The evaluation as `--json` prints it: one record per α. */
export function evalSummary(results: AlphaEval[]) {
  return results.map((r) => ({ alpha: r.alpha, masks: r.masks, ...r.summary }));
}
