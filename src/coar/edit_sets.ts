/**
 * The example sets of an edit, written `SOURCE[#FILTER]`:
 *   SOURCE  a sweep store folder (its examples, with its attributions once `coar fit` ran),
 *           `fashion-mnist:test`, `fashion-mnist:train`, or `npy:INPUTS.npy,LABELS.npy`
 *   FILTER  terms joined by `,` (all must hold):
 *           class=3 · class=2+4+6 · class!=3 · index=17 · index=5+9+12 · index=0-499 ·
 *           index=@FILE (whitespace-separated indices) · correct · wrong
 * An index is the example's index in its source (a Fashion-MNIST image number, an .npy
 * row), also for a store. `correct`/`wrong` use the unedited model's prediction.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadFashionMnist } from '../data/fashion_mnist.js';
import { check, UserError } from '../errors.js';
import type { Model } from '../models/index.js';
import { materialize, memoryInputs } from './example_inputs.js';
import type { BadImages } from '../data/image_pool.js';
import type { Preprocessing } from '../data/preprocess.js';
import { imageSpec, loadExamples, npySpec, type DataSpec, type ExampleSet } from './examples.js';
import { parseIndices } from './indices.js';
import { readManifest } from './store_manifest.js';
import { openAttributionRows } from './results.js';

type Filter =
  | { kind: 'class'; classes: number[]; negate: boolean }
  | { kind: 'index'; indices: Set<number> }
  | { kind: 'correct' | 'wrong' };

export interface SetSpec {
  text: string;
  source: { kind: 'store'; dir: string } | { kind: 'data'; data: DataSpec };
  filters: Filter[];
}

/** A resolved set: its examples, and for a store source the columns of its attributions. */
export interface EditSet {
  spec: SetSpec;
  examples: ExampleSet;
  /** attributions [C, n] of these examples (store sources that were fitted) */
  attributions?: Float32Array;
}

const USAGE = "use SOURCE[#FILTER]: a store folder, fashion-mnist:test, fashion-mnist:train, npy:X.npy,Y.npy, imagefolder:DIR or list:FILE, then e.g. '#class=3', '#class!=3', '#index=0-499', '#index=@file.txt', '#correct' or '#wrong'";

/** `images`: how image sources (imagefolder:DIR, list:FILE) become tensors (the --preprocess flags). */
export function parseSet(text: string, flag: string, arch: string, images?: { preprocessing: Preprocessing; badImages: BadImages }): SetSpec {
  const hash = text.indexOf('#');
  const sourceText = hash < 0 ? text : text.slice(0, hash);
  const filterText = hash < 0 ? '' : text.slice(hash + 1);
  let source: SetSpec['source'];
  const fm = /^fashion-mnist:(train|test)$/.exec(sourceText);
  const im = /^(imagefolder|list):(.+)$/.exec(sourceText);
  if (im) {
    check(images, () => `${flag} ${text}: image sources need the preprocessing flags (--preprocess ...)`);
    source = { kind: 'data', data: imageSpec(im[1] as 'imagefolder' | 'list', im[2]!, images.preprocessing, images.badImages) };
  } else if (fm) {
    source = { kind: 'data', data: { source: 'fashion-mnist', split: fm[1] as 'train' | 'test', preprocessing: arch.startsWith('vit') ? 'vit' : 'cnn' } };
  } else if (sourceText.startsWith('npy:')) {
    const [x, y, extra] = sourceText.slice(4).split(',');
    check(x && y && extra === undefined, () => `${flag} ${text}: write npy:INPUTS.npy,LABELS.npy`);
    check(existsSync(x) && existsSync(y), () => `${flag} ${text}: ${existsSync(x) ? y : x} not found`);
    source = { kind: 'data', data: npySpec(x, y) };
  } else {
    check(existsSync(sourceText) && statSync(sourceText).isDirectory(), () => `${flag} ${text}: '${sourceText}' is not a store folder; ${USAGE}`);
    source = { kind: 'store', dir: sourceText };
  }
  const filters: Filter[] = [];
  for (const term of filterText ? filterText.split(',') : []) {
    const m = /^(class|index)(!?=)(.+)$/.exec(term);
    if (m && m[1] === 'class') {
      const classes = m[3]!.split('+').map(Number);
      check(classes.every((c) => Number.isInteger(c) && c >= 0), () => `${flag} ${text}: '${term}' needs class numbers, e.g. class=3 or class=2+4`);
      filters.push({ kind: 'class', classes, negate: m[2] === '!=' });
    } else if (m && m[1] === 'index' && m[2] === '=') {
      filters.push({ kind: 'index', indices: new Set(parseIndices(m[3]!, `${flag} ${text}`)) });
    } else if (term === 'correct' || term === 'wrong') {
      filters.push({ kind: term });
    } else {
      throw new UserError(`${flag} ${text}: unknown filter '${term}'; ${USAGE}`);
    }
  }
  return { text, source, filters };
}

