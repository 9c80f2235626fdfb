/**
 * Evaluation (REFERENCE.md, "Evaluation"): fresh masks at several α, true margins from the
 * ablated model, predicted margins bias + mask · attributions, and per example the Pearson
 * and Spearman correlation across masks (the reference reports Pearson; seed 004's LDS is
 * Spearman), summarised by mean and median over examples.
 */
import type { Ablator } from './ablate.js';
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
  summary: { pearsonMean: number; pearsonMedian: number; spearmanMean: number; spearmanMedian: number };
}

/** A mask stream for evaluation, distinct from the sweep's stream `seed`. */
export function evalSeed(seed: number, index: number): number {
  return (seed + Math.imul(index + 1, 0x2545f491) + 0x6a09e667) >>> 0;
}

export function predictMargins(masks: Uint8Array, k: number, attributions: Float32Array, bias: Float32Array): Float32Array {
  const n = bias.length;
  const C = attributions.length / n;
  const out = new Float32Array(k * n);
  const acc = new Float64Array(n);
  for (let i = 0; i < k; i++) {
    acc.set(bias);
    for (let j = 0; j < C; j++) {
      if (!masks[i * C + j]) continue;
      const row = j * n;
      for (let e = 0; e < n; e++) acc[e]! += attributions[row + e]!;
    }
    out.set(acc, i * n);
  }
  return out;
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

/** Per-example correlations between columns of two [k, n] matrices. */
export function columnCorrelations(t: Float32Array, p: Float32Array, k: number, n: number) {
  const pr = new Float32Array(n), sp = new Float32Array(n);
  const a = new Float64Array(k), b = new Float64Array(k);
  for (let e = 0; e < n; e++) {
    for (let i = 0; i < k; i++) { a[i] = t[i * n + e]!; b[i] = p[i * n + e]!; }
    pr[e] = pearson(a, b);
    sp[e] = spearman(a, b);
  }
  return { pearson: pr, spearman: sp, summary: { pearsonMean: mean(pr), pearsonMedian: median(pr), spearmanMean: mean(sp), spearmanMedian: median(sp) } };
}

export async function evaluate(ablator: Ablator, attributions: Float32Array, bias: Float32Array, opts: { seed: number; alphas: number[]; masks: number },
  onProgress?: (done: number, total: number) => void): Promise<AlphaEval[]> {
  const C = ablator.net.components.size, n = bias.length, k = opts.masks;
  const out: AlphaEval[] = [];
  for (let a = 0; a < opts.alphas.length; a++) {
    const alpha = opts.alphas[a]!;
    const seed = evalSeed(opts.seed, a);
    const masks = generateMasks(seed, alpha, 0, k, C);
    const { margins } = await ablator.run(masks, k, (d) => onProgress?.(a * k * n + d, opts.alphas.length * k * n));
    const predicted = predictMargins(masks, k, attributions, bias);
    out.push({ alpha, seed, masks: k, trueMargins: margins, predicted, ...columnCorrelations(margins, predicted, k, n) });
  }
  return out;
}
