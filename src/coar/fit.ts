/**
 * The fit stage as a library function: a mask/margin store in, attributions.npy, bias.npy,
 * lambda.npy (when chosen), components.txt and fit.json out. Margins are streamed by rows,
 * examples fitted in chunks under a memory bound, each chunk kept on disk (fit/chunks.ts) so a
 * killed fit resumes; `examples` fits a slice [a, b) (distributed fits), whose chunks are the
 * whole fit's. The CLI (`coar fit`) and `coar run` only parse options and print progress.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { check, UserError } from '../errors.js';
import { GpuContext } from '../gpu/context.js';
import type { GpuOptions } from '../gpu/device.js';
import { writeFileAtomic } from '../io/atomic.js';
import { npyHeaderBytes } from '../io/npy.js';
import { describeHolder, FIT_LOCK_FILE, lockStore } from '../io/lock.js';
import { ESTIMATOR_TABLE, type EstimatorName } from './estimators/index.js';
import { DiskLedger, storeIdentity } from './fit/chunks.js';
import { defaultMemoryBytes } from './fit/cost.js';
import type { Solver } from './fit/design.js';
import { chunkGrid, DEFAULT_VAL_FRAC, type ChunkProgress } from './fit/regression.js';
import type { Progress } from './fit/solve.js';
import { checkFinite, fileTargets } from './fit/targets.js';
import { packMasks } from './fit_masks.js';
import { openStore, readMaskRows, type StoreReader } from './store.js';

export { DEFAULT_VAL_FRAC, fitAttributions, fitRegression, type FitOptions, type FitResult } from './fit/regression.js';
export type { FitMethod } from './fit/cost.js';
export type { Solver } from './fit/design.js';

export interface FitStoreOptions {
  method: EstimatorName;
  /** ridge / lasso regularisation; absent: chosen per example on held-out rows */
  lambda?: number;
  /** share of the rows (the last) held out to choose lambda (shared: nu; extracted: its training setting) */
  valFrac?: number;
  /** <split>_margins.npy (needed when the store has several) */
  split?: string;
  /** output folder (default: the store) */
  out?: string;
  solver?: Solver | 'auto';
  tol?: number;
  maxIter?: number;
  /** fit examples [a, b) only (default: all) */
  examples?: [number, number];
  /** bound on host + device memory, bytes (default: half the machine's) */
  memoryBytes?: number;
  /** cap on examples per chunk */
  examplesPerChunk?: number;
  /** an open device (kept open), or how to open one (closed after) */
  ctx?: GpuContext;
  gpu?: GpuOptions;
}

export interface FitCallbacks {
  progress?: Progress;
  /** solver detail (iterations, residuals) */
  detail?: Progress;
  /** chunks done of each phase of a regression fit, for a progress bar */
  chunkDone?: ChunkProgress;
}

export interface FitStoreResult {
  outDir: string;
  /** what fit.json holds */
  summary: Record<string, unknown>;
}

/** Parse `a:b` (either side may be empty) into a slice of n examples. */
export function parseExamples(spec: string, n: number): [number, number] {
  const m = /^(\d*):(\d*)$/.exec(spec);
  const a = m?.[1] ? Number(m[1]) : 0;
  const b = m?.[2] ? Number(m[2]) : n;
  if (!m || !(a < b && b <= n)) throw new UserError(`--examples ${spec} is not a slice a:b of the ${n} examples (0 <= a < b <= ${n}, e.g. 0:${Math.min(n, 100)})`);
  return [a, b];
}

export async function fitStore(storeDir: string, options: FitStoreOptions, callbacks: FitCallbacks = {}): Promise<FitStoreResult> {
  const o = options;
  const log = callbacks.progress;
  const valFrac = o.valFrac ?? DEFAULT_VAL_FRAC;
  checkFitOptions(o, storeDir);
  const outDir = o.out ?? storeDir;

  const store = openStore(storeDir, { split: o.split });
  let lock: { release(): void } | undefined;
  let ctx: GpuContext | undefined;
  try {
    if (store.writer) log?.(`${storeDir} is still being written by ${describeHolder(store.writer)}: using its ${store.usedRows.length} completed rows`);
    const rows = store.usedRows;
    const C = store.components;
    const examples = o.examples ?? [0, store.examples];
    check(o.examples === undefined || ESTIMATOR_TABLE[o.method].separable,
      () => `--examples fits a slice of the examples with ols, ridge or lasso; --method ${o.method} chooses its settings from all examples together, so its slices would not assemble to the whole fit`);
    check(examples[0] >= 0 && examples[0] < examples[1] && examples[1] <= store.examples, () => `--examples ${examples[0]}:${examples[1]} is not a slice of the ${store.examples} examples`);
    log?.(`${rows.length} of ${store.rows} rows, ${C} components, examples ${examples[0]}-${examples[1]} of ${store.examples} (${store.split})`);
    // every bad input is refused before the first file is written
    checkFinite(store.margins, rows);
    const started = Date.now();
    const masks = packMasks((s, e) => readMaskRows(store, s, e), rows, C,
      (done) => { if (Date.now() - started > 2000) log?.(`packing masks: ${done}/${rows.length} rows`); });
    mkdirSync(outDir, { recursive: true });
    lock = lockStore(outDir, 'coar fit', FIT_LOCK_FILE);
    const ledger = new DiskLedger(outDir, C, { store: storeIdentity([store.masks.path, store.margins.path], rows), estimator: o.method, examples });
    ctx = o.ctx ?? await GpuContext.open(o.gpu);
    const t0 = Date.now();
    const regressionOptions = {
      lambda: o.lambda, valFrac, solver: o.solver, tol: o.tol, maxIter: o.maxIter, memoryBytes: o.memoryBytes ?? defaultMemoryBytes(),
      examplesPerChunk: o.examplesPerChunk, progress: log, detail: callbacks.detail, chunkDone: callbacks.chunkDone,
    };
    const details = await ESTIMATOR_TABLE[o.method].fit(ctx, masks, fileTargets(store.margins, rows), examples, ledger, {
      regression: regressionOptions,
      extracted: { valFrac: o.valFrac, progress: log },
      shared: { valFrac: o.valFrac, progress: log },
    });
    const seconds = (Date.now() - t0) / 1000;
    if (details.converged === false) log?.(`warning: not every solve reached the tolerance within the iteration cap (${details.iterations} iterations)`);
    // the grid of the chunks on disk (a whole-fit estimator wrote one chunk)
    const chunks = chunkList(examples, details.chunkExamples as number | undefined);
    const summary = writeFitOutputs(outDir, store, ledger, chunks, o, details, examples, seconds);
    ledger.remove();
    log?.(`wrote ${join(outDir, 'attributions.npy')} [${C}, ${examples[1] - examples[0]}] in ${seconds.toFixed(1)} s (${details.solver ?? o.method})`);
    return { outDir, summary };
  } finally {
    if (!o.ctx) ctx?.destroy();
    lock?.release();
    store.close();
  }
}

