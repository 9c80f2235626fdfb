/**
 * Decode and preprocess many images on worker threads (one task per file, a few in flight per
 * thread), writing each image into place as it arrives. Bad images fail the load, or are
 * skipped and reported, as `badImages` says.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { UserError } from '../errors.js';
import type { ImageResult, ImageTask } from './image_worker.js';
import { outputSize, toTensor, type Preprocessing } from './preprocess.js';
import type { RgbImage } from './rgb.js';

export type BadImages = 'fail' | 'skip';

export interface LoadedImages {
  /** kept images' tensors, NCHW float32, in the order given */
  inputs: Float32Array;
  height: number;
  width: number;
  /** positions (into `files`) of the images kept */
  kept: number[];
  skipped: { file: string; reason: string }[];
}

export interface LoadOptions {
  badImages: BadImages;
  threads?: number;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Decode and preprocess `files` on worker threads, handing each image's uint8 pixels to
 * `onImage` as it arrives (in any order). Returns the positions of the images that could not
 * be decoded, with the reason (only in skip mode: in fail mode the first bad file in listing
 * order is thrown).
 */
export async function decodeImages(files: string[], p: Preprocessing, opts: LoadOptions, onImage: (id: number, px: RgbImage) => void): Promise<Map<number, string>> {
  const threads = Math.max(1, Math.min(opts.threads ?? availableParallelism(), files.length));
  const failed = new Map<number, string>();
  if (files.length === 0) return failed;
  const workers = Array.from({ length: threads }, () => new Worker(new URL('./image_worker_boot.mjs', import.meta.url)));
  let next = 0, done = 0;
  try {
    await new Promise<void>((resolveAll, reject) => {
      let fatal = false, inFlight = 0;
      // in fail mode the first bad file in listing order is reported: stop sending, let earlier files finish
      let firstBad: { id: number; error: string } | undefined;
      const send = (w: Worker) => {
        if (next >= files.length || firstBad) return;
        inFlight++;
        const task: ImageTask = { id: next, path: files[next]!, preprocessing: p };
        next++;
        w.postMessage(task);
      };
      for (const w of workers) {
        w.on('error', (e) => { fatal = true; reject(e); });
        w.on('message', (r: ImageResult) => {
          if (fatal) return;
          inFlight--;
          if ('error' in r) {
            if (!r.user) { fatal = true; reject(new Error(r.error)); return; }
            if (opts.badImages === 'fail') {
              if (!firstBad || r.id < firstBad.id) firstBad = { id: r.id, error: r.error };
              if (inFlight === 0) { fatal = true; reject(new UserError(firstBad.error)); }
              return;
            }
            failed.set(r.id, r.error);
          } else if (firstBad) {
            if (inFlight === 0) { fatal = true; reject(new UserError(firstBad.error)); }
            return;
          } else {
            try { onImage(r.id, { data: r.pixels, height: r.height, width: r.width }); } catch (e) { fatal = true; reject(e); return; }
          }
          done++;
          opts.onProgress?.(done, files.length);
          if (done === files.length) resolveAll(); else send(w);
        });
        // two tasks in flight per thread hide the message round trip
        send(w); send(w);
      }
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return failed;
}

/** Decode `files` into one NCHW float32 tensor held in memory (see pixel_cache.ts for many images). */
export async function loadImages(files: string[], p: Preprocessing, opts: LoadOptions): Promise<LoadedImages> {
  const fixed = outputSize(p);
  const per = fixed === null ? 0 : 3 * fixed * fixed;
  let inputs = new Float32Array(per * files.length);
  const loose: (Float32Array | undefined)[] = [];
  const sizes: [number, number][] = [];
  const failed = await decodeImages(files, p, opts, (id, px) => {
    sizes[id] = [px.height, px.width];
    if (fixed === null) {
      const t = new Float32Array(3 * px.height * px.width);
      toTensor(px, p, t, 0);
      loose[id] = t;
    } else {
      toTensor(px, p, inputs, id * per);
    }
  });
  const kept = files.map((_, i) => i).filter((i) => !failed.has(i));
  if (kept.length === 0) throw new UserError(`none of the ${files.length} images could be decoded (first: ${failed.values().next().value})`);
  const [height, width] = sizes[kept[0]!]!;
  if (fixed === null) {
    const odd = kept.find((i) => sizes[i]![0] !== height || sizes[i]![1] !== width);
    if (odd !== undefined) {
      throw new UserError(`${files[odd]}: ${sizes[odd]![1]}x${sizes[odd]![0]}, but ${files[kept[0]!]} is ${width}x${height}; --preprocess none needs images of one size (use torchvision or ffcv to resize)`);
    }
    inputs = new Float32Array(kept.length * 3 * height * width);
    kept.forEach((i, k) => inputs.set(loose[i]!, k * 3 * height * width));
  } else if (failed.size > 0) {
    kept.forEach((i, k) => inputs.copyWithin(k * per, i * per, (i + 1) * per));
    inputs = inputs.slice(0, kept.length * per);
  }
  return { inputs, height, width, kept, skipped: [...failed].sort((a, b) => a[0] - b[0]).map(([i, reason]) => ({ file: files[i]!, reason })) };
}
