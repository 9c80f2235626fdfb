/**
 * The examples a sweep measures margins on, described so that a manifest can name them and
 * `coar eval` can rebuild them: Fashion-MNIST (bundled default), .npy files, or image files
 * (an ImageFolder or a list) with the preprocessing that makes their tensors.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { resolve } from 'node:path';
import { UserError } from '../errors.js';
import { CLASS_NAMES, loadFashionMnist, preprocess, type FashionArch, type Split } from '../data/fashion_mnist.js';
import { loadImages, type BadImages } from '../data/image_pool.js';
import { buildPixelCache } from '../data/pixel_cache.js';
import { listImageList } from '../data/image_list.js';
import { listImageFolder } from '../data/imagefolder.js';
import type { ImageListing } from '../data/listing.js';
import { cachedInputs, memoryInputs, type ExampleInputs } from './example_inputs.js';
import { outputSize, type Preprocessing } from '../data/preprocess.js';
import type { Model } from '../models/index.js';
import { readNpyHeader } from '../io/npy.js';
import { openExamples } from './inputs.js';

/** Image files: where they are listed, the listing's hash, and how they become tensors. */
export interface ImageSpec {
  source: 'imagefolder' | 'list';
  /** the folder (imagefolder) or the list file (list), absolute */
  path: string;
  listingSha256: string;
  preprocessing: Preprocessing;
  badImages: BadImages;
  /** files skipped as unreadable (--bad-images skip), once examples were loaded */
  skipped?: { file: string; reason: string }[];
}

export type DataSpec =
  | { source: 'fashion-mnist'; split: Split; preprocessing: FashionArch; folder?: string }
  | { source: 'npy'; inputs: string; labels: string; inputsSha256: string }
  | ImageSpec;

export interface ExampleSet {
  spec: DataSpec;
  /** indices into the source */
  indices: number[];
  /** NCHW float32, in memory or streamed from a pixel cache (example_inputs.ts) */
  inputs: ExampleInputs;
  shape: { n: number; c: number; h: number; w: number };
  labels: Int32Array;
  classNames: string[];
}

