/**
 * Accuracy against cost: for each estimator and each number of training masks m, fit on the
 * first m rows of a training store (nested: the rows of a small m are a prefix of those of a
 * larger one) and score on the masks of a separate held-out store (fresh masks at the same
 * α, another seed): per example, the Pearson and Spearman correlation between the true
 * margins and the margins the attributions predict (REFERENCE.md, "Evaluation").
 *
 * Every estimator fits from the training rows alone and is scored on the same held-out
 * masks; nothing fitted is shared between estimators or sizes, and the held-out store is
 * read only after a fit, to score it. Points are written one file each as they finish, so
 * an interrupted curve resumes where it stopped.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import { writeFileAtomic } from '../io/atomic.js';
import { NpyFile, readNpy, writeNpy } from '../io/npy.js';
import { ESTIMATOR_TABLE, fitEstimator, regressionDetails, type EstimatorName, type EstimatorOptions } from './estimators/index.js';
import { DiskLedger } from './fit/chunks.js';
import { chunkGrid } from './fit/regression.js';
import { checkFinite, fileTargets, inMemoryTargets } from './fit/targets.js';
import { packMasks } from './fit_masks.js';
import { blockBytesFor, scoreStore } from './score.js';
import { readMargins, readMaskRows, type StoreReader } from './store.js';

/** m from |C| / 8 to 8 |C| in half-octave steps (13 sizes), capped at `available` rows. */
export function curveSizes(components: number, available: number, lo = components / 8, hi = 8 * components): number[] {
  const sizes: number[] = [];
  for (let k = 0; ; k++) {
    const m = Math.round(lo * 2 ** (k / 2));
    if (m > Math.min(hi, available) + 1e-9) break;
    if (m >= 4 && sizes[sizes.length - 1] !== m) sizes.push(m);
  }
  const top = Math.min(Math.round(hi), available);
  // a last step that only rounding separates from the top (e.g. 5,068 and 5,069) is the top
  if (sizes.length && top >= 4 && Math.abs(sizes[sizes.length - 1]! - top) <= 0.01 * top) sizes.pop();
  if (sizes[sizes.length - 1] !== top && top >= 4) sizes.push(top);
  return sizes;
}

export interface CurveData {
  /** the training store: the point at m reads its first m rows (packed masks and margins) when it is fitted */
  train: StoreReader;
  /** the held-out store, read only to score fits, streamed (score.ts) */
  heldout: StoreReader;
  components: number;
  examples: number;
  /**
   * bound on the memory that scoring a point takes, and that ols / ridge / lasso size their
   * example chunks by: their attributions go to disk a chunk at a time and are scored from there
   * (extracted and shared read the point's margins whole and hold its attributions, 4 |C| n bytes)
   */
  memoryBytes: number;
}

/** A point's attributions and bias, kept beside its record. */
export const attributionPaths = (dir: string, estimator: string, m: number) => ({
  attributions: join(dir, 'points', `${estimator}-${m}.attributions.npy`), bias: join(dir, 'points', `${estimator}-${m}.bias.npy`),
});

export interface CurvePoint {
  estimator: EstimatorName;
  masks: number;
  seconds: number;
  /** per example, on the held-out masks */
  pearson: number[];
  spearman: number[];
  summary: Summary;
  details: Record<string, unknown>;
  /** sha256 of the attributions and bias (float32 bytes): equal fits, equal fingerprints */
  fingerprint: string;
}

export interface Summary { pearsonMean: number; pearsonSd: number; pearsonQ25: number; pearsonQ75: number; spearmanMean: number; spearmanSd: number }

function quantile(sorted: number[], q: number): number {
  if (!sorted.length) return NaN;
  const i = q * (sorted.length - 1), lo = Math.floor(i), hi = Math.ceil(i);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (i - lo);
}

export function summarize(pearson: number[], spearman: number[]): Summary {
  const stats = (xs: number[]) => {
    const v = xs.filter(Number.isFinite);
    const mean = v.reduce((a, x) => a + x, 0) / v.length;
    const sd = Math.sqrt(v.reduce((a, x) => a + (x - mean) ** 2, 0) / Math.max(1, v.length - 1));
    return { mean, sd, sorted: v.sort((a, b) => a - b) };
  };
  const p = stats(pearson), s = stats(spearman);
  return { pearsonMean: p.mean, pearsonSd: p.sd, pearsonQ25: quantile(p.sorted, 0.25), pearsonQ75: quantile(p.sorted, 0.75), spearmanMean: s.mean, spearmanSd: s.sd };
}

