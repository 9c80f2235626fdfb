/**
 * The examples' input tensors as the ablation reads them: a run of examples at a time, NCHW
 * float32. Held in memory for small sets; for image sets too large for that (50,000
 * ImageNet crops are 30 GB as float32), read from a uint8 pixel cache on disk
 * (src/data/pixel_cache.ts) and turned into tensors per run, and for a preprocessed .npy too
 * large for that, read from the file a run of rows at a time: only a batch of examples is
 * ever in memory.
 */
import type { Preprocessing } from '../data/preprocess.js';
import { openPixelCache } from '../data/pixel_cache.js';
import { UserError } from '../errors.js';
import { NpyFile } from '../io/npy.js';

export interface ExampleInputs {
  /** examples */
  readonly n: number;
  /** floats per example (c * h * w) */
  readonly per: number;
  /** NCHW float32 of examples [first, first + count): a view, valid until the next call */
  chunk(first: number, count: number): Float32Array;
  /** the whole tensor in memory, when it is held there */
  readonly data?: Float32Array;
  close?(): void;
}

/**
 * rows[first, first + count) as runs of consecutive rows, each read in one call:
 * `visit(at, row, len)` for positions [at, at + len) holding rows [row, row + len).
 */
export function eachRun(rows: readonly number[], first: number, count: number, visit: (at: number, row: number, len: number) => void): void {
  for (let i = 0; i < count;) {
    let j = i + 1;
    while (j < count && rows[first + j] === rows[first + j - 1]! + 1) j++;
    visit(i, rows[first + i]!, j - i);
    i = j;
  }
}

export function memoryInputs(data: Float32Array, per: number): ExampleInputs {
  return { n: per ? data.length / per : 0, per, data, chunk: (first, count) => data.subarray(first * per, (first + count) * per) };
}

/** Inputs read from a pixel cache: `rows` are the cache rows of the examples, in order. */
export function cachedInputs(path: string, rows: readonly number[], p: Preprocessing): ExampleInputs {
  const cache = openPixelCache(path);
  const per = 3 * cache.height * cache.width;
  // one buffer for every batch (the sweep asks for the same size over and over)
  let scratch = new Float32Array(0);
  return {
    n: rows.length, per,
    chunk(first, count) {
      if (scratch.length < count * per) scratch = new Float32Array(count * per);
      const out = scratch.subarray(0, count * per);
      eachRun(rows, first, count, (at, row, len) => cache.tensors(row, len, p, out, at * per));
      return out;
    },
    close() { cache.close(); },
  };
}

/**
 * Inputs read from a float32 .npy [N, C, H, W] (C order) a run of rows at a time: `rows` are
 * the file rows of the examples, in order. For preprocessed tensors too large to hold (a
 * 50,000-image ImageNet tensor is 30 GB); rows are read straight into one reused buffer.
 */
export function npyInputs(path: string, rows: readonly number[], per: number): ExampleInputs {
  const f = NpyFile.open(path);
  if (f.header.dtype !== 'f4' || f.header.fortranOrder) {
    f.close();
    throw new Error(`${path}: rows are streamed from C-ordered float32 files only`);
  }
  let scratch = new Float32Array(0);
  return {
    n: rows.length, per,
    chunk(first, count) {
      if (scratch.length < count * per) scratch = new Float32Array(count * per);
      const bytes = new Uint8Array(scratch.buffer, 0, count * per * 4);
      eachRun(rows, first, count, (at, row, len) => f.readRowBytes(row, row + len, bytes.subarray(at * per * 4)));
      return scratch.subarray(0, count * per);
    },
    close() { f.close(); },
  };
}

/** The whole tensor in memory: from memory as it is, from a cache only up to `maxBytes`. */
export function materialize(inputs: ExampleInputs, what: string, maxBytes = 4 << 30): Float32Array {
  if (inputs.data) return inputs.data;
  const bytes = inputs.n * inputs.per * 4;
  if (bytes > maxBytes) throw new UserError(`${what} needs its ${inputs.n} examples in memory (${(bytes / 2 ** 30).toFixed(1)} GiB as float32): use fewer examples`);
  return inputs.chunk(0, inputs.n).slice();
}
