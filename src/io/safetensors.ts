/**
 * safetensors files: an 8-byte little-endian header length, a JSON header
 * { name: { dtype, shape, data_offsets }, __metadata__ }, then the raw tensor bytes.
 * Only the length and the header are read at first, and every entry is checked against
 * the file (dtype, shape, offsets in range, sizes, no overlaps, no duplicate names) before
 * any tensor is: a hostile header claiming gigabytes costs nothing. A tensor's bytes are
 * read when its data is first used, after the model has checked its shape, and refused
 * with its name if they hold NaN or Inf.
 */
import { closeSync, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { UserError } from '../errors.js';
import { writeFileAtomic } from './atomic.js';
import { bfloatsToFloats, halvesToFloats } from './f16.js';
import { firstDuplicateKey } from './json_duplicates.js';

export interface Tensor {
  shape: number[];
  /** read from the file on first use */
  data: Float32Array;
}

export interface TensorFile {
  path: string;
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

const SIZE: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4, U8: 1, BOOL: 1 };
const FLOAT = new Set(['F32', 'F16', 'BF16', 'F64']);
/** the format's own limit (the safetensors crate's MAX_HEADER_SIZE) */
const MAX_HEADER = 100_000_000;

const errno = (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;

/** Fill `out` from `position`; a read of 0 bytes means the file is shorter than it said. */
function readFully(fd: number, out: Uint8Array, position: number, path: string, what: string): void {
  let done = 0;
  while (done < out.length) {
    const n = readSync(fd, out, done, Math.min(out.length - done, 1 << 30), position + done);
    if (n <= 0) throw new UserError(`${path}: file ended early while reading ${what} (truncated, or changed while being read)`);
    done += n;
  }
}

function isCount(v: unknown): v is number { return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0; }

export function readSafetensors(path: string): TensorFile {
  let fd: number;
  try { fd = openSync(path, 'r'); } catch (e) { throw new UserError(`cannot read ${path}: ${errno(e)}`); }
  let stat: Stats, header: Record<string, unknown>, headerLen: number;
  const bad = (why: string) => new UserError(`${path}: not a valid safetensors file (${why})`);
  try {
    stat = fstatSync(fd);
    if (stat.isDirectory()) throw new UserError(`${path} is a folder, expected a .safetensors file`);
    if (!stat.isFile()) throw new UserError(`${path} is not a regular file, expected a .safetensors file`);
    if (stat.size < 8) throw bad(`only ${stat.size} bytes`);
    const len = Buffer.alloc(8);
    readFully(fd, len, 0, path, 'the header length');
    const claimed = len.readBigUInt64LE(0);
    if (claimed < 2n || claimed > BigInt(MAX_HEADER)) throw bad(`header length ${claimed} is outside 2..${MAX_HEADER} bytes`);
    headerLen = Number(claimed);
    if (8 + headerLen > stat.size) throw bad(`header length ${headerLen} does not fit a ${stat.size}-byte file`);
    const bytes = Buffer.alloc(headerLen);
    readFully(fd, bytes, 8, path, 'the header');
    let text: string;
    try { text = new TextDecoder('utf-8', { fatal: true }).decode(bytes); } catch { throw bad('header is not UTF-8 text'); }
    try { header = JSON.parse(text); } catch (e) { throw bad(`header is not JSON: ${(e as Error).message}`); }
    if (typeof header !== 'object' || header === null || Array.isArray(header)) throw bad('header is not a JSON object');
    const dup = firstDuplicateKey(text);
    if (dup) throw bad(`the header names '${dup.join('.')}' twice (JSON would keep only the last)`);
  } finally {
    closeSync(fd);
  }

  const dataStart = 8 + headerLen;
  const dataBytes = stat.size - dataStart;
  const meta = header.__metadata__ ?? {};
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta) || Object.values(meta).some((v) => typeof v !== 'string')) {
    throw bad('__metadata__ is not an object of strings');
  }
  const metadata = meta as Record<string, string>;
  const spans: { name: string; b: number; e: number }[] = [];
  const tensors = new Map<string, Tensor>();
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (typeof info !== 'object' || info === null || Array.isArray(info)) throw bad(`entry '${name}' is not an object`);
    const { dtype, shape, data_offsets: off } = info as Record<string, unknown>;
    if (typeof dtype !== 'string' || !(dtype in SIZE)) {
      throw new UserError(`${path}: tensor '${name}' has unsupported dtype ${JSON.stringify(dtype)} (use ${Object.keys(SIZE).join(', ')})`);
    }
    if (!Array.isArray(shape) || !shape.every(isCount)) throw bad(`tensor '${name}' has shape ${JSON.stringify(shape)}, expected a list of non-negative integers`);
    if (!Array.isArray(off) || off.length !== 2 || !off.every(isCount) || off[0]! > off[1]!) {
      throw bad(`tensor '${name}' has data_offsets ${JSON.stringify(off)}, expected [begin, end] with 0 <= begin <= end`);
    }
    const dims = shape as number[];
    const [b, e] = off as [number, number];
    // in floating point: a claimed shape past 2^53 elements must not wrap to a small size
    const need = dims.reduce((a, d) => a * d, 1) * SIZE[dtype]!;
    const shown = `'${name}' [${dims.join(', ')}] ${dtype}`;
    if (need !== e - b) throw bad(`tensor ${shown} needs ${need} bytes but its data_offsets [${b}, ${e}] span ${e - b}`);
    if (e > dataBytes) throw new UserError(`${path}: tensor ${shown} needs bytes ${b}-${e} but the file holds ${dataBytes} data bytes (truncated or corrupt)`);
    if (e > b) spans.push({ name, b, e }); // empty tensors occupy no bytes
    tensors.set(name, lazyTensor(path, stat, dims, dtype, dataStart + b, need, name));
  }
  spans.sort((x, y) => x.b - y.b || x.e - y.e);
  for (let i = 1; i < spans.length; i++) {
    const p = spans[i - 1]!, q = spans[i]!;
    if (q.b < p.e) throw bad(`tensors '${p.name}' (bytes ${p.b}-${p.e}) and '${q.name}' (bytes ${q.b}-${q.e}) overlap`);
  }
  return { path, tensors, metadata };
}

