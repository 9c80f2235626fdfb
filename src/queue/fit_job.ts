/**
 * A fit job: parameters only, never code. It names one slice of examples [first, first+count)
 * of one fit: the store (its path on a file system every worker shares, and the facts that
 * prove a worker opened the same store: rows used, file sizes, manifest hash), the estimator
 * and its settings, and the solver the coordinator planned for the whole fit, so every slice
 * is solved as the single-process fit solves it. Workers validate every field before use.
 */
import { createHash } from 'node:crypto';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { storeIdentity } from '../coar/fit/chunks.js';
import type { Solver } from '../coar/fit/design.js';
import type { StoreReader } from '../coar/store.js';
import { ABS_PATH, fields, HEX64, int, isObj, oneOf, str, type Obj } from './validate.js';

export const FIT_JOB_FORMAT = 'webcoar-fit-1';
export const FIT_METHODS = ['ols', 'ridge', 'lasso'] as const;
export const SOLVERS = ['gram', 'dual', 'matrix-free', 'cholesky'] as const;

/** What identifies the store a worker must open: the same rows of the same files. */
export interface FitStoreFacts {
  path: string;
  split: string;
  rows: number;
  /** FNV-1a of the rows used (completed ones) */
  rowsHash: number;
  components: number;
  examples: number;
  masksBytes: number;
  marginsBytes: number;
  /** modification times at the coordinator: part of the fit's identity (a store swept again is another fit), not checked by workers */
  masksMtimeMs: number;
  marginsMtimeMs: number;
  /** sha256 of manifest.json, or null when the store has none */
  manifestSha256: string | null;
}

export interface FitJob {
  format: typeof FIT_JOB_FORMAT;
  /** hash of every field below except first/count */
  fit: string;
  first: number;
  count: number;
  /** examples per job of this fit (the last job may have fewer) */
  perJob: number;
  store: FitStoreFacts;
  method: (typeof FIT_METHODS)[number];
  lambda: number | null;
  valFrac: number;
  solver: Solver;
  tol: number | null;
  maxIter: number | null;
  examplesPerChunk: number | null;
}

/** What a worker sends back: raw little-endian float32 bytes, base64, and the solver's record. */
export interface FitResult {
  worker: string;
  seconds: number;
  /** [|C| x count] row-major */
  attributions: string;
  bias: string;
  /** per example, when chosen on held-out rows */
  lambda: string | null;
  solver: Solver;
  iterations: number;
  converged: boolean;
  residual: number | null;
  lambdaGrid: number[] | null;
  chunks: number;
  peakDeviceBytes: number;
}

const sha256 = (s: string | Uint8Array) => createHash('sha256').update(s).digest('hex');

export function storeFacts(store: StoreReader): FitStoreFacts {
  const id = storeIdentity([store.masks.path, store.margins.path], store.usedRows) as { rows: number; rowsHash: number; files: { size: number; mtimeMs: number }[] };
  const manifest = join(store.dir, 'manifest.json');
  return {
    path: store.dir, split: store.split, rows: id.rows, rowsHash: id.rowsHash, components: store.components, examples: store.examples,
    masksBytes: id.files[0]!.size, marginsBytes: id.files[1]!.size, masksMtimeMs: id.files[0]!.mtimeMs, marginsMtimeMs: id.files[1]!.mtimeMs,
    manifestSha256: existsSync(manifest) ? sha256(readFileSync(manifest)) : null,
  };
}

function fitId(j: Omit<FitJob, 'fit' | 'first' | 'count'>): string {
  const s = j.store;
  return sha256(JSON.stringify([j.format, j.perJob, s.path, s.split, s.rows, s.rowsHash, s.components, s.examples, s.masksBytes, s.marginsBytes,
    s.masksMtimeMs, s.marginsMtimeMs, s.manifestSha256, j.method, j.lambda, j.valFrac, j.solver, j.tol, j.maxIter, j.examplesPerChunk])).slice(0, 32);
}

