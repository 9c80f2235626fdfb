/**
 * One decoding thread: file -> PIL-equal RGB -> resized and cropped uint8 pixels (HWC), posted
 * back (transferred). ToTensor happens where the pixels land: a quarter of the bytes travel.
 */
import { readFile } from 'node:fs/promises';
import { parentPort } from 'node:worker_threads';
import sharp from 'sharp';
import { UserError } from '../errors.js';
import { BAD_IMAGE_HINT, decodeRgb } from './decode.js';
import { preprocessPixels, type Preprocessing } from './preprocess.js';

export interface ImageTask { id: number; path: string; preprocessing: Preprocessing }
export type ImageResult =
  | { id: number; pixels: Uint8Array; height: number; width: number }
  | { id: number; error: string; user: boolean };

// parallelism comes from the worker threads; one libvips thread each keeps the cores from being oversubscribed
sharp.concurrency(1);
sharp.cache(false);

async function handle(t: ImageTask): Promise<ImageResult> {
  try {
    let bytes: Uint8Array;
    try { bytes = await readFile(t.path); } catch (e) {
      throw new UserError(`${t.path}: cannot read the image (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); ${BAD_IMAGE_HINT}`);
    }
    const px = preprocessPixels(await decodeRgb(bytes, t.path), t.preprocessing, t.path);
    return { id: t.id, pixels: px.data, height: px.height, width: px.width };
  } catch (e) {
    return { id: t.id, error: (e as Error).message, user: e instanceof UserError };
  }
}

parentPort!.on('message', (t: ImageTask) => {
  void handle(t).then((r) => parentPort!.postMessage(r, 'pixels' in r ? [r.pixels.buffer as ArrayBuffer] : []));
});
