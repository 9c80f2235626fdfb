/**
 * A worker's fit job: open the store the job names (on the shared file system), prove it is
 * the coordinator's (rows used, sizes, manifest hash), and fit the job's slice of examples
 * with the library function of `coar fit --examples a:b` (fitStore) and the coordinator's
 * solver, into a private folder whose columns go back as raw float32 bytes.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { fitStore } from '../coar/fit.js';
import { openStore } from '../coar/store.js';
import type { GpuContext } from '../gpu/context.js';
import { readNpy, toFloat32 } from '../io/npy.js';
import { encodeFloats, storeFacts, storeMismatch, type FitJob, type FitResult } from './fit_job.js';

export async function runFitJob(job: FitJob, ctx: GpuContext, worker: string): Promise<FitResult> {
  const t0 = performance.now();
  if (!existsSync(job.store.path)) throw new UserError(`store ${job.store.path} is not on this machine: fit workers read the coordinator's store on a shared file system, at the same path`);
  const store = openStore(job.store.path, { split: job.store.split });
  try {
    const why = storeMismatch(job.store, storeFacts(store));
    if (why) throw new UserError(`store ${job.store.path} is not the coordinator's: ${why}`);
  } finally { store.close(); }
  const out = mkdtempSync(join(tmpdir(), 'coar-fit-job-'));
  try {
    const r = await fitStore(job.store.path, {
      method: job.method, lambda: job.lambda ?? undefined, valFrac: job.valFrac, split: job.store.split, out, solver: job.solver,
      tol: job.tol ?? undefined, maxIter: job.maxIter ?? undefined, examples: [job.first, job.first + job.count],
      examplesPerChunk: job.examplesPerChunk ?? undefined, ctx,
    });
    const s = r.summary;
    const read = (f: string) => toFloat32(readNpy(join(out, f)));
    return {
      worker, seconds: (performance.now() - t0) / 1000,
      attributions: encodeFloats(read('attributions.npy')), bias: encodeFloats(read('bias.npy')),
      lambda: existsSync(join(out, 'lambda.npy')) ? encodeFloats(read('lambda.npy')) : null,
      solver: s.solver as FitResult['solver'], iterations: s.iterations as number, converged: s.converged as boolean,
      residual: (s.residual as number | null) ?? null, lambdaGrid: (s.lambdaGrid as number[] | null) ?? null,
      chunks: s.chunks as number, peakDeviceBytes: s.peakDeviceBytes as number,
    };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