/** sha256 of the attributions' and bias's float32 bytes, read from their .npy files in blocks: equal fits, equal fingerprints. */
function fileFingerprint(files: string[], blockBytes: number): string {
  const h = createHash('sha256');
  for (const path of files) {
    const f = NpyFile.open(path);
    try {
      const per = Math.max(1, Math.floor(blockBytes / (4 * f.rowElems)));
      for (let r = 0; r < f.rows; r += per) h.update(f.readRowBytes(r, Math.min(f.rows, r + per)));
    } finally { f.close(); }
  }
  return h.digest('hex');
}

/**
 * Fit one estimator on the first m training rows, write its attributions and bias (at
 * attributionPaths in `dir`), and score them on the held-out masks. ols / ridge / lasso solve in
 * chunks of examples kept on disk (`points/<estimator>-<m>.work`, so an interrupted point resumes
 * at its first unsolved chunk), are assembled by rows and scored from the file: a point's memory
 * is bounded by --memory whatever n is.
 */
export async function curvePoint(ctx: GpuContext, data: CurveData, dir: string, estimator: EstimatorName, m: number, opts: EstimatorOptions): Promise<CurvePoint> {
  const { components: C, examples: n } = data;
  if (m > data.train.rows) throw new UserError(`the training store has ${data.train.rows} rows, the curve asks for m = ${m}`);
  const started = performance.now();
  // the first m rows, read for this point alone: packed bits (1/8 of the mask bytes) and the margins the estimator needs
  const rows = Array.from({ length: m }, (_, i) => i);
  const packed = packMasks((s, e) => readMaskRows(data.train, s, e), rows, C);
  const files = attributionPaths(dir, estimator, m);
  const block = blockBytesFor(data.memoryBytes);
  const regression = { memoryBytes: data.memoryBytes, ...opts.regression };
  let details: Record<string, unknown>;
  let bias: Float32Array;
  if (ESTIMATOR_TABLE[estimator].separable) {
    // ols / ridge / lasso fit each example on its own: the margins are streamed from the store a
    // chunk of examples at a time, the chunk sized by --memory (fit/cost.ts memoryModel)
    checkFinite(data.train.margins, rows, block);
    const work = join(dir, 'points', `${estimator}-${m}.work`);
    const ledger = new DiskLedger(work, C, { estimator, masks: m });
    const r = await ESTIMATOR_TABLE[estimator].fit(ctx, packed, fileTargets(data.train.margins, rows, block), [0, n], ledger, { ...opts, regression });
    const chunks = chunkGrid(0, n, r.chunkExamples as number);
    ledger.assemble(work, chunks, block, files);
    details = regressionDetails(r, ledger.lambdas(chunks));
    rmSync(work, { recursive: true, force: true });
    bias = readNpy(files.bias).data as Float32Array;
  } else {
    // extracted and shared learn from all examples at once (one network over every example; one
    // prior pooled over them), so they read the margins whole: 4 m n bytes plus what each holds
    const fit = await fitEstimator(ctx, estimator, packed, inMemoryTargets(readMargins(data.train, rows), m, n), n, { ...opts, regression });
    writeNpy(files.attributions, 'f4', [C, n], fit.attributions);
    writeNpy(files.bias, 'f4', [n], fit.bias);
    details = fit.details;
    bias = fit.bias;
  }
  const seconds = (performance.now() - started) / 1000;
  const attributions = NpyFile.open(files.attributions);
  let c;
  try {
    // a chunk of examples at a time, each component row's slice alone: the file is read once in all
    const columns = { rows: C, examples: n, columns: (c0: number, c1: number) => attributions.readFloatColumns(0, C, c0, c1) };
    c = scoreStore(data.heldout, columns, bias, { memoryBytes: data.memoryBytes });
  } finally { attributions.close(); }
  const pearson = [...c.pearson], spearman = [...c.spearman];
  return {
    estimator, masks: m, seconds, pearson, spearman, summary: summarize(pearson, spearman), details,
    fingerprint: fileFingerprint([files.attributions, files.bias], block),
  };
}

/** Where a point is kept: one JSON file per (estimator, m), written whole or not at all. */
export const pointPath = (dir: string, estimator: string, m: number) => join(dir, 'points', `${estimator}-${m}.json`);

