/**
 * Reading a store in the reference layout (REFERENCE.md, "Store layout"), as numpy or
 * this project writes it:
 *   masks.npy             bool [m, |C|], 1 = component kept
 *   <split>_margins.npy   float16/float32 [m, n], one column per example
 *   _completed.npy        bool [m], optional: only completed rows are used
 *   manifest.json         optional: { components?: string[], ... }
 * Everything is checked here, before any work, so a bad store fails with one line.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { check, UserError } from '../errors.js';
import { checkCompletedMasks, type MaskStream } from './completed_check.js';
import { NpyFile, readNpy } from '../io/npy.js';
import { checkRegularFile } from '../io/files.js';
import { storeWriter, type LockHolder } from '../io/lock.js';

export interface StoreManifest {
  components?: string[];
  [key: string]: unknown;
}

export interface StoreReader {
  dir: string;
  split: string;
  /** mask rows in the files */
  rows: number;
  components: number;
  examples: number;
  /** indices of the rows to use (completed ones, or all) */
  usedRows: number[];
  manifest: StoreManifest | null;
  /** a sweep or merge still writing this store (only its completed rows are used), or null */
  writer: LockHolder | null;
  masks: NpyFile;
  margins: NpyFile;
  close(): void;
}

/** `<split>_margins.npy` */
export const MARGINS_FILE = /^(.+)_margins\.npy$/;

/** Open a store for reading, checking shapes and dtypes. `split` picks `<split>_margins.npy`. */
export function openStore(dir: string, opts: { split?: string } = {}): StoreReader {
  check(existsSync(dir) && statSync(dir).isDirectory(), () => `store ${dir} is not a folder`);
  const marginFiles = readdirSync(dir).filter((f) => MARGINS_FILE.test(f)).sort();
  let split = opts.split;
  if (split === undefined) {
    check(marginFiles.length > 0, () => `store ${dir} has no <split>_margins.npy file`);
    check(marginFiles.length === 1, () => `store ${dir} has several margin files (${marginFiles.join(', ')}): choose one with --split`);
    split = MARGINS_FILE.exec(marginFiles[0]!)![1]!;
  }
  const marginPath = join(dir, `${split}_margins.npy`);
  check(existsSync(marginPath), () => `store ${dir} has no ${split}_margins.npy` + (marginFiles.length ? ` (it has ${marginFiles.join(', ')})` : ''));
  // a FIFO or device would block the open: only regular files are read
  for (const f of ['masks.npy', `${split}_margins.npy`, '_completed.npy']) checkRegularFile(join(dir, f));
  const writer = storeWriter(dir);
  const masks = NpyFile.open(join(dir, 'masks.npy'));
  let margins: NpyFile | undefined;
  try {
    const mh = masks.header;
    check(mh.shape.length === 2, () => `${masks.path}: masks must be 2-D [m, components], got shape [${mh.shape.join(', ')}]`);
    check(['b1', 'u1', 'i1'].includes(mh.dtype), () => `${masks.path}: masks must be boolean (1 = kept), got dtype ${mh.dtype}`);
    margins = NpyFile.open(marginPath);
    const gh = margins.header;
    check(gh.shape.length === 2, () => `${marginPath}: margins must be 2-D [m, examples], got shape [${gh.shape.join(', ')}]`);
    check(['f2', 'f4', 'f8'].includes(gh.dtype), () => `${marginPath}: margins must be float16 or float32, got dtype ${gh.dtype}`);
    const rows = mh.shape[0]!;
    check(gh.shape[0] === rows, () => `row counts differ: masks.npy has ${rows} rows, ${split}_margins.npy has ${gh.shape[0]}`);
    check(mh.shape[1]! > 0 && gh.shape[1]! > 0, () => `store ${dir} has no components or no examples (masks [${mh.shape.join(', ')}], margins [${gh.shape.join(', ')}])`);

    let usedRows: number[];
    const completedPath = join(dir, '_completed.npy');
    if (existsSync(completedPath)) {
      const c = readNpy(completedPath);
      check(c.shape.length === 1 && c.shape[0] === rows, () => `${completedPath}: expected shape [${rows}] to match masks.npy, got [${c.shape.join(', ')}]`);
      check(['b1', 'u1'].includes(c.dtype), () => `${completedPath}: expected bool, got dtype ${c.dtype}`);
      const flags = c.data as Uint8Array;
      usedRows = [];
      for (let i = 0; i < rows; i++) if (flags[i]) usedRows.push(i);
      check(usedRows.length > 0, () => `store ${dir}: no completed rows (_completed.npy is all false): nothing to fit`);
    } else {
      usedRows = Array.from({ length: rows }, (_, i) => i);
    }
    check(usedRows.length > 0, () => `store ${dir}: masks.npy has no rows: nothing to fit`);

    let manifest: StoreManifest | null = null;
    const manifestPath = join(dir, 'manifest.json');
    if (existsSync(manifestPath)) {
      try { manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as StoreManifest; } catch (e) {
        throw new UserError(`${manifestPath}: not valid JSON (${(e as Error).message})`);
      }
      const names = manifest?.components;
      if (names !== undefined) {
        check(Array.isArray(names) && names.length === mh.shape[1], () =>
          `${manifestPath}: 'components' lists ${Array.isArray(names) ? names.length : 'no'} names, masks.npy has ${mh.shape[1]} components`);
      }
    }
    if (existsSync(completedPath)) {
      const mf = manifest as (StoreManifest & { adopted?: unknown }) | null;
      checkCompletedMasks(dir, masks, margins, usedRows, mf && !mf.adopted ? (mf as MaskStream) : null);
    }
    const m = margins;
    return {
      dir, split, rows, components: mh.shape[1]!, examples: gh.shape[1]!, usedRows, manifest, writer, masks, margins: m,
      close() { masks.close(); m.close(); },
    };
  } catch (e) {
    masks.close();
    margins?.close();
    throw e;
  }
}

