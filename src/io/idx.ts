/**
 * IDX files (the MNIST family's format), gzipped or plain: two zero bytes, a dtype byte,
 * a dimension count, one big-endian uint32 size per dimension, then the data row-major.
 * Only unsigned bytes (dtype 0x08) are read: pixels and labels are all this project needs.
 * Every size is checked against the file, so a truncated or corrupt download fails with
 * its name and what was wrong instead of producing garbage images.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { UserError } from '../errors.js';

export interface IdxArray {
  shape: number[];
  data: Uint8Array;
}

const DTYPES: Record<number, string> = {
  0x08: 'uint8', 0x09: 'int8', 0x0b: 'int16', 0x0c: 'int32', 0x0d: 'float32', 0x0e: 'float64',
};

const hex = (b: number) => `0x${b.toString(16).padStart(2, '0')}`;

export function readIdx(path: string): IdxArray {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a folder, expected an IDX file' : (e as Error).message;
    throw new UserError(`cannot read ${path}: ${why}`);
  }
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      raw = gunzipSync(raw);
    } catch (e) {
      throw new UserError(`${path}: corrupt or truncated gzip data (${(e as Error).message})`);
    }
  }
  return parseIdx(raw, path);
}

/** Parse the (already decompressed) bytes of an IDX file; `path` is only for messages. */
export function parseIdx(bytes: Uint8Array, path: string): IdxArray {
  const bad = (why: string) => new UserError(`${path}: not a valid IDX file (${why})`);
  if (bytes.length < 4) throw bad(`only ${bytes.length} bytes, the header alone needs at least 4`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw bad(`magic starts ${hex(bytes[0]!)} ${hex(bytes[1]!)}, expected 0x00 0x00`);
  }
  const dtype = bytes[2]!;
  const ndim = bytes[3]!;
  if (!(dtype in DTYPES)) throw bad(`unknown dtype byte ${hex(dtype)}`);
  if (dtype !== 0x08) throw new UserError(`${path}: IDX dtype ${DTYPES[dtype]} is not supported, only uint8 (0x08)`);
  if (ndim === 0) throw bad('zero dimensions');
  const headerLen = 4 + 4 * ndim;
  if (bytes.length < headerLen) throw bad(`header declares ${ndim} dimensions (${headerLen} bytes) but the file has ${bytes.length} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  for (let i = 0; i < ndim; i++) shape.push(view.getUint32(4 + 4 * i, false));
  const expected = shape.reduce((a, b) => a * b, 1);
  const found = bytes.length - headerLen;
  if (found !== expected) {
    const what = found < expected ? 'truncated' : 'trailing bytes';
    throw new UserError(`${path}: ${what}: shape [${shape.join(', ')}] expects ${expected} data bytes, found ${found}`);
  }
  return { shape, data: bytes.subarray(headerLen) };
}
