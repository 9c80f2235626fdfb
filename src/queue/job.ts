/**
 * A queue job: parameters only, never code. It names one run of mask rows of one sweep and
 * everything a worker needs to compute their margins and to prove it has the right inputs:
 * the weights' and examples' sha256, the component table's hash, the mask stream (seed, α,
 * generator) and the margin dtype. Workers validate every field before use (validateJob).
 */
import { createHash } from 'node:crypto';
import { UserError } from '../errors.js';
import type { DataSpec } from '../coar/examples.js';
import { MASK_GENERATOR } from '../coar/masks.js';
import { INTERPOLATIONS, PREPROCESS_KINDS, type Preprocessing } from '../data/preprocess.js';
import { marginsDtypeOf, type MarginsDtype, type SweepManifest } from '../coar/store_manifest.js';
import { ABS_PATH, fields, FILE_NAME, HEX64, int, isObj, oneOf, str } from './validate.js';

export const JOB_FORMAT = 'webcoar-rows-1';
/** one BullMQ queue for all sweeps: workers need no per-sweep setup */
export const QUEUE_NAME = 'coar-sweep';

export interface SweepJob {
  format: typeof JOB_FORMAT;
  /** hash of every field below except first/count (sweepId) */
  sweep: string;
  first: number;
  count: number;
  /** rows per job of this sweep: the batch the worker plans for, as a plain sweep's --chunk */
  chunk: number;
  model: { arch: string; sha256: string; file: string; path: string };
  components: number;
  componentsSha256: string;
  data: DataSpec;
  /** the example indices, as ranges: "0-499" or "3+7-9" */
  examples: string;
  labelsSha256: string;
  masks: number;
  seed: number;
  alpha: number;
  generator: string;
  dtype: MarginsDtype;
  precision: 'f32' | 'f16';
}

/** What a worker sends back: the margins' raw little-endian bytes (float32, or float16 bits), base64. */
export interface RowsResult { worker: string; seconds: number; margins: string }

const sha256 = (s: string | Uint8Array) => createHash('sha256').update(s).digest('hex');

export const componentsHash = (names: string[]) => sha256(names.join('\n'));
export const labelsHash = (labels: ArrayLike<number>) => sha256(new Uint8Array(Int32Array.from(labels as ArrayLike<number>).buffer));

/** Indices as ranges joined by '+' (consecutive runs written a-b). */
export function encodeIndices(ix: number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < ix.length;) {
    let j = i + 1;
    while (j < ix.length && ix[j] === ix[j - 1]! + 1) j++;
    parts.push(j - i > 1 ? `${ix[i]}-${ix[j - 1]}` : `${ix[i]}`);
    i = j;
  }
  return parts.join('+');
}

export function decodeIndices(text: string, max = 1e8): number[] {
  const out: number[] = [];
  for (const part of text.split('+')) {
    const m = /^(\d{1,9})(?:-(\d{1,9}))?$/.exec(part);
    if (!m) throw new Error(`'${part}' is not an index or a range a-b`);
    const a = Number(m[1]), b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) throw new Error(`range ${part} is empty`);
    if (out.length + b - a + 1 > max) throw new Error(`more than ${max} indices`);
    for (let i = a; i <= b; i++) out.push(i);
  }
  return out;
}

/** Without paths, which may differ between machines: the fields that make two jobs the same sweep. */
function sweepId(j: Omit<SweepJob, 'sweep' | 'first' | 'count'>): string {
  const d = j.data;
  const data = d.source === 'npy' ? { source: d.source, inputsSha256: d.inputsSha256 }
    : d.source === 'fashion-mnist' ? { source: d.source, split: d.split, preprocessing: d.preprocessing }
      : { source: d.source, listingSha256: d.listingSha256, preprocessing: d.preprocessing, badImages: d.badImages };
  return sha256(JSON.stringify([j.format, j.chunk, j.model.arch, j.model.sha256, j.components, j.componentsSha256, data, j.examples, j.labelsSha256, j.masks, j.seed, j.alpha, j.generator, j.dtype, j.precision])).slice(0, 32);
}

