/**
 * `coar curve` as a library stage: the held-out correlation against the number of training
 * masks for every estimator (curve.ts), from a training store and a held-out store, or from
 * two sweeps made (and resumed) here first. Writes the points, curve.json and the page the
 * caller renders; lines and each finished point go to the caller's callbacks.
 */
import { join, resolve } from 'node:path';
import { curveSizes, headline, runCurve, type CurveData, type CurvePoint, type Headline } from './curve.js';
import type { EstimatorName, EstimatorOptions } from './estimators/index.js';
import type { DataSpec } from './examples.js';
import { defaultMemoryBytes } from './fit/cost.js';
import { checkScorable } from './score.js';
import { openStore, type StoreReader } from './store.js';
import type { SweepManifest } from './store_manifest.js';
import { sweepStore, type SweepCallbacks } from './sweep.js';
import { check } from '../errors.js';
import { GpuContext } from '../gpu/context.js';
import type { GpuOptions } from '../gpu/device.js';
import { writeFileAtomic } from '../io/atomic.js';
import { BUNDLED } from '../models/bundled.js';
import { loadModel } from '../models/index.js';

/** Two stores to sweep first: the training store at `seed`, the held-out store at seed + 1. */
export interface CurveSweep {
  /** names the default output folder, out/curve-<name> */
  name: string;
  arch: string;
  weights: string;
  data: DataSpec;
  /** the first `count` examples of the source (default: all) */
  count?: number;
  alpha: number;
  seed: number;
  /** masks of the held-out store */
  heldoutMasks: number;
}

export interface CurveOptions {
  /** the stores, or the sweeps that make them */
  stores: { train: string; heldout: string } | { sweep: CurveSweep };
  /** output folder (default: out/curve-<name> when sweeping, else the training store's curve/) */
  out?: string;
  estimators: EstimatorName[];
  /** smallest m (default |C|/8) */
  minMasks?: number;
  /** largest m (default 8 |C|, at most the training rows) */
  maxMasks?: number;
  /** share of each point's training rows held out to choose hyperparameters */
  valFrac: number;
  estimatorOptions: EstimatorOptions;
  /** <split>_margins.npy in both stores */
  split?: string;
  /** bound on the memory scoring a point takes (default: fit/cost.ts's) */
  memoryBytes?: number;
  /** fit nothing: the points already in `out` (a curve cut short) */
  keptOnly?: boolean;
  /** the adapter the points are fitted on; the sweeps use its backend and adapter */
  gpu?: GpuOptions;
  /** the page written as curve.html (the report's; default: none) */
  page?: (curve: CurveResult & { title: string }) => string;
}

export interface CurveCallbacks {
  /** one line of what the curve is doing */
  log?: (line: string) => void;
  /** the sweeps' own lines and progress */
  sweep?: SweepCallbacks;
  /** a point is ready: fitted now (`fresh`) or kept from an earlier run */
  point?: (p: CurvePoint, fresh: boolean) => void;
}

