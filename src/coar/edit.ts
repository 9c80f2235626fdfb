/**
 * COAR-Edit (REFERENCE.md, "COAR-Edit"; paper §5): score every component by a Welch
 * t-statistic between the attributions of a target set and of a reference set, ablate the
 * top-k (to lower the target margins) or the bottom-k (to raise them), and choose k by
 * ablating one more component at a time on a validation set, under a budget for the drop
 * in the validation reference accuracy.
 *
 * Attributions are in raw mask units with 1 = kept (REFERENCE.md, "Regression"): a positive
 * attribution means ablating the component lowers the margin. So a component with a large
 * positive t supports the target examples more than the reference ones.
 */
import type { Ablator } from './ablate.js';

export type Direction = 'lower' | 'raise';

/**
 * Welch's t per component: (mean_T − mean_R) / sqrt(var_T/n_T + var_R/n_R), population
 * variances. `target` and `reference` are attribution matrices [C, n_T] and [C, n_R]
 * (row-major, one row per component). A zero denominator gives ±Infinity (or 0 when the
 * means are equal too), so a component that separates the sets exactly still ranks first.
 */
export function welchScores(target: Float32Array, nT: number, reference: Float32Array, nR: number): Float64Array {
  const C = target.length / nT;
  if (!Number.isInteger(C) || reference.length !== C * nR) throw new Error(`attribution shapes differ: ${target.length}/${nT} vs ${reference.length}/${nR}`);
  const out = new Float64Array(C);
  const moments = (a: Float32Array, n: number, j: number): [number, number] => {
    let s = 0;
    for (let i = 0; i < n; i++) s += a[j * n + i]!;
    const mean = s / n;
    let v = 0;
    for (let i = 0; i < n; i++) v += (a[j * n + i]! - mean) ** 2;
    return [mean, v / n];
  };
  for (let j = 0; j < C; j++) {
    const [mT, vT] = moments(target, nT, j);
    const [mR, vR] = moments(reference, nR, j);
    const diff = mT - mR;
    const se = Math.sqrt(vT / nT + vR / nR);
    out[j] = se > 0 ? diff / se : diff === 0 ? 0 : diff * Infinity;
  }
  return out;
}

/**
 * Components in the order COAR-Edit ablates them: decreasing score to lower the target
 * margins (top-k), increasing score to raise them (bottom-k). Ties keep model order.
 */
export function ablationOrder(scores: Float64Array, direction: Direction): number[] {
  const sign = direction === 'lower' ? -1 : 1;
  return Array.from(scores.keys()).sort((a, b) => sign * (scores[a]! - scores[b]!) || a - b);
}

/** Accuracy and mean margin of one set of examples under one candidate edit. */
export interface SetScore { accuracy: number; meanMargin: number }

export interface CurvePoint {
  k: number;
  target: SetScore;
  reference: SetScore;
  /** margins of the validation examples (target set first) with the first k components ablated */
  margins: Float32Array;
}

export function setScore(margins: ArrayLike<number>, first: number, count: number): SetScore {
  let correct = 0, sum = 0;
  for (let i = first; i < first + count; i++) {
    // the margin is true-class logit minus the best other: > 0 exactly when the argmax is right
    if (margins[i]! > 0) correct++;
    sum += margins[i]!;
  }
  return { accuracy: count ? correct / count : NaN, meanMargin: count ? sum / count : NaN };
}

/**
 * What an edit may cost on the validation reference set, as fractions (0.005 = half a
 * point): the pooled accuracy may drop by at most `maxDrop` from k = 0 and, when
 * `maxClassDrop` is set, the accuracy of each class of the set (by `labels`, one per
 * validation reference example) by at most `maxClassDrop`. The per-class budget keeps one
 * class that resembles the target from paying for the whole edit while the pooled drop
 * stays small.
 */
export interface Budget { maxDrop: number; maxClassDrop?: number; labels?: ArrayLike<number> }

/** Accuracy per class of the reference part of a candidate's margins (after `nTarget` target examples). */
function classAccuracy(p: CurvePoint, nTarget: number, labels: ArrayLike<number>): Map<number, number> {
  const right = new Map<number, number>(), count = new Map<number, number>();
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i]!;
    count.set(c, (count.get(c) ?? 0) + 1);
    if (p.margins[nTarget + i]! > 0) right.set(c, (right.get(c) ?? 0) + 1);
  }
  return new Map([...count].map(([c, n]) => [c, (right.get(c) ?? 0) / n]));
}