/** The BullMQ job id of rows [first, first+count) of a sweep: adding it again is a no-op. */
export const jobId = (sweep: string, first: number, count: number) => `${sweep}-${first}-${count}`;

/** Everything but the row range, from the store's manifest. */
export function jobTemplate(m: SweepManifest, chunk: number, precision: 'f32' | 'f16'): Omit<SweepJob, 'first' | 'count'> {
  const { skipped: _skipped, ...data } = m.data as DataSpec & { skipped?: unknown };
  const t = {
    format: JOB_FORMAT, chunk,
    model: { arch: m.model.arch, sha256: m.model.sha256, file: m.model.weights.split('/').pop()!, path: m.model.weights },
    components: m.components.length, componentsSha256: componentsHash(m.components),
    data: data as DataSpec, examples: encodeIndices(m.examples), labelsSha256: labelsHash(m.labels),
    masks: m.masks, seed: m.seed, alpha: m.alpha, generator: m.generator, dtype: marginsDtypeOf(m), precision,
  } as const;
  return { ...t, sweep: sweepId(t) };
}

// ---- validation: a job comes from the network; nothing in it is trusted ----


function validatePreprocessing(p: unknown): Preprocessing {
  const w = 'job.data.preprocessing';
  if (!isObj(p)) throw new Error(`${w} is not an object`);
  fields(p, w, ['kind', 'resize', 'crop', 'interpolation', 'mean', 'std']);
  const triple = (k: string): [number, number, number] => {
    const v = p[k];
    if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) throw new Error(`${w}.${k} is not three finite numbers`);
    return v as [number, number, number];
  };
  return {
    kind: oneOf(p, 'kind', w, PREPROCESS_KINDS), resize: int(p, 'resize', w, 1, 1 << 14), crop: int(p, 'crop', w, 1, 1 << 14),
    interpolation: oneOf(p, 'interpolation', w, INTERPOLATIONS), mean: triple('mean'), std: triple('std'),
  };
}

function validateData(d: unknown): DataSpec {
  if (!isObj(d)) throw new Error('job.data is not an object');
  const source = oneOf(d, 'source', 'job.data', ['npy', 'fashion-mnist', 'imagefolder', 'list'] as const);
  if (source === 'npy') {
    fields(d, 'job.data', ['source', 'inputs', 'labels', 'inputsSha256']);
    return { source, inputs: str(d, 'inputs', 'job.data', ABS_PATH), labels: str(d, 'labels', 'job.data', ABS_PATH), inputsSha256: str(d, 'inputsSha256', 'job.data', HEX64) };
  }
  if (source === 'fashion-mnist') {
    fields(d, 'job.data', ['source', 'split', 'preprocessing', 'folder']);
    const out: DataSpec = { source, split: oneOf(d, 'split', 'job.data', ['train', 'test'] as const), preprocessing: oneOf(d, 'preprocessing', 'job.data', ['cnn', 'vit'] as const) };
    if (d.folder !== undefined) out.folder = str(d, 'folder', 'job.data', ABS_PATH);
    return out;
  }
  fields(d, 'job.data', ['source', 'path', 'listingSha256', 'preprocessing', 'badImages']);
  return {
    source, path: str(d, 'path', 'job.data', ABS_PATH), listingSha256: str(d, 'listingSha256', 'job.data', HEX64),
    preprocessing: validatePreprocessing(d.preprocessing), badImages: oneOf(d, 'badImages', 'job.data', ['fail', 'skip'] as const),
  };
}