/** The BullMQ job id of examples [first, first+count) of a fit: adding it again is a no-op. */
export const fitJobId = (fit: string, first: number, count: number) => `fit-${fit}-${first}-${count}`;

export function fitJobTemplate(t: Omit<FitJob, 'format' | 'fit' | 'first' | 'count'>): Omit<FitJob, 'first' | 'count'> {
  const u = { format: FIT_JOB_FORMAT, ...t } as const;
  return { ...u, fit: fitId(u) };
}

/** Which facts of the store a worker opened differ from the job's, or null when none. */
export function storeMismatch(want: FitStoreFacts, have: FitStoreFacts): string | null {
  for (const k of ['split', 'rows', 'rowsHash', 'components', 'examples', 'masksBytes', 'marginsBytes', 'manifestSha256'] as const) {
    if (want[k] !== have[k]) return `${k} is ${JSON.stringify(have[k])} here, ${JSON.stringify(want[k])} at the coordinator`;
  }
  return null;
}

// ---- validation: a job and a result come from the network ----

const num = (o: Obj, k: string, where: string, ok: (v: number) => boolean, what: string): number => {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw new Error(`${where}.${k} ${JSON.stringify(v)?.slice(0, 40)} is not ${what}`);
  return v;
};
const nullable = <T>(o: Obj, k: string, f: () => T): T | null => (o[k] === null ? null : f());

function validateStore(v: unknown): FitStoreFacts {
  const w = 'job.store';
  if (!isObj(v)) throw new Error(`${w} is not an object`);
  fields(v, w, ['path', 'split', 'rows', 'rowsHash', 'components', 'examples', 'masksBytes', 'marginsBytes', 'masksMtimeMs', 'marginsMtimeMs', 'manifestSha256']);
  return {
    path: str(v, 'path', w, ABS_PATH), split: str(v, 'split', w, /^[A-Za-z0-9._-]{1,100}$/),
    rows: int(v, 'rows', w, 1, 2 ** 31), rowsHash: int(v, 'rowsHash', w, 0, 2 ** 32 - 1),
    components: int(v, 'components', w, 1, 1 << 24), examples: int(v, 'examples', w, 1, 2 ** 31),
    masksBytes: int(v, 'masksBytes', w, 1, Number.MAX_SAFE_INTEGER), marginsBytes: int(v, 'marginsBytes', w, 1, Number.MAX_SAFE_INTEGER),
    masksMtimeMs: num(v, 'masksMtimeMs', w, (x) => x >= 0, 'a time'), marginsMtimeMs: num(v, 'marginsMtimeMs', w, (x) => x >= 0, 'a time'),
    manifestSha256: nullable(v, 'manifestSha256', () => str(v, 'manifestSha256', w, HEX64)),
  };
}

/** Check every field of a fit job's data; throws an Error naming the first bad field. */
export function validateFitJob(v: unknown): FitJob {
  if (!isObj(v)) throw new Error('the job is not an object');
  const w = 'job';
  fields(v, w, ['format', 'fit', 'first', 'count', 'perJob', 'store', 'method', 'lambda', 'valFrac', 'solver', 'tol', 'maxIter', 'examplesPerChunk']);
  if (v.format !== FIT_JOB_FORMAT) throw new Error(`job.format ${JSON.stringify(v.format)} is not ${FIT_JOB_FORMAT} (a coordinator of another webcoar version?)`);
  const store = validateStore(v.store);
  const perJob = int(v, 'perJob', w, 1, store.examples);
  const first = int(v, 'first', w, 0, store.examples - 1);
  const job: FitJob = {
    format: FIT_JOB_FORMAT, fit: str(v, 'fit', w, /^[0-9a-f]{32}$/), first, count: int(v, 'count', w, 1, Math.min(perJob, store.examples - first)), perJob, store,
    method: oneOf(v, 'method', w, FIT_METHODS), lambda: nullable(v, 'lambda', () => num(v, 'lambda', w, (x) => x >= 0, 'a number >= 0')),
    valFrac: num(v, 'valFrac', w, (x) => x > 0 && x < 1, 'in (0, 1)'), solver: oneOf(v, 'solver', w, SOLVERS),
    tol: nullable(v, 'tol', () => num(v, 'tol', w, (x) => x > 0, 'a number > 0')),
    maxIter: nullable(v, 'maxIter', () => int(v, 'maxIter', w, 1, 1e9)),
    examplesPerChunk: nullable(v, 'examplesPerChunk', () => int(v, 'examplesPerChunk', w, 4, 1 << 24)),
  };
  if (job.examplesPerChunk !== null && job.examplesPerChunk % 4) throw new Error(`job.examplesPerChunk ${job.examplesPerChunk} is not a multiple of 4`);
  const { fit: _f, first: _a, count: _c, ...rest } = job;
  if (fitId(rest) !== job.fit) throw new Error(`job.fit ${job.fit} is not the hash of the job's parameters: the job was altered`);
  return job;
}