/** curve.json. */
export interface CurveResult {
  train: string; heldout: string; components: number; examples: number; heldoutMasks: number;
  alpha: number | null; model: SweepManifest['model'] | null; valFrac: number; options: EstimatorOptions; sizes: number[]; estimators: string[];
  headline: Headline; points: CurvePoint[];
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

/** Sweep both stores (resuming what is there); returns their folders. */
async function sweepBoth(s: CurveSweep, out: string, o: CurveOptions, cb: CurveCallbacks): Promise<{ trainDir: string; heldDir: string }> {
  const trainDir = join(out, 'train'), heldDir = join(out, 'heldout');
  check(Number.isInteger(s.heldoutMasks) && s.heldoutMasks >= 3, () => `--heldout-masks must be an integer >= 3, got ${s.heldoutMasks}`);
  const C = loadModel(s.arch, s.weights).components.size;
  const maxMasks = o.maxMasks ?? 8 * C;
  const common = { arch: s.arch, weights: s.weights, gpu: { backend: o.gpu?.backend, adapter: o.gpu?.adapter }, alpha: s.alpha, data: s.data, select: { count: s.count } };
  cb.log?.(`held-out store ${heldDir}: ${s.heldoutMasks} masks, seed ${s.seed + 1}`);
  await sweepStore({ ...common, masks: s.heldoutMasks, seed: s.seed + 1, out: heldDir }, cb.sweep);
  cb.log?.(`training store ${trainDir}: ${maxMasks} masks, seed ${s.seed}`);
  await sweepStore({ ...common, masks: maxMasks, seed: s.seed, out: trainDir }, cb.sweep);
  return { trainDir, heldDir };
}

/** Fit and score every point not already in the output folder; write curve.json and the page. */
export async function curveStores(o: CurveOptions, cb: CurveCallbacks = {}): Promise<CurveResult & { out: string }> {
  const log = (s: string) => cb.log?.(s);
  const memoryBytes = o.memoryBytes ?? defaultMemoryBytes();
  let trainDir: string, heldDir: string, out: string;
  if ('sweep' in o.stores) {
    out = resolve(o.out ?? join('out', `curve-${o.stores.sweep.name}`));
    ({ trainDir, heldDir } = await sweepBoth(o.stores.sweep, out, o, cb));
  } else {
    trainDir = resolve(o.stores.train);
    heldDir = resolve(o.stores.heldout);
    out = resolve(o.out ?? join(trainDir, 'curve'));
  }
  check(trainDir !== heldDir, () => 'the held-out store must not be the training store');
  const opts = o.estimatorOptions;
  // both stores stay open for the run: each point reads its training rows, and the held-out store to score it
  const train = openStore(trainDir, { split: o.split });
  let held: StoreReader | undefined;
  let data: CurveData, sizes: number[];
  let points: CurvePoint[];
  try {
    held = openStore(heldDir, { split: o.split });
    checkPair(train, held);
    check(held.usedRows.length === held.rows, () => `the held-out store ${heldDir} has ${held!.usedRows.length} of ${held!.rows} rows completed: finish its sweep first`);
    const prefix = completedPrefix(train);
    const C = train.components;
    sizes = curveSizes(C, prefix, o.minMasks ?? C / 8, o.maxMasks ?? 8 * C);
    check(sizes.length > 0, () => `the training store ${trainDir} has ${prefix} completed rows from row 0: too few for a curve (at least 4)`);
    const want = o.maxMasks ?? 8 * C;
    if (prefix < want) log(`the training store has ${prefix} completed rows from row 0: the curve stops at m = ${sizes[sizes.length - 1]} instead of ${want}`);
    // bad rows are refused before any fit: the training rows the curve uses, and every held-out row
    const trainRows = Array.from({ length: sizes[sizes.length - 1]! }, (_, i) => i);
    checkScorable({ ...train, usedRows: trainRows }, memoryBytes);
    checkScorable(held, memoryBytes);
    data = { train, heldout: held, components: C, examples: train.examples, memoryBytes };
    const id = (s: StoreReader) => ({ dir: s.dir, rows: s.rows, manifest: s.manifest ? { seed: s.manifest.seed, alpha: s.manifest.alpha, sha256: (s.manifest as Partial<SweepManifest>).model?.sha256 ?? null } : null });
    const key = { train: id(train), heldout: id(held), heldoutRows: held.usedRows.length, valFrac: o.valFrac, estimators: opts };
    log(`${o.estimators.join(', ')} at m = ${sizes.join(', ')}; ${held.usedRows.length} held-out masks, ${data.examples} examples, ${data.components} components`);
    const ctx = await GpuContext.open(o.gpu);
    try {
      points = await runCurve(ctx, data, out, { sizes, estimators: o.estimators, key, keptOnly: o.keptOnly }, opts, cb.point);
    } finally {
      ctx.destroy();
    }
  } finally { held?.close(); train.close(); }
  check(points.length > 0, () => `--kept-only: ${join(out, 'points')} holds no points for these estimators and sizes; run without --kept-only first`);
  const manifest = train.manifest as Partial<SweepManifest> | null;
  const result: CurveResult = {
    train: trainDir, heldout: heldDir, components: data.components, examples: data.examples, heldoutMasks: data.heldout.usedRows.length,
    alpha: manifest?.alpha ?? null, model: manifest?.model ?? null, valFrac: o.valFrac, options: opts, sizes, estimators: o.estimators,
    headline: headline(points, o.estimators), points,
  };
  writeFileAtomic(join(out, 'curve.json'), [new TextEncoder().encode(JSON.stringify(result, null, 1) + '\n')]);
  const bundled = Object.entries(BUNDLED).find(([, b]) => manifest?.model && resolve(b.weights) === resolve(manifest.model.weights))?.[0];
  const title = bundled ? `Estimators on ${bundled === 'cnn' ? 'the bundled CNN' : 'the bundled ViT'}`
    : `Estimators on ${manifest?.model ? `${manifest.model.arch} (${manifest.model.weights})` : trainDir}`;
  if (o.page) writeFileAtomic(join(out, 'curve.html'), [Buffer.from(o.page({ title, ...result }), 'utf8')]);
  return { ...result, out };
}