export function readPoint(dir: string, estimator: string, m: number): CurvePoint | undefined {
  const p = pointPath(dir, estimator, m);
  if (!existsSync(p)) return undefined;
  try { return JSON.parse(readFileSync(p, 'utf8')) as CurvePoint; } catch { return undefined; }
}

/**
 * Every (m, estimator) point not already in `dir`, smallest m first; returns all points.
 * `key` names the inputs; points written for other inputs are refused, not reused.
 * With `keptOnly`, fits none: returns the points already there (a curve cut short).
 */
export async function runCurve(ctx: GpuContext, data: CurveData, dir: string, plan: { sizes: number[]; estimators: EstimatorName[]; key: Record<string, unknown>; keptOnly?: boolean },
  opts: EstimatorOptions, onPoint?: (p: CurvePoint, fresh: boolean) => void): Promise<CurvePoint[]> {
  mkdirSync(join(dir, 'points'), { recursive: true });
  const keyPath = join(dir, 'points', 'inputs.json');
  const key = JSON.stringify(plan.key, null, 1) + '\n';
  if (existsSync(keyPath) && readFileSync(keyPath, 'utf8') !== key) {
    throw new UserError(`${dir} holds curve points made from other inputs (see ${keyPath}); use another --out folder`);
  }
  writeFileAtomic(keyPath, [new TextEncoder().encode(key)]);
  const points: CurvePoint[] = [];
  for (const m of plan.sizes) {
    for (const estimator of plan.estimators) {
      const old = readPoint(dir, estimator, m);
      if (old) { points.push(old); onPoint?.(old, false); continue; }
      if (plan.keptOnly) continue;
      const p = await curvePoint(ctx, data, dir, estimator, m, opts);
      // the record last: a point counts as done once its record exists
      writeFileAtomic(pointPath(dir, estimator, m), [new TextEncoder().encode(JSON.stringify(p) + '\n')]);
      points.push(p);
      onPoint?.(p, true);
    }
  }
  return points;
}

/**
 * The masks an estimator needs to reach mean Pearson `target`: the first crossing of its
 * curve, interpolated linearly in log m between the two sizes around it; undefined if never.
 */
export function masksToReach(points: CurvePoint[], estimator: string, target: number): number | undefined {
  const ps = points.filter((p) => p.estimator === estimator).sort((a, b) => a.masks - b.masks);
  for (let i = 0; i < ps.length; i++) {
    const r = ps[i]!.summary.pearsonMean;
    if (!(r >= target)) continue;
    if (i === 0) return ps[0]!.masks;
    const a = ps[i - 1]!, b = ps[i]!;
    const t = (target - a.summary.pearsonMean) / (r - a.summary.pearsonMean);
    return Math.exp(Math.log(a.masks) + t * (Math.log(b.masks) - Math.log(a.masks)));
  }
  return undefined;
}

export interface Headline {
  thresholds: number[];
  rows: { estimator: string; masks: (number | undefined)[]; best: number; bestAt: number }[];
  /** the reference's estimator at its largest m, and how many masks each estimator needs to match it */
  target?: { estimator: string; masks: number; pearson: number; reach: { estimator: string; masks?: number; ratio?: number }[] };
}

export function headline(points: CurvePoint[], estimators: string[], thresholds = [0.3, 0.4, 0.5], reference = 'ols'): Headline {
  const rows = estimators.map((e) => {
    const ps = points.filter((p) => p.estimator === e);
    const best = ps.reduce((a, p) => (p.summary.pearsonMean > a.summary.pearsonMean ? p : a), ps[0]!);
    return { estimator: e, masks: thresholds.map((t) => masksToReach(points, e, t)), best: best?.summary.pearsonMean ?? NaN, bestAt: best?.masks ?? NaN };
  });
  const refs = points.filter((p) => p.estimator === reference).sort((a, b) => b.masks - a.masks);
  const top = refs[0];
  const target = top && {
    estimator: reference, masks: top.masks, pearson: top.summary.pearsonMean,
    reach: estimators.map((e) => {
      const m = masksToReach(points, e, top.summary.pearsonMean);
      return { estimator: e, masks: m, ratio: m === undefined ? undefined : m / top.masks };
    }),
  };
  return { thresholds, rows, target };
}