/** A test `p => within budget` against the k = 0 point `base` (nTarget: validation target examples first in the margins). */
export function budgetTest(base: CurvePoint, budget: number | Budget, nTarget = 0): (p: CurvePoint) => boolean {
  const b: Budget = typeof budget === 'number' ? { maxDrop: budget } : budget;
  const pooled = (p: CurvePoint) => base.reference.accuracy - p.reference.accuracy <= b.maxDrop + 1e-12;
  if (b.maxClassDrop === undefined || !b.labels) return pooled;
  const labels = b.labels, limit = b.maxClassDrop;
  const before = classAccuracy(base, nTarget, labels);
  return (p) => pooled(p) && [...classAccuracy(p, nTarget, labels)].every(([c, a]) => before.get(c)! - a <= limit + 1e-12);
}

/**
 * The k to use, from a curve that starts at k = 0: among the candidates within the budget
 * (a number is the pooled `maxDrop` alone), the one with the best target accuracy (highest
 * to raise, lowest to lower); ties go to the smaller k. k = 0 (no edit) is always admissible.
 */
export function chooseK(curve: readonly CurvePoint[], direction: Direction, budget: number | Budget, nTarget = 0): CurvePoint {
  const base = curve[0]!;
  if (base.k !== 0) throw new Error('the curve must start at k = 0');
  const better = (a: number, b: number) => (direction === 'raise' ? a > b : a < b);
  const within = budgetTest(base, budget, nTarget);
  let best = base;
  for (const p of curve) {
    if (within(p) && better(p.target.accuracy, best.target.accuracy)) best = p;
  }
  return best;
}

/** Nothing left to gain on the target set: every example right (raise) or wrong (lower). */
function saturated(p: CurvePoint, direction: Direction): boolean {
  return direction === 'raise' ? p.target.accuracy >= 1 : p.target.accuracy <= 0;
}

/** Consecutive over-budget ks after which the prefix search stops. */
export const PATIENCE = 4;

/**
 * How k is searched:
 *   prefix  the paper's procedure: candidate k ablates the first k components of the ranking
 *   skip    walk the ranking, adding one component at a time, but pass over a component that
 *           would take the validation reference set over the budget or does not move the
 *           validation target set the right way; candidate k ablates the first k accepted.
 *           On a small model one shared component can spend the whole budget at once (the
 *           prefix search then stops at k = 1), while lower-ranked ones still separate the sets.
 */
export type Search = 'prefix' | 'skip';
export const SEARCHES: readonly Search[] = ['prefix', 'skip'];

/** The search's settings; the budget (Budget) is checked against k = 0 on the validation reference set. */
export interface CurveOptions extends Budget {
  maxK: number;
  /** candidate masks per engine call (one batch) */
  chunk: number;
  search: Search;
  onProgress?: (done: number, total: number) => void;
}

/** A k search: candidate k ablates `sequence.slice(0, k)`; `skipped` are the components passed over. */
export interface SearchResult { curve: CurvePoint[]; sequence: number[]; skipped: number[] }

/** Masks [sets.length, C] (1 = kept): row r ablates the components of sets[r]. */
export function ablationMasks(sets: readonly (readonly number[])[], components: number): Uint8Array {
  const masks = new Uint8Array(sets.length * components).fill(1);
  sets.forEach((set, r) => {
    for (const j of set) masks[r * components + j] = 0;
  });
  return masks;
}

async function evaluate(ablator: Ablator, n: number, nTarget: number, sets: readonly (readonly number[])[], ks: readonly number[]): Promise<CurvePoint[]> {
  const { margins } = await ablator.run(ablationMasks(sets, ablator.net.components.size), sets.length);
  return ks.map((k, r) => ({
    k,
    target: setScore(margins, r * n, nTarget),
    reference: setScore(margins, r * n + nTarget, n - nTarget),
    margins: margins.slice(r * n, (r + 1) * n),
  }));
}

/**
 * Evaluate candidate edits on the validation set: the ablator holds `n` examples, the first
 * `nTarget` the validation target set, the rest the validation reference set. Many
 * candidates per dispatch. Both searches stop once a candidate within the budget gets every
 * target example right (raise) or wrong (lower): a larger k cannot beat it.
 */
export async function validationCurve(ablator: Ablator, n: number, nTarget: number, order: readonly number[], direction: Direction, opts: CurveOptions): Promise<SearchResult> {
  return opts.search === 'prefix'
    ? prefixSearch(ablator, n, nTarget, order, direction, opts)
    : skipSearch(ablator, n, nTarget, order, direction, opts);
}

