/**
 * Evaluation (REFERENCE.md, "Evaluation"): fresh masks at several α, true margins from the
 * ablated model, predicted margins bias + mask · attributions, and per example the Pearson
 * and Spearman correlation across masks (the reference reports Pearson; seed 004's LDS is
 * Spearman), summarised by mean and median over examples.
 */
import type { Ablator } from './ablate.js';
import type { TargetColumns } from './fit/targets.js';
import { generateMasks } from './masks.js';

export interface AlphaEval {
  alpha: number;
  seed: number;
  masks: number;
  /** true and predicted margins [masks, n] */
  trueMargins: Float32Array;
  predicted: Float32Array;
  pearson: Float32Array;
  spearman: Float32Array;
  summary: CorrelationSummary;
}

/** A mask stream for evaluation, distinct from the sweep's stream `seed`. */
export function evalSeed(seed: number, index: number): number {
  return (seed + Math.imul(index + 1, 0x2545f491) + 0x6a09e667) >>> 0;
}

/**
 * bias + mask · attributions for `k` mask rows (bytes 0/1, [k x |C|]) and attributions
 * [|C| x w] (w = bias.length examples), accumulated in float64 and kept in `out` (float64,
 * [k x w]) or rounded to float32. A row that keeps most components (α = 5% ablates 1 in 20)
 * starts from the sum over all components and subtracts the ablated ones: the same sum to
 * float64 rounding, 1/20 of the work.
 */
export function predictMargins(masks: Uint8Array, k: number, attributions: Float32Array, bias: Float32Array): Float32Array;
export function predictMargins(masks: Uint8Array, k: number, attributions: Float32Array, bias: Float32Array, out: Float64Array): Float64Array;
export function predictMargins(masks: Uint8Array, k: number, attributions: Float32Array, bias: Float32Array, out?: Float64Array): Float32Array | Float64Array {
  const n = bias.length;
  const C = attributions.length / n;
  const dst = out ?? new Float32Array(k * n);
  const acc = new Float64Array(n);
  let total: Float64Array | undefined;
  for (let i = 0; i < k; i++) {
    let kept = 0;
    for (let j = 0; j < C; j++) kept += masks[i * C + j]!;
    if (kept > C / 2) {
      if (!total) {
        total = new Float64Array(n);
        for (let j = 0; j < C; j++) {
          const row = j * n;
          for (let e = 0; e < n; e++) total[e]! += attributions[row + e]!;
        }
      }
      for (let e = 0; e < n; e++) acc[e] = bias[e]! + total[e]!;
      for (let j = 0; j < C; j++) {
        if (masks[i * C + j]) continue;
        const row = j * n;
        for (let e = 0; e < n; e++) acc[e]! -= attributions[row + e]!;
      }
    } else {
      acc.set(bias);
      for (let j = 0; j < C; j++) {
        if (!masks[i * C + j]) continue;
        const row = j * n;
        for (let e = 0; e < n; e++) acc[e]! += attributions[row + e]!;
      }
    }
    dst.set(acc, i * n);
  }
  return dst;
}

export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = x.length;
  let mx = 0, my = 0;
  for (let i = 0; i < n; i++) { mx += x[i]!; my += y[i]!; }
  mx /= n; my /= n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    const a = x[i]! - mx, b = y[i]! - my;
    sxy += a * b; sxx += a * a; syy += b * b;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : NaN;
}

/** Ranks 1..n with ties given their average rank (as scipy.stats.rankdata). */
export function ranks(x: ArrayLike<number>): Float64Array {
  const idx = Array.from({ length: x.length }, (_, i) => i).sort((a, b) => x[a]! - x[b]!);
  const r = new Float64Array(x.length);
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && x[idx[j + 1]!] === x[idx[i]!]) j++;
    const avg = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) r[idx[k]!] = avg;
    i = j + 1;
  }
  return r;
}

export const spearman = (x: ArrayLike<number>, y: ArrayLike<number>) => pearson(ranks(x), ranks(y));

const mean = (a: Float32Array) => { const v = [...a].filter(Number.isFinite); return v.reduce((s, x) => s + x, 0) / v.length; };
const median = (a: Float32Array) => {
  const v = [...a].filter(Number.isFinite).sort((p, q) => p - q);
  return v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
};

export interface CorrelationSummary { pearsonMean: number; pearsonMedian: number; spearmanMean: number; spearmanMedian: number }

/** Mean and median over the examples whose correlation is defined. */
export function correlationSummary(pr: Float32Array, sp: Float32Array): CorrelationSummary {
  return { pearsonMean: mean(pr), pearsonMedian: median(pr), spearmanMean: mean(sp), spearmanMedian: median(sp) };
}

/** Per-example correlations between columns of two [k, n] matrices. */
export function columnCorrelations(t: Float32Array, p: Float32Array | Float64Array, k: number, n: number) {
  const pr = new Float32Array(n), sp = new Float32Array(n);
  const a = new Float64Array(k), b = new Float64Array(k);
  for (let e = 0; e < n; e++) {
    for (let i = 0; i < k; i++) { a[i] = t[i * n + e]!; b[i] = p[i * n + e]!; }
    pr[e] = pearson(a, b);
    sp[e] = spearman(a, b);
  }
  return { pearson: pr, spearman: sp, summary: correlationSummary(pr, sp) };
}

/**
 * bias + masks · attributions [k x n], reading the attributions by chunks of example
 * columns (`attributions` gives columns of [|C|, n]) of at most `chunkBytes` each.
 */
export function predictByChunks(masks: Uint8Array, k: number, attributions: TargetColumns, bias: Float32Array, chunkBytes: number): Float32Array {
  const C = attributions.rows, n = bias.length;
  const w = Math.max(1, Math.min(n, Math.floor(chunkBytes / (4 * (C + k)))));
  if (w === n) return predictMargins(masks, k, attributions.columns(0, n), bias);
  const out = new Float32Array(k * n);
  for (let c0 = 0; c0 < n; c0 += w) {
    const c1 = Math.min(n, c0 + w);
    const p = predictMargins(masks, k, attributions.columns(c0, c1), bias.subarray(c0, c1));
    for (let i = 0; i < k; i++) out.set(p.subarray(i * (c1 - c0), (i + 1) * (c1 - c0)), i * n + c0);
  }
  return out;
}

/** `attributions`: columns of [|C|, n], read a chunk of examples at a time (`chunkBytes`, default 256 MB). */
export async function evaluate(ablator: Ablator, attributions: TargetColumns, bias: Float32Array, opts: { seed: number; alphas: number[]; masks: number; chunkBytes?: number },
  onProgress?: (done: number, total: number) => void): Promise<AlphaEval[]> {
  const C = ablator.net.components.size, n = bias.length, k = opts.masks;
  const out: AlphaEval[] = [];
  for (let a = 0; a < opts.alphas.length; a++) {
    const alpha = opts.alphas[a]!;
    const seed = evalSeed(opts.seed, a);
    const masks = generateMasks(seed, alpha, 0, k, C);
    const { margins } = await ablator.run(masks, k, (d) => onProgress?.(a * k * n + d, opts.alphas.length * k * n));
    const predicted = predictByChunks(masks, k, attributions, bias, opts.chunkBytes ?? 256 << 20);
    out.push({ alpha, seed, masks: k, trueMargins: margins, predicted, ...columnCorrelations(margins, predicted, k, n) });
  }
  return out;
}
