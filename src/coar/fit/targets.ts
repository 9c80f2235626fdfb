/**
 * The margins a fit reads, one chunk of examples (columns) at a time: from memory, or
 * streamed from a store's margins file by blocks of rows (never the whole file at once).
 */
import { UserError } from '../../errors.js';
import { halvesToFloats } from '../../io/f16.js';
import type { NpyFile } from '../../io/npy.js';

export interface TargetColumns {
  rows: number;
  examples: number;
  /** margins of every row, examples [c0, c1), as [rows x (c1 - c0)] row-major float32 */
  columns(c0: number, c1: number): Float32Array;
}

export function inMemoryTargets(margins: Float32Array, rows: number, n: number): TargetColumns {
  return {
    rows, examples: n,
    columns(c0, c1) {
      const w = c1 - c0;
      const out = new Float32Array(rows * w);
      for (let i = 0; i < rows; i++) out.set(margins.subarray(i * n + c0, i * n + c1), i * w);
      return out;
    },
  };
}

/** Runs of consecutive rows in `rows`, each at most `span` long, as [first index, end index). */
export function runs(rows: readonly number[], span: number): [number, number][] {
  const out: [number, number][] = [];
  for (let s = 0; s < rows.length;) {
    let e = s + 1;
    while (e < rows.length && e - s < span && rows[e] === rows[e - 1]! + 1) e++;
    out.push([s, e]);
    s = e;
  }
  return out;
}

/**
 * The listed rows of a margins file [rows x n], read in blocks of about `blockBytes`.
 * `columns` reads every block once per chunk: disk traffic is the file once per chunk, memory
 * one block plus the chunk.
 */
export function fileTargets(file: NpyFile, rows: readonly number[], blockBytes = 32 << 20): TargetColumns {
  const n = file.rowElems;
  const span = Math.max(1, Math.floor(blockBytes / (n * file.header.itemSize)));
  const spans = runs(rows, span);
  const block = blockReader(file, span);
  return {
    rows: rows.length, examples: n,
    columns(c0, c1) {
      const w = c1 - c0;
      const out = new Float32Array(rows.length * w);
      for (const [s, e] of spans) {
        const vals = block(rows[s]!, rows[e - 1]! + 1);
        for (let i = s; i < e; i++) out.set(vals.subarray((i - s) * n + c0, (i - s) * n + c1), i * w);
      }
      return out;
    },
  };
}

/**
 * Rows [r0, r1) (at most `span`) as float32, in buffers reused from one call to the next for
 * float32 and float16 files: a fit or score reads the file once per chunk, and blocks freed
 * by the collector only later would add several blocks to the peak memory. The result is
 * valid until the next call.
 */
function blockReader(file: NpyFile, span: number): (r0: number, r1: number) => Float32Array {
  const h = file.header, n = file.rowElems;
  const reuse = (h.dtype === 'f4' || h.dtype === 'f2') && !(h.fortranOrder && h.shape.filter((d) => d > 1).length > 1);
  if (!reuse) return (r0, r1) => file.readFloatRows(r0, r1);
  let bytes: Uint8Array | undefined, floats: Float32Array | undefined;
  return (r0, r1) => {
    const need = Math.min(span, file.rows) * n;
    bytes ??= new Uint8Array(need * h.itemSize);
    const b = file.readRowBytes(r0, r1, bytes);
    if (h.dtype === 'f4') return new Float32Array(b.buffer, b.byteOffset, (r1 - r0) * n);
    floats ??= new Float32Array(need);
    return halvesToFloats(new Uint16Array(b.buffer, b.byteOffset, (r1 - r0) * n), floats);
  };
}

/** Reject NaN and Inf margins naming the rows, reading the listed rows block by block. */
export function checkFinite(file: NpyFile, rows: readonly number[], blockBytes = 32 << 20): void {
  const n = file.rowElems;
  const bad: number[] = [];
  const span = Math.max(1, Math.floor(blockBytes / (n * file.header.itemSize)));
  const block = blockReader(file, span);
  for (const [s, e] of runs(rows, span)) {
    const vals = block(rows[s]!, rows[e - 1]! + 1);
    for (let i = s; i < e; i++) {
      for (let j = 0; j < n; j++) if (!Number.isFinite(vals[(i - s) * n + j]!)) { bad.push(rows[i]!); break; }
    }
  }
  if (bad.length) {
    // the wording of store.ts readMargins, which reads whole files
    const list = bad.slice(0, 10).join(', ') + (bad.length > 10 ? `, ... (${bad.length} rows)` : '');
    throw new UserError(`${file.path}: NaN or Inf margins in row${bad.length > 1 ? 's' : ''} ${list}; re-run those masks or mark them not completed in _completed.npy`);
  }
}
