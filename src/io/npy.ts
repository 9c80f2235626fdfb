/**
 * NumPy .npy files (format versions 1-3), the reference store's format: read whole,
 * read a header and then row ranges (for stores larger than memory), and write atomically.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { UserError } from '../errors.js';
import { writeFileAtomic } from './atomic.js';
import { halvesToFloats } from './f16.js';

export type NpyDtype = 'f4' | 'f8' | 'f2' | 'b1' | 'u1' | 'i1' | 'i2' | 'u2' | 'i4' | 'u4' | 'i8' | 'u8';
export type NpyData = Float32Array | Float64Array | Uint16Array | Uint8Array | Int8Array | Int16Array | Int32Array | Uint32Array | BigInt64Array | BigUint64Array;

export interface NpyHeader {
  dtype: NpyDtype;
  shape: number[];
  /** byte offset of the data in the file */
  dataOffset: number;
  itemSize: number;
}

export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  data: NpyData;
}

const ITEM: Record<NpyDtype, number> = { f4: 4, f8: 8, f2: 2, b1: 1, u1: 1, i1: 1, i2: 2, u2: 2, i4: 4, u4: 4, i8: 8, u8: 8 };
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

export function parseNpyHeader(buf: Uint8Array, path: string, fileSize: number): NpyHeader {
  const bad = (why: string) => new UserError(`${path}: not a valid .npy file (${why})`);
  if (buf.length < 10 || MAGIC.some((b, i) => buf[i] !== b)) throw bad('missing \\x93NUMPY magic');
  const major = buf[6]!;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let headerLen: number, start: number;
  if (major === 1) { headerLen = dv.getUint16(8, true); start = 10; }
  else if (major === 2 || major === 3) {
    if (buf.length < 12) throw bad('truncated header');
    headerLen = dv.getUint32(8, true); start = 12;
  } else throw bad(`unknown format version ${major}`);
  if (start + headerLen > buf.length) throw bad('truncated header');
  const text = new TextDecoder().decode(buf.subarray(start, start + headerLen));
  const descr = /'descr':\s*'([^']*)'/.exec(text)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(text)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw bad(`unreadable header ${JSON.stringify(text.trim())}`);
  if (fortran === 'True') throw new UserError(`${path}: Fortran-ordered arrays are not supported; save with np.ascontiguousarray`);
  const order = descr[0];
  const code = descr.slice(1) as NpyDtype;
  if (!(code in ITEM) || (order === '>' && ITEM[code] > 1)) throw new UserError(`${path}: unsupported dtype '${descr}' (use little-endian float32/float16/bool/uint8/int32/int64)`);
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s.length > 0).map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw bad(`bad shape (${shapeText})`);
  const dataOffset = start + headerLen;
  const need = dataOffset + shape.reduce((a, b) => a * b, 1) * ITEM[code];
  if (fileSize < need) throw new UserError(`${path}: truncated .npy file: shape [${shape.join(', ')}] of ${descr} needs ${need} bytes, file has ${fileSize}`);
  return { dtype: code, shape, dataOffset, itemSize: ITEM[code] };
}

function view(dtype: NpyDtype, bytes: Uint8Array): NpyData {
  // copy to an aligned buffer owned by the array
  const b = bytes.slice().buffer;
  switch (dtype) {
    case 'f4': return new Float32Array(b);
    case 'f8': return new Float64Array(b);
    case 'f2': case 'u2': return new Uint16Array(b);
    case 'b1': case 'u1': return new Uint8Array(b);
    case 'i1': return new Int8Array(b);
    case 'i2': return new Int16Array(b);
    case 'i4': return new Int32Array(b);
    case 'u4': return new Uint32Array(b);
    case 'i8': return new BigInt64Array(b);
    case 'u8': return new BigUint64Array(b);
  }
}

/** An open .npy file from which row ranges are read on demand. */
export class NpyFile {
  readonly header: NpyHeader;
  readonly rowElems: number;
  private constructor(readonly path: string, private fd: number, header: NpyHeader) {
    this.header = header;
    this.rowElems = header.shape.slice(1).reduce((a, b) => a * b, 1);
  }

  static open(path: string): NpyFile {
    let fd: number;
    try { fd = openSync(path, 'r'); } catch (e) {
      throw new UserError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
    const size = fstatSync(fd).size;
    const head = new Uint8Array(Math.min(size, 65536 + 12));
    readSync(fd, head, 0, head.length, 0);
    return new NpyFile(path, fd, parseNpyHeader(head, path, size));
  }

  get rows(): number { return this.header.shape[0] ?? 1; }

  /** Raw bytes of rows [start, end). */
  readRowBytes(start: number, end: number): Uint8Array {
    const rowBytes = this.rowElems * this.header.itemSize;
    const out = new Uint8Array((end - start) * rowBytes);
    let done = 0;
    while (done < out.length) {
      const n = readSync(this.fd, out, done, Math.min(out.length - done, 1 << 30), this.header.dataOffset + start * rowBytes + done);
      if (n <= 0) throw new UserError(`${this.path}: file ended early while reading rows ${start}-${end}`);
      done += n;
    }
    return out;
  }

  readRows(start: number, end: number): NpyData { return view(this.header.dtype, this.readRowBytes(start, end)); }

  close(): void { closeSync(this.fd); }
}

export function readNpy(path: string): NpyArray {
  const f = NpyFile.open(path);
  try {
    const h = f.header;
    const data = h.shape.length === 0 ? f.readRows(0, 1) : f.readRows(0, f.rows);
    return { dtype: h.dtype, shape: h.shape, data };
  } finally { f.close(); }
}

/** Read as float32 whatever float or integer dtype was stored. */
export function toFloat32(a: NpyArray): Float32Array {
  if (a.data instanceof Float32Array) return a.data;
  if (a.dtype === 'f2') return halvesToFloats(a.data as Uint16Array);
  if (a.data instanceof BigInt64Array || a.data instanceof BigUint64Array) return Float32Array.from(a.data, (v) => Number(v));
  return Float32Array.from(a.data as ArrayLike<number>);
}

export function npyHeaderBytes(dtype: NpyDtype, shape: readonly number[]): Uint8Array {
  const descr = dtype === 'b1' || dtype === 'u1' || dtype === 'i1' ? `|${dtype}` : `<${dtype}`;
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = Math.ceil((10 + dict.length + 1) / 64) * 64;
  dict = dict.padEnd(total - 10 - 1, ' ') + '\n';
  const out = new Uint8Array(total);
  out.set(MAGIC, 0);
  out[6] = 1; out[7] = 0;
  new DataView(out.buffer).setUint16(8, dict.length, true);
  out.set(new TextEncoder().encode(dict), 10);
  return out;
}

export function writeNpy(path: string, dtype: NpyDtype, shape: readonly number[], data: ArrayBufferView): void {
  const n = shape.reduce((a, b) => a * b, 1);
  if (data.byteLength !== n * ITEM[dtype]) throw new Error(`writeNpy ${path}: ${data.byteLength} bytes for shape [${shape}] of ${dtype}`);
  writeFileAtomic(path, [npyHeaderBytes(dtype, shape), new Uint8Array(data.buffer, data.byteOffset, data.byteLength)]);
}