/** Refuse bad fit options before any file is opened (fitStore, and a fit's coordinator on a queue). */
export function checkFitOptions(o: FitStoreOptions, storeDir: string): void {
  const outDir = o.out ?? storeDir;
  const regression = o.method === 'ols' || o.method === 'ridge' || o.method === 'lasso';
  check(o.lambda === undefined || (Number.isFinite(o.lambda) && o.lambda >= 0), () => `--lambda must be a number >= 0, got ${o.lambda}`);
  check(!(o.method === 'ols' && o.lambda !== undefined && o.lambda !== 0), () => `--method ols has no lambda (got --lambda ${o.lambda}); use --method ridge`);
  check(regression || o.lambda === undefined, () => `--lambda applies to ridge and lasso, not to --method ${o.method}`);
  const valFrac = o.valFrac ?? DEFAULT_VAL_FRAC;
  check(o.lambda !== undefined || o.method === 'ols' || (valFrac > 0 && valFrac < 1), () => `--val-frac must be between 0 and 1, got ${valFrac}`);
  check(o.tol === undefined || o.tol > 0, () => `--tol must be > 0, got ${o.tol}`);
  check(o.maxIter === undefined || (Number.isInteger(o.maxIter) && o.maxIter > 0), () => `--max-iter must be a positive integer, got ${o.maxIter}`);
  check(o.examplesPerChunk === undefined || (Number.isInteger(o.examplesPerChunk) && o.examplesPerChunk >= 4 && o.examplesPerChunk % 4 === 0),
    () => `--examples-per-chunk must be a multiple of 4, got ${o.examplesPerChunk}`);
  check(o.memoryBytes === undefined || o.memoryBytes > 0, () => `--memory must be > 0 GB, got ${o.memoryBytes! / 2 ** 30}`);
  check(!existsSync(outDir) || statSync(outDir).isDirectory(), () => `--out ${outDir} exists and is not a folder`);
}

/**
 * attributions.npy, bias.npy, lambda.npy (when chosen), components.txt and fit.json of the
 * chunks in `ledger`, as every fit writes them; returns what fit.json holds.
 */
export function writeFitOutputs(outDir: string, store: StoreReader, ledger: DiskLedger, chunks: [number, number][], o: FitStoreOptions,
  details: Record<string, unknown>, examples: [number, number], seconds: number): Record<string, unknown> {
  const regression = o.method === 'ols' || o.method === 'ridge' || o.method === 'lasso';
  const valFrac = o.valFrac ?? DEFAULT_VAL_FRAC;
  ledger.assemble(outDir, chunks);
  const lambda = regression ? ledger.lambdas(chunks) : undefined;
  const n = examples[1] - examples[0];
  if (lambda) writeFileAtomic(join(outDir, 'lambda.npy'), [npyHeaderBytes('f4', [n]), new Uint8Array(lambda.buffer)]);
  const names = store.manifest?.components;
  if (names) writeFileAtomic(join(outDir, 'components.txt'), [new TextEncoder().encode(names.join('\n') + '\n')]);
  const summary: Record<string, unknown> = regression
    ? {
      method: o.method, lambda: o.lambda ?? null, chosen: lambda ? 'per example on held-out rows' : null,
      valFrac: lambda ? valFrac : null, lambdaGridUnits: details.lambdaGrid ? (o.method === 'lasso' ? 'fraction of each example\'s lambda_max' : 'absolute') : null,
      ...details,
    }
    : { method: o.method, ...details };
  Object.assign(summary, {
    rows: store.usedRows.length, components: store.components, examples: n, exampleRange: examples, totalExamples: store.examples, split: store.split, seconds,
    units: 'raw mask units: predicted margin = bias + mask . attributions',
  });
  writeFileAtomic(join(outDir, 'fit.json'), [new TextEncoder().encode(JSON.stringify(summary, null, 2) + '\n')]);
  return summary;
}

/** The chunks on disk: the regression's grid, or one chunk for an estimator that fits all at once. */
function chunkList(examples: [number, number], width: number | undefined): [number, number][] {
  return width === undefined ? [examples] : chunkGrid(examples[0], examples[1], width);
}
