/**
 * The part of a fit every slice shares, opened once per fit in a worker's long-lived fit
 * process (cli/fit_server.ts): the store, its packed masks (checked finite), the device, and
 * (a fit with a given lambda) the design of all rows with its Gram matrix or Cholesky factor.
 * Each slice is then fitted exactly as `coar fit --examples a:b` fits it (fitStore: the same
 * estimator, options and default memory bound), into memory instead of a folder: the chunks
 * a DiskLedger would write and read back are the same float32 values, so the columns are
 * byte-identical to a per-job `coar fit` child's.
 */
import { ESTIMATOR_TABLE } from '../coar/estimators/index.js';
import { defaultMemoryBytes } from '../coar/fit/cost.js';
import { memoryLedger, RegressionShared } from '../coar/fit/regression.js';
import { checkFinite, fileTargets } from '../coar/fit/targets.js';
import { packMasks, type PackedMasks } from '../coar/fit_masks.js';
import { openStore, readMaskRows, type StoreReader } from '../coar/store.js';
import { GpuContext } from '../gpu/context.js';
import type { GpuOptions } from '../gpu/device.js';
import { encodeFloats, type FitJob, type FitResult } from './fit_job.js';

/** What a slice's fit returns, before the worker adds its name and wall time. */
export type SliceResult = Omit<FitResult, 'worker' | 'seconds'>;

/** The worker's message to its fit process (cli/fit_server.ts), and the answer. */
export interface FitRequest { job: FitJob; gpu: GpuOptions }
export type FitReply = { ok: true; result: SliceResult } | { ok: false; message: string };

export class FitSlices {
  // the design of all rows, its Gram or factor, kept between slices (fits with a given lambda)
  private readonly shared: RegressionShared;
  private constructor(readonly fit: string, private readonly store: StoreReader, private readonly masks: PackedMasks, private readonly ctx: GpuContext) {
    this.shared = new RegressionShared(ctx);
  }

  /** Open the store and device for the fit `job` belongs to (its store facts were checked by the worker). */
  static async open(job: FitJob, gpu: GpuOptions): Promise<FitSlices> {
    const store = openStore(job.store.path, { split: job.store.split });
    try {
      const rows = store.usedRows;
      checkFinite(store.margins, rows);
      const masks = packMasks((s, e) => readMaskRows(store, s, e), rows, store.components);
      const ctx = await GpuContext.open(gpu);
      return new FitSlices(job.fit, store, masks, ctx);
    } catch (e) {
      store.close();
      throw e;
    }
  }

  /** Fit examples [job.first, job.first + job.count) of this fit. */
  async slice(job: FitJob): Promise<SliceResult> {
    if (job.fit !== this.fit) throw new Error(`a job of fit ${job.fit} was given to the fit process of ${this.fit}`);
    const range: [number, number] = [job.first, job.first + job.count];
    const sink = memoryLedger(this.store.components, range[0], range[1]);
    const regression = {
      lambda: job.method === 'ols' ? undefined : job.lambda ?? undefined, valFrac: job.valFrac, solver: job.solver,
      tol: job.tol ?? undefined, maxIter: job.maxIter ?? undefined, memoryBytes: defaultMemoryBytes(), examplesPerChunk: job.examplesPerChunk ?? undefined,
      shared: this.shared,
    };
    const d = await ESTIMATOR_TABLE[job.method].fit(this.ctx, this.masks, fileTargets(this.store.margins, this.store.usedRows), range, sink.ledger, { regression });
    const lambda = sink.lambda();
    return {
      attributions: encodeFloats(sink.attributions), bias: encodeFloats(sink.bias), lambda: lambda ? encodeFloats(lambda) : null,
      solver: d.solver as FitResult['solver'], iterations: d.iterations as number, converged: d.converged as boolean,
      residual: (d.residual as number | null) ?? null, lambdaGrid: (d.lambdaGrid as number[] | null) ?? null,
      chunks: d.chunks as number, peakDeviceBytes: d.peakDeviceBytes as number,
    };
  }

  close(): void {
    this.shared.destroy();
    this.ctx.destroy();
    this.store.close();
  }
}