/** A tensor whose bytes are read, converted to float32 and checked finite on first use. */
function lazyTensor(path: string, stat: Stats, shape: number[], dtype: string, position: number, byteLength: number, name: string): Tensor {
  let data: Float32Array | undefined;
  return {
    shape,
    get data() { return (data ??= readTensor(path, stat, dtype, position, byteLength, name)); },
  };
}

function readTensor(path: string, stat: Stats, dtype: string, position: number, byteLength: number, name: string): Float32Array {
  let fd: number;
  try { fd = openSync(path, 'r'); } catch (e) { throw new UserError(`cannot read ${path}: ${errno(e)}`); }
  let bytes: Uint8Array;
  try {
    const now = fstatSync(fd);
    if (now.ino !== stat.ino || now.size !== stat.size || now.mtimeMs !== stat.mtimeMs) {
      throw new UserError(`${path} changed while it was being read (tensor '${name}'): run again once it is written`);
    }
    try { bytes = new Uint8Array(byteLength); } catch {
      throw new UserError(`${path}: tensor '${name}' is ${byteLength} bytes, more than this process can hold`);
    }
    readFully(fd, bytes, position, path, `tensor '${name}'`);
  } finally {
    closeSync(fd);
  }
  let data: Float32Array;
  switch (dtype) {
    case 'F32': data = new Float32Array(bytes.buffer); break;
    case 'F16': data = halvesToFloats(new Uint16Array(bytes.buffer)); break;
    case 'BF16': data = bfloatsToFloats(new Uint16Array(bytes.buffer)); break;
    case 'F64': data = Float32Array.from(new Float64Array(bytes.buffer)); break;
    case 'I64': data = Float32Array.from(new BigInt64Array(bytes.buffer), (v) => Number(v)); break;
    case 'I32': data = Float32Array.from(new Int32Array(bytes.buffer)); break;
    default: data = Float32Array.from(bytes); break;
  }
  if (FLOAT.has(dtype)) {
    const i = data.findIndex((v) => !Number.isFinite(v));
    if (i >= 0) {
      const what = dtype === 'F64' && Number.isFinite(new Float64Array(bytes.buffer)[i]) ? ' (a float64 beyond the float32 range)' : '';
      throw new UserError(`${path}: tensor '${name}' holds ${data[i]}${what} at flat index ${i}: the weights are corrupt or diverged, refusing to compute with them`);
    }
  }
  return data;
}

/** Write float32 tensors (with the given names and shapes) and string metadata. */
export function writeSafetensors(path: string, tensors: Map<string, Tensor>, metadata: Record<string, string> = {}): void {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of tensors) {
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json = json.padEnd(Math.ceil((json.length + 8) / 8) * 8 - 8, ' ');
  const head = new Uint8Array(8 + json.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(json.length), true);
  head.set(new TextEncoder().encode(json), 8);
  writeFileAtomic(path, [head, ...[...tensors.values()].map((t) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength))]);
}
