/**
 * The coordinator of a fit on a Redis queue: one job per slice of examples still missing from
 * the fit's ledger (a restarted coordinator skips the slices it kept), each named after the
 * fit's identity and the slice, so adding it again is a no-op. Workers fit the slices with the
 * coordinator's solver; the columns they send back are checked and kept (FitAssembly), and the
 * outputs are written as a single-process `coar fit` writes them.
 */
import { DEFAULT_VAL_FRAC } from '../coar/fit/regression.js';
import type { FitAssembly } from '../coar/fit_assembly.js';
import { drain, type DrainJob, type DrainOptions } from './drain.js';
import { decodeFitResult, fitJobId, fitJobTemplate, storeFacts, type FitJob } from './fit_job.js';

export interface FitWorkerRate { examples: number; seconds: number; examplesPerSecond: number }

export interface FitCoordinatorCallbacks {
  onStart?: (info: { jobs: number; pending: number; examples: number; perJob: number; fit: string; solver: string }) => void;
  /** examples [first, first+count) came back from `worker` */
  onSlice?: (info: { first: number; count: number; worker: string; done: number; pending: number; workers: Map<string, FitWorkerRate> }) => void;
  onFailed?: (info: { label: string; reason: string; failures: number; givingUp: boolean }) => void;
  onRequeued?: (jobs: number) => void;
  onConnectionError?: (message: string) => void;
}

/** Fit every slice still missing on the queue's workers, then write the outputs; returns fit.json's content. */
export async function coordinateFit(fit: FitAssembly, opts: DrainOptions, cb: FitCoordinatorCallbacks = {}): Promise<Record<string, unknown>> {
  const t0 = performance.now();
  const o = fit.options;
  const template = fitJobTemplate({
    perJob: fit.perJob, store: storeFacts(fit.store), method: o.method, lambda: o.method === 'ols' ? null : o.lambda ?? null,
    valFrac: o.valFrac ?? DEFAULT_VAL_FRAC, solver: fit.solver, tol: o.tol ?? null, maxIter: o.maxIter ?? null, examplesPerChunk: o.examplesPerChunk ?? null,
  });
  fit.begin({ fit: template.fit });
  const pending = fit.pending();
  const slices = new Map<string, [number, number]>();
  const jobs = new Map<string, DrainJob>();
  for (const [a, b] of pending) {
    const id = fitJobId(template.fit, a, b - a);
    const data: FitJob = { ...template, first: a, count: b - a };
    slices.set(id, [a, b]);
    jobs.set(id, { name: 'fit', data, label: `examples ${a}-${b - 1}` });
  }
  const examples = pending.reduce((s, [a, b]) => s + b - a, 0);
  cb.onStart?.({ jobs: pending.length, pending: examples, examples: fit.store.examples, perJob: fit.perJob, fit: template.fit, solver: fit.solver });
  const workers = new Map<string, FitWorkerRate>();
  let done = 0;
  const prefix = `fit-${template.fit}-`;
  await drain(jobs, opts, {
    accept: (id, result) => {
      const [a, b] = slices.get(id)!;
      // a slice kept by an earlier coordinator (killed before removing the job) is not kept twice
      if (fit.has(a, b)) return;
      const r = decodeFitResult(result, { ...template, count: b - a });
      fit.save(a, b, r);
      const w = workers.get(r.worker) ?? { examples: 0, seconds: 0, examplesPerSecond: 0 };
      w.examples += b - a; w.seconds += r.seconds; w.examplesPerSecond = w.seconds > 0 ? w.examples / w.seconds : 0;
      workers.set(r.worker, w);
      done += b - a;
      cb.onSlice?.({ first: a, count: b - a, worker: r.worker, done, pending: examples, workers });
    },
    leftover: (id) => {
      const m = id.startsWith(prefix) ? /-(\d+)-(\d+)$/.exec(id) : null;
      return m !== null && fit.has(Number(m[1]), Number(m[1]) + Number(m[2]));
    },
    onFailed: cb.onFailed, onRequeued: cb.onRequeued, onConnectionError: cb.onConnectionError,
  });
  return fit.finish((performance.now() - t0) / 1000, fit.slices.length - pending.length);
}
