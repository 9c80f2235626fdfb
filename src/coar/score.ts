/**
 * Attributions scored on a store's masks and margins (held-out masks: `coar eval --heldout`,
 * the curve's points), streamed so that memory is bounded by `memoryBytes` whatever the
 * store's size: example chunks one after another, and within a chunk the mask rows and
 * margins read block by block. Spearman ranks each example over all the store's masks, so
 * a chunk holds every mask's true and predicted margin for its examples; that, and the
 * chunk's attribution columns, is what the bound sizes.
 */
import { check, UserError } from '../errors.js';
import { columnCorrelations, correlationSummary, predictMargins, type CorrelationSummary } from './eval.js';
import { checkFinite, fileTargets, runs, type TargetColumns } from './fit/targets.js';
import { readMaskRows, type StoreReader } from './store.js';

export interface StoreScore {
  masks: number;
  pearson: Float32Array;
  spearman: Float32Array;
  summary: CorrelationSummary;
  /** examples per chunk, and how many chunks */
  chunkExamples: number;
  chunks: number;
}

/** Row blocks: a slice of the bound, and never so large that one block dominates it. */
export function blockBytesFor(memoryBytes: number): number {
  return Math.max(64 << 10, Math.min(32 << 20, Math.floor(memoryBytes / 16)));
}

/**
 * Examples scored together under `memoryBytes`: per example, the true (float32) and predicted
 * (float64) margin of every mask and its attribution column; fixed, the row blocks (bytes and their
 * float32 copies) and the ranking's work arrays over the masks. A UserError names what a
 * single example needs when even that does not fit.
 */
export function scoreChunkExamples(masks: number, components: number, examples: number, memoryBytes: number): number {
  const block = blockBytesFor(memoryBytes);
  const fixed = 6 * block + 8 * examples + 64 * masks + 8 * components;
  const perExample = 12 * masks + 4 * components;
  const w = Math.floor((memoryBytes - fixed) / perExample);
  if (w < 1) {
    throw new UserError(`scoring ${masks} masks needs at least ${((fixed + perExample) / 2 ** 20).toFixed(1)} MB, --memory allows ${(memoryBytes / 2 ** 20).toFixed(1)} MB: raise --memory`);
  }
  return Math.min(examples, w);
}

/** Read the store's used rows once, block by block, refusing non-boolean masks and NaN or Inf margins before any work. */
export function checkScorable(store: StoreReader, memoryBytes: number): void {
  const block = blockBytesFor(memoryBytes);
  for (const [s, e] of runs(store.usedRows, Math.max(1, Math.floor(block / store.components)))) readMaskRows(store, store.usedRows[s]!, store.usedRows[e - 1]! + 1);
  checkFinite(store.margins, store.usedRows, block);
}

/**
 * Per example, the Pearson and Spearman correlation over the store's used rows between its
 * margins and bias + mask · attributions. `attributions` gives columns of [|C|, n].
 */
export function scoreStore(store: StoreReader, attributions: TargetColumns, bias: Float32Array,
  opts: { memoryBytes: number; onProgress?: (done: number, total: number) => void }): StoreScore {
  const C = store.components, n = store.examples, rows = store.usedRows, k = rows.length;
  check(attributions.rows === C && attributions.examples === n && bias.length === n,
    () => `attributions [${attributions.rows}, ${attributions.examples}] do not match the store's ${C} components and ${n} examples`);
  const block = blockBytesFor(opts.memoryBytes);
  const w = scoreChunkExamples(k, C, n, opts.memoryBytes);
  checkFinite(store.margins, rows, block);
  const margins = fileTargets(store.margins, rows, block);
  const maskRuns = runs(rows, Math.max(1, Math.floor(block / C)));
  const pearson = new Float32Array(n), spearman = new Float32Array(n);
  let chunks = 0;
  for (let c0 = 0; c0 < n; c0 += w) {
    const c1 = Math.min(n, c0 + w), cw = c1 - c0;
    const a = attributions.columns(c0, c1);
    const b = bias.subarray(c0, c1);
    // float64: Spearman's ranks of predictions closer than a float32 step stay scipy's
    const predicted = new Float64Array(k * cw);
    for (const [s, e] of maskRuns) {
      const bytes = readMaskRows(store, rows[s]!, rows[e - 1]! + 1);
      predictMargins(bytes, e - s, a, b, predicted.subarray(s * cw, e * cw));
    }
    const c = columnCorrelations(margins.columns(c0, c1), predicted, k, cw);
    pearson.set(c.pearson, c0);
    spearman.set(c.spearman, c0);
    chunks++;
    opts.onProgress?.(c1, n);
  }
  return { masks: k, pearson, spearman, summary: correlationSummary(pearson, spearman), chunkExamples: w, chunks };
}