/** The set's examples; `predict` gives the unedited model's margins when a filter needs them. */
export async function resolveSet(spec: SetSpec, model: Model, weightsSha256: string, flag: string,
  predict: (ex: ExampleSet) => Promise<Float32Array>): Promise<EditSet> {
  let all: ExampleSet;
  let attributions: ReturnType<typeof openAttributionRows> | undefined;
  const C = model.components.size;
  if (spec.source.kind === 'store') {
    const dir = spec.source.dir;
    const manifest = readManifest(dir);
    check(manifest.model.sha256 === weightsSha256, () => `${flag}: store ${dir} was made with other weights (sha256 ${manifest.model.sha256.slice(0, 12)}…, --weights is ${weightsSha256.slice(0, 12)}…): its attributions do not describe this model`);
    check(manifest.components.length === C, () => `${flag}: store ${dir} has ${manifest.components.length} components, the model has ${C}`);
    all = await loadExamples(manifest.data, model, { indices: manifest.examples });
    const path = join(dir, 'attributions.npy');
    // opened (and checked) now, read once the filters have chosen the columns: a store's
    // attributions are [C, n] for all its examples, gigabytes at ImageNet's size
    if (existsSync(path)) attributions = openAttributionRows(dir, C, all.shape.n);
  } else {
    // select by label and index before preprocessing: a split has tens of thousands of images
    const data = spec.source.data;
    all = await loadExamples(data, model, { indices: candidateIndices(spec, data) });
  }
  let positions = Array.from({ length: all.shape.n }, (_, i) => i);
  for (const f of spec.filters) {
    if (f.kind === 'class') {
      const set = new Set(f.classes);
      positions = positions.filter((p) => set.has(all.labels[p]!) !== f.negate);
    } else if (f.kind === 'index') {
      positions = positions.filter((p) => f.indices.has(all.indices[p]!));
    }
  }
  if (spec.filters.some((f) => f.kind === 'correct' || f.kind === 'wrong')) {
    const margins = await predict(subset(all, positions));
    const want = spec.filters.find((f) => f.kind === 'correct' || f.kind === 'wrong')!.kind === 'correct';
    positions = positions.filter((_, i) => (margins[i]! > 0) === want);
  }
  check(positions.length > 0, () => `${flag} ${spec.text}: no examples are left after the filter`);
  const examples = subset(all, positions);
  return { spec, examples, attributions: attributions && gatherColumns(attributions, C, all.shape.n, positions) };
}

/** Columns `positions` of [C, n] attributions as [C, positions.length], in one pass of row blocks. */
function gatherColumns(a: ReturnType<typeof openAttributionRows>, C: number, n: number, positions: readonly number[]): Float32Array {
  const k = positions.length, out = new Float32Array(C * k);
  try {
    a.blocks((j0, block) => {
      const rows = block.length / n;
      for (let r = 0; r < rows; r++) for (let t = 0; t < k; t++) out[(j0 + r) * k + t] = block[r * n + positions[t]!]!;
    });
  } finally { a.close(); }
  return out;
}

/** Source indices a data set can hold at most, from its index and class filters. */
function candidateIndices(spec: SetSpec, data: DataSpec): number[] | undefined {
  const index = spec.filters.find((f): f is Extract<Filter, { kind: 'index' }> => f.kind === 'index');
  if (index) return [...index.indices].sort((a, b) => a - b);
  if (data.source !== 'fashion-mnist') return undefined;
  const classes = spec.filters.filter((f): f is Extract<Filter, { kind: 'class' }> => f.kind === 'class');
  const out: number[] = [];
  loadFashionMnist(data.split, data.folder).labels.forEach((l, i) => {
    if (classes.every((f) => f.classes.includes(l) !== f.negate)) out.push(i);
  });
  return out;
}

/** Examples at `positions` of a set, in that order. */
export function subset(ex: ExampleSet, positions: readonly number[]): ExampleSet {
  const per = ex.shape.c * ex.shape.h * ex.shape.w;
  const inputs = new Float32Array(positions.length * per);
  positions.forEach((p, i) => inputs.set(ex.inputs.chunk(p, 1), i * per));
  return {
    spec: ex.spec, indices: positions.map((p) => ex.indices[p]!), inputs: memoryInputs(inputs, per),
    shape: { ...ex.shape, n: positions.length }, labels: Int32Array.from(positions, (p) => ex.labels[p]!), classNames: ex.classNames,
  };
}

/** Two sets' examples one after the other (one ablator evaluates both). */
export function concat(a: ExampleSet, b: ExampleSet): ExampleSet {
  const { c, h, w } = a.shape;
  check(b.shape.c === c && b.shape.h === h && b.shape.w === w, () => `example sets have different input shapes: [${c}, ${h}, ${w}] and [${b.shape.c}, ${b.shape.h}, ${b.shape.w}]`);
  const x = materialize(a.inputs, 'coar edit'), y = materialize(b.inputs, 'coar edit');
  const inputs = new Float32Array(x.length + y.length);
  inputs.set(x);
  inputs.set(y, x.length);
  const labels = new Int32Array(a.labels.length + b.labels.length);
  labels.set(a.labels);
  labels.set(b.labels, a.labels.length);
  return { spec: a.spec, indices: [...a.indices, ...b.indices], inputs: memoryInputs(inputs, c * h * w), shape: { ...a.shape, n: a.shape.n + b.shape.n }, labels, classNames: a.classNames };
}
