/**
 * safetensors files: an 8-byte little-endian header length, a JSON header
 * { name: { dtype, shape, data_offsets }, __metadata__ }, then the raw tensor bytes.
 * Every tensor is checked against the file before use, so a truncated or corrupt file
 * fails with its name instead of producing garbage.
 */
import { readFileSync, statSync } from 'node:fs';
import { UserError } from '../errors.js';
import { writeFileAtomic } from './atomic.js';
import { bfloatsToFloats, halvesToFloats } from './f16.js';

export interface Tensor {
  shape: number[];
  data: Float32Array;
}

export interface TensorFile {
  path: string;
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

const SIZE: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4, U8: 1, BOOL: 1 };

export function readSafetensors(path: string): TensorFile {
  let buf: Buffer;
  try {
    if (statSync(path).isDirectory()) throw new UserError(`${path} is a folder, expected a .safetensors file`);
    buf = readFileSync(path);
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  const bad = (why: string) => new UserError(`${path}: not a valid safetensors file (${why})`);
  if (buf.length < 8) throw bad(`only ${buf.length} bytes`);
  const headerLen = Number(buf.readBigUInt64LE(0));
  if (headerLen <= 1 || headerLen > 100_000_000 || 8 + headerLen > buf.length) throw bad(`header length ${headerLen} does not fit a ${buf.length}-byte file`);
  let header: Record<string, any>;
  try { header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8')); } catch { throw bad('header is not JSON'); }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw bad('header is not a JSON object');
  const dataStart = 8 + headerLen;
  const tensors = new Map<string, Tensor>();
  const metadata: Record<string, string> = header.__metadata__ ?? {};
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const { dtype, shape, data_offsets: off } = info as { dtype: string; shape: number[]; data_offsets: [number, number] };
    if (!(dtype in SIZE)) throw new UserError(`${path}: tensor '${name}' has unsupported dtype ${dtype} (use F32, F16 or BF16)`);
    if (!Array.isArray(shape) || !Array.isArray(off) || off.length !== 2) throw bad(`tensor '${name}' has no shape or data_offsets`);
    const count = shape.reduce((a, b) => a * b, 1);
    const [b, e] = off;
    if (e - b !== count * SIZE[dtype]! || b < 0 || dataStart + e > buf.length) {
      throw new UserError(`${path}: tensor '${name}' [${shape.join(', ')}] ${dtype} needs bytes ${b}-${e} but the file holds ${buf.length - dataStart} data bytes (truncated or corrupt)`);
    }
    const bytes = new Uint8Array(buf.buffer, buf.byteOffset + dataStart + b, e - b).slice();
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
    tensors.set(name, { shape, data });
  }
  return { path, tensors, metadata };
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