/** Mask rows [start, end) as bytes (0 or 1), checked to be boolean. */
export function readMaskRows(store: StoreReader, start: number, end: number): Uint8Array {
  const bytes = store.masks.readRowBytes(start, end);
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i]! > 1) {
      const row = start + Math.floor(i / store.components);
      throw new UserError(`${store.masks.path}: masks must be boolean (0/1) but row ${row} holds the value ${bytes[i]}`);
    }
  }
  return bytes;
}

/** Margins of the given rows as float32 [rows.length x n], rejecting NaN and Inf with the rows named. */
export function readMargins(store: StoreReader, rows: readonly number[]): Float32Array {
  const n = store.examples;
  const out = new Float32Array(rows.length * n);
  const bad: number[] = [];
  const chunk = Math.max(1, Math.floor((16 << 20) / (n * store.margins.header.itemSize)));
  let k = 0;
  // read contiguous spans in chunks
  for (let s = 0; s < rows.length;) {
    let e = s + 1;
    while (e < rows.length && e - s < chunk && rows[e] === rows[e - 1]! + 1) e++;
    const vals = store.margins.readFloatRows(rows[s]!, rows[e - 1]! + 1);
    for (let i = 0; i < e - s; i++) {
      let ok = true;
      for (let j = 0; j < n; j++) {
        const v = vals[i * n + j]!;
        if (!Number.isFinite(v)) ok = false;
        out[k * n + j] = v;
      }
      if (!ok) bad.push(rows[s + i]!);
      k++;
    }
    s = e;
  }
  if (bad.length) {
    const list = bad.slice(0, 10).join(', ') + (bad.length > 10 ? `, ... (${bad.length} rows)` : '');
    throw new UserError(`${store.margins.path}: NaN or Inf margins in row${bad.length > 1 ? 's' : ''} ${list}; re-run those masks or mark them not completed in _completed.npy`);
  }
  return out;
}