/** Check every field of a job's data; throws an Error naming the first bad field. */
export function validateJob(v: unknown): SweepJob {
  if (!isObj(v)) throw new Error('the job is not an object');
  const w = 'job';
  fields(v, w, ['format', 'sweep', 'first', 'count', 'chunk', 'model', 'components', 'componentsSha256', 'data', 'examples', 'labelsSha256', 'masks', 'seed', 'alpha', 'generator', 'dtype', 'precision']);
  if (v.format !== JOB_FORMAT) throw new Error(`job.format ${JSON.stringify(v.format)} is not ${JOB_FORMAT} (a coordinator of another webcoar version?)`);
  const m = v.model;
  if (!isObj(m)) throw new Error('job.model is not an object');
  fields(m, 'job.model', ['arch', 'sha256', 'file', 'path']);
  const masks = int(v, 'masks', w, 1, 2 ** 31);
  const chunk = int(v, 'chunk', w, 1, 1 << 16);
  const first = int(v, 'first', w, 0, masks - 1);
  const count = int(v, 'count', w, 1, Math.min(chunk, masks - first));
  const alpha = v.alpha;
  if (typeof alpha !== 'number' || !(alpha > 0 && alpha < 1)) throw new Error(`job.alpha ${JSON.stringify(alpha)} is not in (0, 1)`);
  const examples = str(v, 'examples', w, /^[\d+-]+$/, 1 << 22);
  try { decodeIndices(examples); } catch (e) { throw new Error(`job.examples: ${(e as Error).message}`); }
  const job: SweepJob = {
    format: JOB_FORMAT, sweep: str(v, 'sweep', w, /^[0-9a-f]{32}$/), first, count, chunk,
    model: { arch: str(m, 'arch', 'job.model', /^[a-z0-9][a-z0-9_-]{0,40}$/), sha256: str(m, 'sha256', 'job.model', HEX64), file: str(m, 'file', 'job.model', FILE_NAME, 255), path: str(m, 'path', 'job.model', ABS_PATH) },
    components: int(v, 'components', w, 1, 1 << 24), componentsSha256: str(v, 'componentsSha256', w, HEX64),
    data: validateData(v.data), examples, labelsSha256: str(v, 'labelsSha256', w, HEX64),
    masks, seed: int(v, 'seed', w, 0, 2 ** 32 - 1), alpha, generator: oneOf(v, 'generator', w, [MASK_GENERATOR] as const),
    dtype: oneOf(v, 'dtype', w, ['f2', 'f4'] as const), precision: oneOf(v, 'precision', w, ['f32', 'f16'] as const),
  };
  const { sweep: _s, first: _f, count: _c, ...rest } = job;
  if (sweepId(rest) !== job.sweep) throw new Error(`job.sweep ${job.sweep} is not the hash of the job's parameters: the job was altered`);
  return job;
}

/** A result from the network: its margins must be exactly count x n values of the store's dtype. */
export function decodeResult(v: unknown, count: number, n: number, dtype: MarginsDtype): { worker: string; seconds: number; margins: Float32Array | Uint16Array } {
  if (!isObj(v) || typeof v.margins !== 'string' || typeof v.worker !== 'string' || typeof v.seconds !== 'number') throw new UserError('a worker returned a result without margins, worker and seconds');
  const bytes = Buffer.from(v.margins, 'base64');
  const size = dtype === 'f2' ? 2 : 4;
  if (bytes.length !== count * n * size) throw new UserError(`worker ${v.worker.slice(0, 80)} returned ${bytes.length} bytes of margins for ${count} rows x ${n} examples of ${size} bytes`);
  // copy: a Buffer's offset in its pool need not be aligned for a typed view
  const buf = new Uint8Array(bytes).buffer;
  return { worker: v.worker.slice(0, 200), seconds: v.seconds, margins: dtype === 'f2' ? new Uint16Array(buf) : new Float32Array(buf) };
}

export function encodeMargins(m: Float32Array | Uint16Array): string {
  return Buffer.from(m.buffer, m.byteOffset, m.byteLength).toString('base64');
}
