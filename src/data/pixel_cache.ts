/**
 * A pixel cache: the resized and cropped uint8 pixels of many images (HWC each) in one .npy
 * [n, H, W, 3], built once by decoding and then read a run of images at a time, so a sweep
 * over 50,000 images never holds more than a batch of them. A quarter of float32's size,
 * and exact: ToTensor of the cached pixels is the same table lookup as the in-memory path.
 *
 * Built in runs of RUN images, each synced and then recorded in `<key>.partial.json`, so a
 * killed build resumes at its last recorded run; the finished file is renamed into place.
 * The key (the caller's) covers everything that decides the pixels.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { cannotWrite, writeFully } from '../io/files.js';
import { npyHeaderBytes, NpyFile } from '../io/npy.js';
import { decodeImages, type LoadOptions } from './image_pool.js';
import { outputSize, toTensor, type Preprocessing } from './preprocess.js';

/** Images decoded, synced and recorded at a time. */
const RUN = 256;

/** $COAR_CACHE_DIR, else $XDG_CACHE_HOME/webcoar/pixels, else ~/.cache/webcoar/pixels. */
export function pixelCacheDir(): string {
  if (process.env.COAR_CACHE_DIR) return join(process.env.COAR_CACHE_DIR, 'pixels');
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'webcoar', 'pixels');
}

export interface PixelCacheInfo {
  path: string;
  height: number;
  width: number;
  /** positions (into the files given) whose images were decoded */
  kept: number[];
  skipped: { file: string; reason: string }[];
}

interface Progress { done: number; skipped: [number, string][] }

const json = (v: unknown) => [new TextEncoder().encode(JSON.stringify(v) + '\n')];

/** The cache of `files` under `key`: reused when built, else built (or its build resumed). */
export async function buildPixelCache(files: string[], p: Preprocessing, key: string, opts: LoadOptions): Promise<PixelCacheInfo> {
  const size = outputSize(p);
  if (size === null) throw new UserError(`--preprocess none keeps each image's own size, so ${files.length} images cannot be cached on disk as one tensor: use --preprocess torchvision or ffcv, or fewer examples`);
  const dir = pixelCacheDir();
  const final = join(dir, `${key}.npy`), meta = join(dir, `${key}.json`);
  const finish = (skipped: [number, string][]): PixelCacheInfo => {
    const bad = new Set(skipped.map(([i]) => i));
    return {
      path: final, height: size, width: size,
      kept: files.map((_, i) => i).filter((i) => !bad.has(i)),
      skipped: skipped.map(([i, reason]) => ({ file: files[i]!, reason })),
    };
  };
  if (existsSync(final) && existsSync(meta)) return finish(readBuilt(final, meta, [files.length, size, size, 3]).skipped);
  try { mkdirSync(dir, { recursive: true }); } catch (e) { throw cannotWrite(dir, e); }
  const partial = join(dir, `${key}.partial.npy`), record = join(dir, `${key}.partial.json`);
  const header = npyHeaderBytes('u1', [files.length, size, size, 3]);
  const rowBytes = size * size * 3;
  let progress: Progress = { done: 0, skipped: [] };
  if (existsSync(partial) && existsSync(record)) progress = readProgress(record, [partial, record]);
  else writeFileAtomic(partial, [header], { size: header.length + files.length * rowBytes });
  const fd = openSync(partial, 'r+');
  try {
    for (let a = progress.done; a < files.length; a += RUN) {
      const b = Math.min(files.length, a + RUN);
      const failed = await decodeImages(files.slice(a, b), p, {
        ...opts, onProgress: (d) => opts.onProgress?.(a + d, files.length),
      }, (id, px) => {
        if (px.height !== size || px.width !== size) throw new Error(`${files[a + id]}: preprocessed to ${px.width}x${px.height}, expected ${size}x${size}`);
        writeFully(fd, px.data, header.length + (a + id) * rowBytes, partial);
      });
      try { fsyncSync(fd); } catch (e) { throw cannotWrite(partial, e); }
      progress = { done: b, skipped: [...progress.skipped, ...[...failed].map(([i, r]) => [a + i, r] as [number, string])] };
      writeFileAtomic(record, json(progress));
    }
  } finally {
    closeSync(fd);
  }
  if (progress.skipped.length === files.length) throw new UserError(`none of the ${files.length} images could be decoded (first: ${progress.skipped[0]![1]})`);
  renameSync(partial, final);
  writeFileAtomic(meta, json(progress));
  rmSync(record, { force: true });
  return finish(progress.skipped);
}

/** A cache file that cannot be used: what is wrong, and the files to delete. */
function damaged(files: string[], why: string): UserError {
  return new UserError(`pixel cache ${files[0]} is damaged (${why}); delete ${files.join(' and ')} and run again`);
}

function readProgress(path: string, files: string[]): Progress {
  let m: Progress;
  try { m = JSON.parse(readFileSync(path, 'utf8')) as Progress; } catch (e) { throw damaged(files, `${path}: ${(e as Error).message}`); }
  if (!Number.isInteger(m?.done) || !Array.isArray(m.skipped)) throw damaged(files, `${path} is not a build record`);
  return m;
}

/** A finished cache's record, once its .npy is checked to be whole and of the expected shape. */
function readBuilt(final: string, meta: string, shape: number[]): Progress {
  const m = readProgress(meta, [final, meta]);
  let f: NpyFile;
  try { f = NpyFile.open(final); } catch (e) { throw damaged([final, meta], (e as Error).message.replace(`${final}: `, '')); }
  const h = f.header;
  f.close();
  if (h.dtype !== 'u1' || h.shape.join() !== shape.join()) throw damaged([final, meta], `${h.dtype} [${h.shape.join(', ')}] where uint8 [${shape.join(', ')}] is expected`);
  return m;
}

export interface PixelCache {
  n: number;
  height: number;
  width: number;
  /** ToTensor + Normalize of cache rows [first, first + count) into out[offset..], NCHW */
  tensors(first: number, count: number, p: Preprocessing, out: Float32Array, offset: number): void;
  close(): void;
}

export function openPixelCache(path: string): PixelCache {
  const f = NpyFile.open(path);
  const [n, height, width, c] = f.header.shape as [number, number, number, number];
  if (f.header.dtype !== 'u1' || f.header.shape.length !== 4 || c !== 3) {
    f.close();
    throw new UserError(`${path}: not a pixel cache (expected uint8 [n, H, W, 3]); delete it and run again`);
  }
  const per = 3 * height * width;
  return {
    n, height, width,
    tensors(first, count, p, out, offset) {
      const bytes = f.readRowBytes(first, first + count);
      for (let i = 0; i < count; i++) toTensor({ data: bytes.subarray(i * per, (i + 1) * per), height, width }, p, out, offset + i * per);
    },
    close() { f.close(); },
  };
}
