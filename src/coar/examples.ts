/**
 * The examples a sweep measures margins on, described so that a manifest can name them and
 * `coar eval` can rebuild them: Fashion-MNIST (bundled default) or .npy files.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { resolve } from 'node:path';
import { UserError } from '../errors.js';
import { CLASS_NAMES, loadFashionMnist, preprocess, type FashionArch, type Split } from '../data/fashion_mnist.js';
import type { Model } from '../models/index.js';
import { readExamples } from './inputs.js';

export type DataSpec =
  | { source: 'fashion-mnist'; split: Split; preprocessing: FashionArch; folder?: string }
  | { source: 'npy'; inputs: string; labels: string; inputsSha256: string };

export interface ExampleSet {
  spec: DataSpec;
  /** indices into the source */
  indices: number[];
  inputs: Float32Array; // NCHW
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

/** The first `count` examples (or the given indices) of a data source. */
export function loadExamples(spec: DataSpec, model: Model, select: { count?: number; indices?: number[] }): ExampleSet {
  if (spec.source === 'fashion-mnist') {
    const data = loadFashionMnist(spec.split, spec.folder);
    const indices = select.indices ?? Array.from({ length: Math.min(select.count ?? data.count, data.count) }, (_, i) => i);
    if (select.count !== undefined && select.count > data.count) throw new UserError(`--examples ${select.count}: Fashion-MNIST ${spec.split} has only ${data.count}`);
    const inputs = preprocess(data.images, indices, spec.preprocessing);
    const h = spec.preprocessing === 'cnn' ? 32 : 28;
    if (model.inChannels !== 1) throw new UserError(`Fashion-MNIST images have 1 channel, the model expects ${model.inChannels}`);
    return {
      spec, indices, inputs, shape: { n: indices.length, c: 1, h, w: h },
      labels: Int32Array.from(indices, (i) => data.labels[i]!), classNames: [...CLASS_NAMES],
    };
  }
  const ex = readExamples(spec.inputs, spec.labels, model);
  const all = Array.from({ length: ex.shape.n }, (_, i) => i);
  const indices = select.indices ?? all.slice(0, select.count ?? ex.shape.n);
  const per = ex.shape.c * ex.shape.h * ex.shape.w;
  const inputs = new Float32Array(indices.length * per);
  indices.forEach((i, k) => {
    if (i < 0 || i >= ex.shape.n) throw new UserError(`example index ${i} is outside ${spec.inputs} (n = ${ex.shape.n})`);
    inputs.set(ex.inputs.subarray(i * per, (i + 1) * per), k * per);
  });
  return {
    spec, indices, inputs, shape: { ...ex.shape, n: indices.length },
    labels: Int32Array.from(indices, (i) => ex.labels[i]!),
    classNames: Array.from({ length: model.classes }, (_, i) => `class ${i}`),
  };
}

export function npySpec(inputs: string, labels: string): DataSpec {
  return { source: 'npy', inputs: resolve(inputs), labels: resolve(labels), inputsSha256: sha256File(inputs) };
}