/** k = 0, 1, 2, ... ablating a prefix of the ranking; stops after PATIENCE ks in a row over the budget. */
async function prefixSearch(ablator: Ablator, n: number, nTarget: number, order: readonly number[], direction: Direction, opts: CurveOptions): Promise<SearchResult> {
  const curve: CurvePoint[] = [];
  let within: ((p: CurvePoint) => boolean) | undefined;
  for (let k0 = 0; k0 <= opts.maxK;) {
    const ks = Array.from({ length: Math.min(opts.chunk, opts.maxK + 1 - k0) }, (_, i) => k0 + i);
    const points = await evaluate(ablator, n, nTarget, ks.map((k) => order.slice(0, k)), ks);
    curve.push(...points);
    k0 += ks.length;
    opts.onProgress?.(k0 - 1, opts.maxK);
    const ok = (within ??= budgetTest(curve[0]!, opts, nTarget));
    if (points.some((p) => saturated(p, direction) && ok(p))) break;
    // the reference accuracy is noisy in k: give up only after PATIENCE ks in a row over the budget
    const last = curve.slice(-PATIENCE);
    if (last.length === PATIENCE && last[0]!.k > 0 && !last.some(ok)) break;
  }
  return { curve, sequence: order.slice(0, curve.length - 1), skipped: [] };
}

/**
 * Walk the ranking once, one component at a time: a candidate is accepted when, ablated
 * together with the components accepted before it, the validation reference accuracy stays
 * within the budget of k = 0 and the validation target moves the right way (accuracy no
 * worse, mean margin strictly better); otherwise it is passed over for good. Stops at maxK
 * accepted components, at the end of the ranking, or when saturated.
 *
 * Each dispatch decides several candidates exactly as testing them one by one would, in one
 * of three layouts of its `chunk` masks, chosen by what the last dispatch saw:
 *   tree     the next d candidates with 2^d − 1 ≤ chunk: a mask for every set of accepted
 *            components the first decisions can lead to (d decided per dispatch, always)
 *   chain    after d acceptances in a row: row r adds the next r + 1 candidates (up to chunk
 *            decided while they keep being accepted)
 *   singles  after d rejections in a row: each row adds one candidate (up to chunk passed
 *            over while they keep being rejected)
 */
async function skipSearch(ablator: Ablator, n: number, nTarget: number, order: readonly number[], direction: Direction, opts: CurveOptions): Promise<SearchResult> {
  const [base] = await evaluate(ablator, n, nTarget, [[]], [0]);
  const curve: CurvePoint[] = [base!];
  const sequence: number[] = [], skipped: number[] = [];
  const within = budgetTest(base!, opts, nTarget);
  const sign = direction === 'raise' ? 1 : -1;
  const accept = (p: CurvePoint, cur: CurvePoint) => within(p)
    && sign * (p.target.accuracy - cur.target.accuracy) >= 0 && sign * (p.target.meanMargin - cur.target.meanMargin) > 0;
  const depth = Math.max(1, Math.floor(Math.log2(opts.chunk + 1)));
  const done = () => sequence.length >= opts.maxK || saturated(curve.at(-1)!, direction);
  let cursor = 0;
  let layout: 'tree' | 'chain' | 'singles' = 'tree';
  while (!done() && cursor < order.length) {
    const width = layout === 'tree' ? depth : opts.chunk;
    const next = order.slice(cursor, cursor + (layout === 'chain' ? Math.min(width, opts.maxK - sequence.length) : width));
    // rows: the accepted sets each layout can reach, keyed by which of `next` they add
    const rows: number[][] = layout === 'chain' ? next.map((_, r) => next.slice(0, r + 1).map((_, i) => i))
      : layout === 'singles' ? next.map((_, i) => [i])
      : next.flatMap((_, i) => Array.from({ length: 2 ** i }, (_, bits) => [...next.slice(0, i).map((_, b) => b).filter((b) => bits >> b & 1), i]));
    const key = (picked: number[]) => picked.join(',');
    const index = new Map(rows.map((r, i) => [key(r), i]));
    const points = await evaluate(ablator, n, nTarget, rows.map((r) => [...sequence, ...r.map((i) => next[i]!)]), rows.map((r) => sequence.length + r.length));
    const picked: number[] = [];
    let decided = 0, accepted = 0;
    for (let i = 0; i < next.length && !done(); i++) {
      const row = index.get(key([...picked, i]));
      if (row === undefined) break; // this layout did not evaluate that set: decide it next dispatch
      if (accept(points[row]!, curve.at(-1)!)) {
        picked.push(i);
        sequence.push(next[i]!);
        curve.push(points[row]!);
        accepted++;
      } else {
        skipped.push(next[i]!);
      }
      decided++;
    }
    cursor += decided;
    layout = accepted === decided && decided >= depth ? 'chain' : accepted === 0 && decided >= depth ? 'singles' : 'tree';
    opts.onProgress?.(cursor, order.length);
  }
  return { curve, sequence, skipped };
}
