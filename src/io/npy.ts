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
  /** stored big-endian ('>f4'): bytes are swapped as they are read */
  bigEndian: boolean;
  /** stored column-major: only whole-array reads (readNpy) reorder it */
  fortranOrder: boolean;
}

export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  data: NpyData;
}

const ITEM: Record<NpyDtype, number> = { f4: 4, f8: 8, f2: 2, b1: 1, u1: 1, i1: 1, i2: 2, u2: 2, i4: 4, u4: 4, i8: 8, u8: 8 };
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** One entry of the header dict, as numpy's format writes it (a Python literal, never evaluated). */
const ENTRY = /\s*'([a-z_]+)'\s*:\s*('[^']*'|True|False|\([\s\d,]*\))\s*(,|(?=\}))/y;

/** The dict `{'descr': ..., 'fortran_order': ..., 'shape': (...), }` exactly, or undefined. */
function parseDict(text: string): Record<string, string> | undefined {
  const t = text.trimEnd();
  if (!t.startsWith('{') || !t.endsWith('}')) return undefined;
  const out: Record<string, string> = {};
  let i = 1;
  while (/\S/.test(t.slice(i, -1))) {
    ENTRY.lastIndex = i;
    const m = ENTRY.exec(t);
    if (!m || m[1]! in out) return undefined;
    out[m[1]!] = m[2]!;
    i = ENTRY.lastIndex;
    if (m[3] !== ',') break;
  }
  if (/\S/.test(t.slice(i, -1))) return undefined;
  const ok = out.descr?.startsWith("'") && /^(True|False)$/.test(out.fortran_order ?? '') && out.shape?.startsWith('(');
  return ok && Object.keys(out).length === 3 ? out : undefined;
}

export interface HeaderOptions {
  /** accept big-endian and Fortran-ordered arrays (whole-array reads convert them) */
  convert?: boolean;
}

