/**
 * The coordinator's side of a distributed fit, without the queue: it plans the fit of a store
 * once (the solver the single-process fit would choose, the slices of examples), keeps every
 * slice that comes back on disk as a chunk of the fit's ledger (fit/chunks.ts: a coordinator
 * killed midway resumes with the slices it has), and writes the outputs exactly as fitStore
 * does (writeFitOutputs). Lambda needs no coordination: ridge and lasso choose it per example
 * (each column picks its own on the held-out rows), so a slice's lambdas are the whole fit's.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { check } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { describeHolder, FIT_LOCK_FILE, lockStore } from '../io/lock.js';
import { DiskLedger, storeIdentity } from './fit/chunks.js';
import type { Solver } from './fit/design.js';
import { chunkGrid, regressionPlan } from './fit/regression.js';
import { checkFinite } from './fit/targets.js';
import { checkFitOptions, writeFitOutputs, type FitStoreOptions } from './fit.js';
import { packMasks } from './fit_masks.js';
import { openStore, readMaskRows, type StoreReader } from './store.js';

/** Payload bound of one job's columns (float32 [|C| + 2] per example), bytes: results travel through Redis. */
const JOB_BYTES = 32 << 20;

/** One slice solved elsewhere: its columns and what its worker reports. */
export interface SliceFit {
  attributions: Float32Array;
  bias: Float32Array;
  lambda: Float32Array | null;
  iterations: number;
  converged: boolean;
  residual: number | null;
  worker: string;
  seconds: number;
  lambdaGrid: number[] | null;
  chunks: number;
  peakDeviceBytes: number;
}

type SliceRecord = Pick<SliceFit, 'worker' | 'seconds' | 'lambdaGrid' | 'chunks' | 'peakDeviceBytes'>;

export class FitAssembly {
  readonly outDir: string;
  readonly slices: [number, number][];
  readonly perJob: number;
  private ledger: DiskLedger | undefined;
  private lock: { release(): void } | undefined;

  private constructor(readonly store: StoreReader, readonly options: FitStoreOptions & { method: 'ols' | 'ridge' | 'lasso' }, readonly solver: Solver, perJob: number | undefined) {
    this.outDir = options.out ?? store.dir;
    const n = store.examples;
    this.perJob = perJob ?? Math.max(1, Math.min(Math.ceil(n / 8), Math.floor(JOB_BYTES / (4 * (store.components + 2)))));
    this.slices = chunkGrid(0, n, this.perJob);
  }

  /**
   * Open a store and plan its fit: options checked as fitStore checks them, the store's bad
   * values refused, the solver chosen for all its examples. `perJob`: examples per slice.
   */
  static plan(storeDir: string, o: FitStoreOptions, perJob?: number, progress?: (s: string) => void): FitAssembly {
    checkFitOptions(o, storeDir);
    const method = o.method;
    check(method === 'ols' || method === 'ridge' || method === 'lasso',
      () => `--queue fits slices of the examples with ols, ridge or lasso; --method ${method} chooses its settings from all examples together: fit it on one machine`);
    check(o.examples === undefined, () => '--queue fits every example; --examples fits one slice on this machine: give one or the other');
    check(perJob === undefined || (Number.isInteger(perJob) && perJob >= 1), () => `--examples-per-job must be a positive integer, got ${perJob}`);
    const store = openStore(storeDir, { split: o.split });
    try {
      // workers open the store later: rows completed meanwhile would make their fit another one
      check(!store.writer, () => `${storeDir} is still being written by ${describeHolder(store.writer!)}: fit it with --queue once the sweep is done (or without --queue, on its completed rows)`);
      checkFinite(store.margins, store.usedRows);
      const started = Date.now();
      const packed = packMasks((s, e) => readMaskRows(store, s, e), store.usedRows, store.components,
        (done) => { if (Date.now() - started > 2000) progress?.(`packing masks: ${done}/${store.usedRows.length} rows`); });
      const { solver } = regressionPlan(packed, store.examples, { method, lambda: o.lambda, tol: o.tol, solver: o.solver });
      return new FitAssembly(store, { ...o, method }, solver, perJob);
    } catch (e) {
      store.close();
      throw e;
    }
  }

  /** Hold the output folder and open the ledger of slices belonging to `plan` (slices of another plan are dropped). */
  begin(plan: Record<string, unknown>): void {
    mkdirSync(this.outDir, { recursive: true });
    this.lock = lockStore(this.outDir, 'coar fit --queue', FIT_LOCK_FILE);
    this.ledger = new DiskLedger(this.outDir, this.store.components, {
      store: storeIdentity([this.store.masks.path, this.store.margins.path], this.store.usedRows), estimator: this.options.method, examples: [0, this.store.examples],
    });
    this.ledger.begin({ distributed: true, ...plan });
  }

  /** The slices still to fit. */
  pending(): [number, number][] {
    return this.slices.filter(([a, b]) => this.ledger!.fit(a, b) === undefined);
  }

  has(a: number, b: number): boolean { return this.ledger!.fit(a, b) !== undefined; }

  /** Keep a slice; its fit record, written last, marks it done. */
  save(a: number, b: number, f: SliceFit): void {
    const ledger = this.ledger!;
    if (f.lambda) ledger.saveLambda(a, b, f.lambda);
    const record: SliceRecord = { worker: f.worker, seconds: f.seconds, lambdaGrid: f.lambdaGrid, chunks: f.chunks, peakDeviceBytes: f.peakDeviceBytes };
    writeFileAtomic(join(ledger.dir, `job-${a}-${b}.json`), [new TextEncoder().encode(JSON.stringify(record) + '\n')]);
    ledger.saveFit(a, b, { attributions: f.attributions, bias: f.bias, iterations: f.iterations, converged: f.converged, residual: f.residual ?? undefined });
  }

  /** Write the fit's outputs from every slice (all must be saved); returns what fit.json holds. */
  finish(seconds: number, resumed: number): Record<string, unknown> {
    const ledger = this.ledger!;
    let iterations = 0, converged = true, residual: number | null = null, peak = 0, chunks = 0;
    let lambdaGrid: number[] | null = null;
    const workers: Record<string, { examples: number; seconds: number }> = {};
    for (const [a, b] of this.slices) {
      const f = ledger.fit(a, b)!;
      const r = JSON.parse(readFileSync(join(ledger.dir, `job-${a}-${b}.json`), 'utf8')) as SliceRecord;
      iterations += f.iterations; converged &&= f.converged;
      if (typeof f.residual === 'number') residual = Math.max(residual ?? 0, f.residual);
      peak = Math.max(peak, r.peakDeviceBytes); chunks += r.chunks; lambdaGrid ??= r.lambdaGrid;
      const w = (workers[r.worker] ??= { examples: 0, seconds: 0 });
      w.examples += b - a; w.seconds += r.seconds;
    }
    const details = {
      solver: this.solver, iterations, converged, residual, lambdaGrid, chunkExamples: this.perJob, chunks: this.slices.length, resumedChunks: resumed,
      peakDeviceBytes: peak, queue: { jobs: this.slices.length, examplesPerJob: this.perJob, workerChunks: chunks, workers },
    };
    const summary = writeFitOutputs(this.outDir, this.store, ledger, this.slices, this.options, details, [0, this.store.examples], seconds);
    ledger.remove();
    return summary;
  }

  close(): void {
    this.lock?.release();
    this.store.close();
  }
}