/** Streamed in chunks: a weights or inputs file is hashed without being held in memory. */
export function sha256File(path: string): string {
  const hash = createHash('sha256');
  let fd: number;
  try { fd = openSync(path, 'r'); } catch (e) {
    throw new UserError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  try {
    const chunk = new Uint8Array(1 << 24);
    for (let n; (n = readSync(fd, chunk, 0, chunk.length, null)) > 0;) hash.update(chunk.subarray(0, n));
  } finally { closeSync(fd); }
  return hash.digest('hex');
}

export interface LoadCallbacks {
  /** images decoded so far, of how many */
  onImages?: (done: number, total: number) => void;
}

/** The first `count` examples (or the given indices) of a data source. */
export async function loadExamples(spec: DataSpec, model: Model, select: { count?: number; indices?: number[] }, cb: LoadCallbacks = {}): Promise<ExampleSet> {
  if (spec.source !== 'fashion-mnist' && spec.source !== 'npy') return loadImageExamples(spec, model, select, cb);
  if (spec.source === 'fashion-mnist') {
    const data = loadFashionMnist(spec.split, spec.folder);
    const indices = select.indices ?? Array.from({ length: Math.min(select.count ?? data.count, data.count) }, (_, i) => i);
    if (select.count !== undefined && select.count > data.count) throw new UserError(`--examples ${select.count}: Fashion-MNIST ${spec.split} has only ${data.count}`);
    const inputs = preprocess(data.images, indices, spec.preprocessing);
    const h = spec.preprocessing === 'cnn' ? 32 : 28;
    if (model.inChannels !== 1) throw new UserError(`Fashion-MNIST images have 1 channel, the model expects ${model.inChannels}`);
    return {
      spec, indices, inputs: memoryInputs(inputs, h * h), shape: { n: indices.length, c: 1, h, w: h },
      labels: Int32Array.from(indices, (i) => data.labels[i]!), classNames: [...CLASS_NAMES],
    };
  }
  const n = readNpyHeader(spec.inputs).shape[0]!;
  if (select.count !== undefined && select.count > n) throw new UserError(`--examples ${select.count}: ${spec.inputs} has only ${n} examples`);
  const indices = select.indices ?? Array.from({ length: Math.min(select.count ?? n, n) }, (_, i) => i);
  // too many to hold as float32: read from the file a batch at a time
  const ex = openExamples(spec.inputs, spec.labels, model, indices, inMemoryBytes());
  return {
    spec, indices, inputs: ex.inputs, shape: ex.shape, labels: ex.labels,
    classNames: Array.from({ length: model.classes }, (_, i) => `class ${i}`),
  };
}

/** Fashion-MNIST as `arch` takes it: 28 x 28 for a ViT, padded to 32 x 32 for a CNN. */
export function fashionSpec(split: Split, arch: string): DataSpec {
  return { source: 'fashion-mnist', split, preprocessing: arch.startsWith('vit') ? 'vit' : 'cnn' };
}

export function npySpec(inputs: string, labels: string): DataSpec {
  return { source: 'npy', inputs: resolve(inputs), labels: resolve(labels), inputsSha256: sha256File(inputs) };
}

export function listImages(source: 'imagefolder' | 'list', path: string): ImageListing {
  return source === 'imagefolder' ? listImageFolder(path) : listImageList(path);
}

/** An image source as a manifest records it: the listing's hash is taken now. */
export function imageSpec(source: 'imagefolder' | 'list', path: string, preprocessing: Preprocessing, badImages: BadImages): ImageSpec {
  const abs = resolve(path);
  return { source, path: abs, listingSha256: listImages(source, abs).sha256, preprocessing, badImages };
}

/** Image examples; `model`, when given, is checked against them (3 channels, labels within its classes). */
export async function loadImageExamples(spec: ImageSpec, model: Pick<Model, 'inChannels' | 'classes'> | null, select: { count?: number; indices?: number[] }, cb: LoadCallbacks = {}): Promise<ExampleSet> {
  const listing = listImages(spec.source, spec.path);
  if (listing.sha256 !== spec.listingSha256) {
    throw new UserError(`${spec.path} changed since these examples were chosen (listing sha256 ${spec.listingSha256.slice(0, 12)}…, now ${listing.sha256.slice(0, 12)}…): files were added, removed or rewritten; restore it or start a new sweep`);
  }
  const n = listing.files.length;
  if (select.count !== undefined && select.count > n) throw new UserError(`--examples ${select.count}: ${spec.path} lists only ${n} images`);
  const indices = select.indices ?? Array.from({ length: select.count ?? n }, (_, i) => i);
  const bad = indices.find((i) => !Number.isInteger(i) || i < 0 || i >= n);
  if (bad !== undefined) throw new UserError(`example index ${bad} is outside ${spec.path} (${n} images, indices 0-${n - 1})`);
  if (model && model.inChannels !== 3) throw new UserError(`images are decoded to 3 channels (RGB), the model expects ${model.inChannels}`);
  const far = model ? indices.find((i) => listing.labels[i]! >= model.classes) : undefined;
  if (model && far !== undefined) throw new UserError(`${listing.files[far]}: label ${listing.labels[far]} (${listing.classNames[listing.labels[far]!]}) is outside the model's ${model.classes} classes`);
  const files = indices.map((i) => listing.files[i]!);
  const size = outputSize(spec.preprocessing);
  if (size !== null && files.length * 3 * size * size * 4 > inMemoryBytes()) {
    // too many to hold as float32: the pixels go to a cache on disk, read a batch at a time
    const key = createHash('sha256').update(JSON.stringify({ v: 1, path: spec.path, listing: spec.listingSha256, p: spec.preprocessing, bad: spec.badImages, indices })).digest('hex').slice(0, 32);
    const c = await buildPixelCache(files, spec.preprocessing, key, { badImages: spec.badImages, onProgress: cb.onImages });
    const kept = c.kept.map((k) => indices[k]!);
    return {
      spec: spec.badImages === 'skip' ? { ...spec, skipped: c.skipped } : spec,
      indices: kept, inputs: cachedInputs(c.path, c.kept, spec.preprocessing), shape: { n: kept.length, c: 3, h: c.height, w: c.width },
      labels: Int32Array.from(kept, (i) => listing.labels[i]!), classNames: listing.classNames,
    };
  }
  const got = await loadImages(files, spec.preprocessing, { badImages: spec.badImages, onProgress: cb.onImages });
  const kept = got.kept.map((k) => indices[k]!);
  return {
    spec: spec.badImages === 'skip' ? { ...spec, skipped: got.skipped } : spec,
    indices: kept, inputs: memoryInputs(got.inputs, 3 * got.height * got.width), shape: { n: kept.length, c: 3, h: got.height, w: got.width },
    labels: Int32Array.from(kept, (i) => listing.labels[i]!), classNames: listing.classNames,
  };
}

/** Inputs up to this many float32 bytes are held in memory; more are read a batch at a time (images through a pixel cache). */
function inMemoryBytes(): number {
  const mb = Number(process.env.COAR_INPUTS_IN_MEMORY_MB);
  return (Number.isFinite(mb) && mb >= 0 ? mb : 2048) * 2 ** 20;
}
