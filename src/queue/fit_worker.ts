/**
 * A worker's fit job: open the store the job names (on the shared file system), prove it is
 * the coordinator's (rows used, sizes, manifest hash), then fit the job's slice exactly as
 * `coar fit --examples a:b` does, with the coordinator's solver, into a private folder whose
 * columns go back as raw float32 bytes. The fit runs in a child `coar fit` process: its host
 * steps (packing the masks, a Cholesky factor) hold the event loop for seconds to minutes,
 * which in this process would starve the renewal of the job's lock, and BullMQ would give a
 * live job to another worker. The child leaves when this process dies (COAR_WORKER_PID).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors.js';
import { openStore } from '../coar/store.js';
import type { GpuOptions } from '../gpu/device.js';
import { readNpy, toFloat32 } from '../io/npy.js';
import { encodeFloats, storeFacts, storeMismatch, type FitJob, type FitResult } from './fit_job.js';

const COAR = fileURLToPath(new URL('../../bin/coar.js', import.meta.url));

/** `coar fit` flags of a job: every value from the validated job, none from elsewhere. */
function fitArgs(job: FitJob, out: string, gpu: GpuOptions): string[] {
  const a = ['fit', job.store.path, '--out', out, '--examples', `${job.first}:${job.first + job.count}`, '--split', job.store.split,
    '--method', job.method, '--solver', job.solver, '--val-frac', String(job.valFrac), '--quiet', '--json'];
  if (job.lambda !== null && job.method !== 'ols') a.push('--lambda', String(job.lambda));
  if (job.tol !== null) a.push('--tol', String(job.tol));
  if (job.maxIter !== null) a.push('--max-iter', String(job.maxIter));
  if (job.examplesPerChunk !== null) a.push('--examples-per-chunk', String(job.examplesPerChunk));
  if (gpu.backend !== undefined) a.push('--backend', gpu.backend);
  if (gpu.adapter !== undefined) a.push('--adapter', gpu.adapter);
  return a;
}

export async function runFitJob(job: FitJob, gpu: GpuOptions, worker: string, onChild?: (c: ChildProcess) => void): Promise<FitResult> {
  const t0 = performance.now();
  if (!existsSync(job.store.path)) throw new UserError(`store ${job.store.path} is not on this machine: fit workers read the coordinator's store on a shared file system, at the same path`);
  const store = openStore(job.store.path, { split: job.store.split });
  try {
    const why = storeMismatch(job.store, storeFacts(store));
    if (why) throw new UserError(`store ${job.store.path} is not the coordinator's: ${why}`);
  } finally { store.close(); }
  const out = mkdtempSync(join(tmpdir(), 'coar-fit-job-'));
  try {
    const child = spawn(process.execPath, [COAR, ...fitArgs(job, out, gpu)], {
      stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, COAR_WORKER_PID: String(process.pid) },
    });
    onChild?.(child);
    let stdout = '', stderr = '';
    child.stdout!.on('data', (d) => { stdout += d; });
    child.stderr!.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
    const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    if (code !== 0) {
      const last = stderr.trim().split('\n').filter((l) => l.trim()).pop() ?? '';
      throw new Error(`coar fit of examples ${job.first}-${job.first + job.count - 1} exited ${code ?? child.signalCode}: ${last.replace(/^coar: /, '')}`);
    }
    const s = JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>;
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