export function parseNpyHeader(buf: Uint8Array, path: string, fileSize: number, opts: HeaderOptions = {}): NpyHeader {
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
  if (start + headerLen > buf.length) throw bad(`header of ${headerLen} bytes does not fit the ${buf.length} bytes read (truncated or corrupt)`);
  const text = new TextDecoder().decode(buf.subarray(start, start + headerLen));
  const shown = JSON.stringify(text.trim().slice(0, 120));
  if (/'descr'\s*:\s*'[|<>=]?O/.test(text)) {
    throw new UserError(`${path}: dtype object ('O') holds pickled Python objects, which are never loaded: save a numeric array`);
  }
  if (/'descr'\s*:\s*\[/.test(text)) throw new UserError(`${path}: structured dtypes (record arrays) are not supported: save one numeric array per file`);
  const dict = parseDict(text);
  if (!dict) throw bad(`header is not the dict {'descr', 'fortran_order', 'shape'}: ${shown}`);
  const descr = dict.descr!.slice(1, -1);
  const fortranOrder = dict.fortran_order === 'True';
  if (!/^[|<>=]/.test(descr) || !(descr.slice(1) in ITEM)) {
    throw new UserError(`${path}: unsupported dtype '${descr}' (use float32/float16/float64, bool, or an integer type)`);
  }
  const code = descr.slice(1) as NpyDtype;
  // '=' is native order, which numpy writes as '<' on every machine this runs on
  const bigEndian = descr[0] === '>' && ITEM[code] > 1;
  if (!opts.convert && bigEndian) throw new UserError(`${path}: big-endian dtype '${descr}' cannot be read here in row ranges: save with a.astype('<${code}')`);
  if (!dict.shape!.slice(1, -1).split(',').every((s, i, all) => /^\s*\d+\s*$/.test(s) || (i === all.length - 1 && /^\s*$/.test(s)))) {
    throw bad(`bad shape ${dict.shape}`);
  }
  const shape = dict.shape!.slice(1, -1).split(',').filter((s) => s.trim().length > 0).map(Number);
  if (shape.some((d) => !Number.isSafeInteger(d))) throw bad(`bad shape ${dict.shape}`);
  if (!opts.convert && fortranOrder && shape.filter((d) => d > 1).length > 1) {
    throw new UserError(`${path}: a Fortran-ordered array cannot be read here in row ranges: save with np.ascontiguousarray`);
  }
  const dataOffset = start + headerLen;
  // in floating point: a claimed shape past 2^53 elements must not wrap to a small size
  const need = dataOffset + shape.reduce((a, b) => a * b, 1) * ITEM[code];
  if (fileSize < need) throw new UserError(`${path}: truncated .npy file: shape [${shape.join(', ')}] of ${descr} needs ${need} bytes, file has ${fileSize}`);
  return { dtype: code, shape, dataOffset, itemSize: ITEM[code], bigEndian, fortranOrder };
}

function view(dtype: NpyDtype, bytes: Uint8Array): NpyData {
  // copy to an aligned buffer owned by the array
  const b = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes.buffer : bytes.slice().buffer;
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

/** Reverse the bytes of each `size`-byte item, in place. */
function swapBytes(bytes: Uint8Array, size: number): void {
  for (let i = 0; i < bytes.length; i += size) bytes.subarray(i, i + size).reverse();
}

/** Column-major bytes of `shape` reordered row-major (numpy's `np.ascontiguousarray`). */
function fortranToC(bytes: Uint8Array, shape: readonly number[], size: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  const n = bytes.length / size;
  const rank = shape.length;
  // C-order strides (in items) of each axis; walk the source in F order, axis 0 fastest
  const cStride = new Array<number>(rank).fill(1);
  for (let a = rank - 2; a >= 0; a--) cStride[a] = cStride[a + 1]! * shape[a + 1]!;
  const idx = new Array<number>(rank).fill(0);
  let dst = 0;
  for (let src = 0; src < n; src++) {
    out.set(bytes.subarray(src * size, (src + 1) * size), dst * size);
    for (let a = 0; a < rank; a++) {
      idx[a]!++;
      dst += cStride[a]!;
      if (idx[a]! < shape[a]!) break;
      dst -= cStride[a]! * shape[a]!;
      idx[a] = 0;
    }
  }
  return out;
}

/** An open .npy file from which row ranges are read on demand. */
export class NpyFile {
  readonly header: NpyHeader;
  readonly rowElems: number;
  private constructor(readonly path: string, private fd: number, header: NpyHeader) {
    this.header = header;
    this.rowElems = header.shape.slice(1).reduce((a, b) => a * b, 1);
  }

  static open(path: string, opts: HeaderOptions = {}): NpyFile {
    let fd: number;
    try { fd = openSync(path, 'r'); } catch (e) {
      throw new UserError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
    try {
      const st = fstatSync(fd);
      if (st.isDirectory()) throw new UserError(`${path} is a folder, expected a .npy file`);
      const head = new Uint8Array(Math.min(st.size, 65536 + 12));
      const got = head.length ? readSync(fd, head, 0, head.length, 0) : 0;
      return new NpyFile(path, fd, parseNpyHeader(head.subarray(0, got), path, st.size, opts));
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  get rows(): number { return this.header.shape[0] ?? 1; }

  /** Raw bytes of rows [start, end), little-endian; into the start of `into` when given (a buffer reused block after block). */
  readRowBytes(start: number, end: number, into?: Uint8Array): Uint8Array {
    const h = this.header;
    if (h.fortranOrder && h.shape.filter((d) => d > 1).length > 1 && (start !== 0 || end !== this.rows)) {
      throw new Error(`${this.path}: rows ${start}-${end} of a Fortran-ordered array are not contiguous`);
    }
    const rowBytes = this.rowElems * h.itemSize;
    const bytes = (end - start) * rowBytes;
    if (into && into.length < bytes) throw new Error(`${this.path}: a ${into.length}-byte buffer for ${bytes} bytes of rows ${start}-${end}`);
    const out = into ? into.subarray(0, bytes) : new Uint8Array(bytes);
    let done = 0;
    while (done < out.length) {
      const n = readSync(this.fd, out, done, Math.min(out.length - done, 1 << 30), h.dataOffset + start * rowBytes + done);
      if (n <= 0) throw new UserError(`${this.path}: file ended early while reading rows ${start}-${end}`);
      done += n;
    }
    if (h.bigEndian) swapBytes(out, h.itemSize);
    return out;
  }

  readRows(start: number, end: number): NpyData { return view(this.header.dtype, this.readRowBytes(start, end)); }

  /**
   * Elements [c0, c1) of each row in [start, end) of a 2-D array, as [end - start, c1 - c0]
   * float32: one read per row, so a narrow slice of wide rows costs its own bytes only (the
   * attributions [|C|, n] read a chunk of examples at a time).
   */
  readFloatColumns(start: number, end: number, c0: number, c1: number): Float32Array {
    const h = this.header;
    if (h.fortranOrder && h.shape.filter((d) => d > 1).length > 1) throw new Error(`${this.path}: columns of a Fortran-ordered array are not read by rows`);
    if (c0 === 0 && c1 === this.rowElems) return this.readFloatRows(start, end);
    const w = (c1 - c0) * h.itemSize, rowBytes = this.rowElems * h.itemSize;
    const out = new Uint8Array((end - start) * w);
    for (let r = start; r < end; r++) {
      const at = (r - start) * w;
      let done = 0;
      while (done < w) {
        const n = readSync(this.fd, out, at + done, w - done, h.dataOffset + r * rowBytes + c0 * h.itemSize + done);
        if (n <= 0) throw new UserError(`${this.path}: file ended early while reading row ${r}`);
        done += n;
      }
    }
    if (h.bigEndian) swapBytes(out, h.itemSize);
    return toFloat32({ dtype: h.dtype, shape: h.shape, data: view(h.dtype, out) });
  }

  /** Rows [start, end) as float32, whatever numeric dtype is stored. */
  readFloatRows(start: number, end: number): Float32Array {
    return toFloat32({ dtype: this.header.dtype, shape: this.header.shape, data: this.readRows(start, end) });
  }

  close(): void { closeSync(this.fd); }
}

/** The header alone (dtype, shape), to check an array before its data is read. */
export function readNpyHeader(path: string): NpyHeader {
  const f = NpyFile.open(path, { convert: true });
  f.close();
  return f.header;
}

/** The whole array, in C order and native byte order whatever numpy stored. */
export function readNpy(path: string): NpyArray {
  const f = NpyFile.open(path, { convert: true });
  try {
    const h = f.header;
    let bytes = h.shape.length === 0 ? f.readRowBytes(0, 1) : f.readRowBytes(0, f.rows);
    if (h.fortranOrder) bytes = fortranToC(bytes, h.shape, h.itemSize);
    return { dtype: h.dtype, shape: h.shape, data: view(h.dtype, bytes) };
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