export function encodeFloats(a: Float32Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
}

function decodeFloats(s: unknown, length: number, what: string, worker: string): Float32Array {
  if (typeof s !== 'string') throw new UserError(`worker ${worker} returned no ${what}`);
  const bytes = Buffer.from(s, 'base64');
  if (bytes.length !== length * 4) throw new UserError(`worker ${worker} returned ${bytes.length} bytes of ${what}, expected ${length} float32 values`);
  // copy: a Buffer's offset in its pool need not be aligned for a typed view
  const out = new Float32Array(new Uint8Array(bytes).buffer);
  if (!out.every(Number.isFinite)) throw new UserError(`worker ${worker} returned non-finite ${what}`);
  return out;
}

export interface DecodedFit {
  worker: string; seconds: number; attributions: Float32Array; bias: Float32Array; lambda: Float32Array | null;
  iterations: number; converged: boolean; residual: number | null; lambdaGrid: number[] | null; chunks: number; peakDeviceBytes: number;
}

/** A result from the network: exactly the job's columns, solved by the job's solver, lambdas exactly when they are chosen. */
export function decodeFitResult(v: unknown, job: Pick<FitJob, 'count' | 'store' | 'solver' | 'lambda' | 'method'>): DecodedFit {
  if (!isObj(v) || typeof v.worker !== 'string' || typeof v.seconds !== 'number') throw new UserError('a worker returned a fit result without worker and seconds');
  const worker = v.worker.slice(0, 200);
  if (v.solver !== job.solver) throw new UserError(`worker ${worker} solved with ${JSON.stringify(v.solver)?.slice(0, 40)}, the fit's solver is ${job.solver}`);
  const choosing = job.lambda === null && job.method !== 'ols';
  if ((v.lambda === null) === choosing) throw new UserError(`worker ${worker} returned ${v.lambda === null ? 'no' : ''} lambdas for a fit that ${choosing ? 'chooses' : 'gives'} them`);
  const n = job.count;
  const grid = v.lambdaGrid;
  if (grid !== null && !(Array.isArray(grid) && grid.every((x) => typeof x === 'number' && Number.isFinite(x)))) throw new UserError(`worker ${worker} returned a bad lambda grid`);
  const count = (k: string) => { const x = v[k]; if (typeof x !== 'number' || !Number.isInteger(x) || x < 0) throw new UserError(`worker ${worker} returned ${k} ${JSON.stringify(x)?.slice(0, 40)}`); return x; };
  if (typeof v.converged !== 'boolean' || !(v.residual === null || typeof v.residual === 'number')) throw new UserError(`worker ${worker} returned no solver record`);
  return {
    worker, seconds: v.seconds,
    attributions: decodeFloats(v.attributions, job.store.components * n, 'attributions', worker),
    bias: decodeFloats(v.bias, n, 'bias', worker),
    lambda: v.lambda === null ? null : decodeFloats(v.lambda, n, 'lambdas', worker),
    iterations: count('iterations'), converged: v.converged, residual: v.residual as number | null, lambdaGrid: grid as number[] | null,
    chunks: count('chunks'), peakDeviceBytes: count('peakDeviceBytes'),
  };
}
