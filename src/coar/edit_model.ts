/**
 * `coar edit` as a library stage: COAR-Edit (edit.ts) on a model. Scores components by the
 * attributions of a target and a reference set, picks k on the validation sets with the
 * engine (many candidate k per dispatch), and writes the edited weights (safetensors with
 * the original names), edit.json and the page the caller renders. Everything of an edit is
 * computed before its first file is written. Lines, progress and each finished edit go to
 * the caller's callbacks.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ablate, Ablator } from './ablate.js';
import { ablationMasks, ablationOrder, chooseK, SEARCHES, setScore, validationCurve, welchScores, type Direction, type Search, type SearchResult } from './edit.js';
import { editedSafetensors, editMetadata } from './edit_export.js';
import type { EditRecord } from './edit_record.js';
import { concat, parseSet, resolveSet, subset, type EditSet } from './edit_sets.js';
import { sha256File, type ExampleSet } from './examples.js';
import type { BadImages } from '../data/image_pool.js';
import type { Preprocessing } from '../data/preprocess.js';
import { check } from '../errors.js';
import { GpuContext } from '../gpu/context.js';
import type { GpuOptions } from '../gpu/device.js';
import { writeFileAtomic } from '../io/atomic.js';
import { loadModel, type Model } from '../models/index.js';

export interface EditOptions {
  arch: string;
  /** safetensors the attributions were computed for */
  weights: string;
  /** attention heads of a ViT (default: its metadata) */
  heads?: number;
  /** the sets, SOURCE[#FILTER] (edit_sets.ts); target and reference come from fitted stores */
  target: string;
  reference: string;
  /** sets to choose k on (default: the target and reference sets) */
  valTarget?: string;
  valReference?: string;
  direction: Direction;
  /** largest drop of the validation reference accuracy, percentage points */
  maxDrop: number;
  /** also the largest drop of each class's accuracy there, percentage points (default: none) */
  maxClassDrop?: number;
  /** most components to ablate (default: min(|C|, 64)) */
  maxK?: number;
  search: Search;
  /** ranked components the skip search walks through (default: min(|C|, 8 maxK)) */
  candidates?: number;
  /** one edit per target example, each in out/edit-<index>; finished ones are skipped */
  each?: boolean;
  title?: string;
  /** folder of edited.safetensors, edit.json and the page */
  out: string;
  /** how image sources are read */
  images?: { preprocessing: Preprocessing; badImages: BadImages };
  gpu?: GpuOptions;
  /** the page written as edit.html beside edit.json (the report's; default: none) */
  page?: (record: EditRecord) => string;
  /** also log how far the search is every so many seconds (where no progress bar shows) */
  heartbeatSeconds?: number;
}

export interface EditCallbacks {
  /** one line of what the edit is doing */
  log?: (line: string) => void;
  /** the k search begins: `total` steps counted in `unit`; returns what follows them */
  progress?: (total: number, unit: string) => { update(done: number): void; stop(): void };
  /** an edit's files are written */
  edited?: (record: EditRecord, out: string) => void;
}

type Sets = Record<'target' | 'reference' | 'valTarget' | 'valReference', EditSet>;

/** The options an edit runs with once the model is known. */
interface Plan { direction: Direction; maxDrop: number; maxClassDrop: number | undefined; maxK: number; search: Search; candidates: number; sha: string; heartbeatSeconds?: number }

/** Margins of examples under masks [k, C]. */
async function margins(ctx: GpuContext, model: Model, ex: ExampleSet, masks: Uint8Array, k: number): Promise<Float32Array> {
  const net = model.build(ctx, ex.shape);
  try {
    return (await ablate(ctx, net, ex.inputs, ex.labels, masks, k)).margins;
  } finally {
    net.destroy();
  }
}

/** Run COAR-Edit (one edit, or one per target example) and write each; returns the records written now. */
export async function editModel(o: EditOptions, cb: EditCallbacks = {}): Promise<EditRecord[]> {
  const { direction } = o;
  check(Number.isFinite(o.maxDrop) && o.maxDrop >= 0 && o.maxDrop <= 100, () => `--max-drop is in percentage points, between 0 and 100; got ${o.maxDrop}`);
  const maxClassDrop = o.maxClassDrop;
  check(maxClassDrop === undefined || (Number.isFinite(maxClassDrop) && maxClassDrop >= 0 && maxClassDrop <= 100), () => `--max-class-drop is in percentage points, between 0 and 100; got ${maxClassDrop}`);
  check(!existsSync(o.out) || statSync(o.out).isDirectory(), () => `--out ${o.out} exists and is not a folder`);
  const log = (s: string) => cb.log?.(s);
  const model = loadModel(o.arch, o.weights, { heads: o.heads });
  const C = model.components.size;
  const maxK = o.maxK ?? Math.min(C, 64);
  check(Number.isInteger(maxK) && maxK >= 1 && maxK <= C, () => `--max-k must be an integer from 1 to ${C} (the model's components), got ${maxK}`);
  check((SEARCHES as readonly string[]).includes(o.search), () => `--search must be one of ${SEARCHES.join(', ')}, got '${o.search}'`);
  const search = o.search;
  const candidates = o.candidates ?? Math.min(C, 8 * maxK);
  check(Number.isInteger(candidates) && candidates >= 1 && candidates <= C, () => `--candidates must be an integer from 1 to ${C} (the model's components), got ${candidates}`);
  const sha = sha256File(o.weights);
  const specs = {
    target: parseSet(o.target, '--target', o.arch, o.images),
    reference: parseSet(o.reference, '--reference', o.arch, o.images),
    valTarget: parseSet(o.valTarget ?? o.target, '--val-target', o.arch, o.images),
    valReference: parseSet(o.valReference ?? o.reference, '--val-reference', o.arch, o.images),
  };
  check(!o.each || o.valTarget === undefined, () => '--each edits every target example on its own, with that example as its validation target: leave out --val-target');
  for (const k of ['target', 'reference'] as const) {
    check(specs[k].source.kind === 'store', () => `--${k} ${specs[k].text}: the ${k} set needs attributions, so its source must be a store folder made by coar sweep and fitted by coar fit`);
  }

  const ctx = await GpuContext.open(o.gpu);
  try {
    const unedited = (ex: ExampleSet) => margins(ctx, model, ex, new Uint8Array(C).fill(1), 1);
    const sets = {} as Sets;
    for (const [k, flag] of [['target', '--target'], ['reference', '--reference'], ['valTarget', '--val-target'], ['valReference', '--val-reference']] as const) {
      sets[k] = await resolveSet(specs[k], model, sha, flag, unedited);
    }
    for (const k of ['target', 'reference'] as const) {
      check(sets[k].attributions, () => `--${k}: store ${specs[k].text.split('#')[0]} has no attributions.npy; run coar fit on it first`);
    }
    const plan: Plan = { direction, maxDrop: o.maxDrop, maxClassDrop, maxK, search, candidates, sha, heartbeatSeconds: o.heartbeatSeconds };
    const written: EditRecord[] = [];
    const write = (out: string, record: EditRecord) => {
      const names = record.chosen.components.map((c) => c.name);
      const bytes = editedSafetensors(o.weights, model.components, record.chosen.components.map((c) => c.index), editMetadata(direction, names, sha));
      mkdirSync(out, { recursive: true });
      writeFileAtomic(join(out, 'edited.safetensors'), [bytes]);
      writeFileAtomic(join(out, 'edit.json'), [new TextEncoder().encode(JSON.stringify(record, null, 1) + '\n')]);
      if (o.page) writeFileAtomic(join(out, 'edit.html'), [new TextEncoder().encode(o.page(record))]);
      written.push(record);
      cb.edited?.(record, out);
      log(`wrote ${join(out, 'edited.safetensors')}, edit.json${o.page ? ', edit.html' : ''} in ${record.seconds.toFixed(1)} s`);
    };
    if (!o.each) {
      const title = o.title ?? `${direction === 'lower' ? 'Lower' : 'Raise'} the margins of ${specs.target.text}`;
      write(o.out, await oneEdit(ctx, model, o, sets, title, plan, cb));
      return written;
    }
    // one edit per target example, each written when done (a re-run skips the finished ones)
    const store = specs.target.text.split('#')[0]!;
    const t = sets.target;
    for (let p = 0; p < t.examples.shape.n; p++) {
      const index = t.examples.indices[p]!;
      const out = join(o.out, `edit-${index}`);
      if (existsSync(join(out, 'edit.json'))) { log(`${out}: done before, skipped`); continue; }
      const one: EditSet = {
        spec: { ...t.spec, text: `${store}#index=${index}` }, examples: subset(t.examples, [p]),
        attributions: Float32Array.from({ length: C }, (_, j) => t.attributions![j * t.examples.shape.n + p]!),
      };
      const title = o.title ? `${o.title} ${index}` : `${direction === 'lower' ? 'Lower' : 'Raise'} the margin of example ${index}`;
      write(out, await oneEdit(ctx, model, o, { ...sets, target: one, valTarget: one }, title, plan, cb));
    }
    return written;
  } finally {
    ctx.destroy();
  }
}

/** One COAR-Edit: scores, the k search on the validation sets, and the before/after record. */
async function oneEdit(ctx: GpuContext, model: Model, o: EditOptions, sets: Sets, title: string, plan: Plan, cb: EditCallbacks): Promise<EditRecord> {
  const { direction, maxK, search, candidates, sha } = plan;
  const log = (s: string) => cb.log?.(s);
  const C = model.components.size;
  const t0 = performance.now();
  const nT = sets.target.examples.shape.n, nR = sets.reference.examples.shape.n;
  log(`target ${nT}, reference ${nR}, validation target ${sets.valTarget.examples.shape.n}, validation reference ${sets.valReference.examples.shape.n} examples; ${C} components`);
  const scores = welchScores(sets.target.attributions!, nT, sets.reference.attributions!, nR);
  const order = ablationOrder(scores, direction);

  // choose k on the validation sets, many candidate ks per dispatch
  const val = concat(sets.valTarget.examples, sets.valReference.examples);
  const net = model.build(ctx, val.shape);
  const ablator = new Ablator(ctx, net, val.inputs, val.labels, Math.min(maxK + 1, 16));
  const walk = search === 'prefix' ? order : order.slice(0, candidates);
  const bar = cb.progress?.(search === 'prefix' ? maxK : walk.length, search === 'prefix' ? 'k' : 'components');
  let result: SearchResult;
  let lastLog = 0;
  const nVT = sets.valTarget.examples.shape.n;
  const budget = { maxDrop: plan.maxDrop / 100, maxClassDrop: plan.maxClassDrop === undefined ? undefined : plan.maxClassDrop / 100, labels: sets.valReference.examples.labels };
  try {
    result = await validationCurve(ablator, val.shape.n, sets.valTarget.examples.shape.n, walk, direction, {
      maxK, ...budget, chunk: ablator.shape.masks, search, onProgress: (k, total) => {
        bar?.update(k);
        const s = (performance.now() - t0) / 1000;
        if (plan.heartbeatSeconds !== undefined && s - lastLog > plan.heartbeatSeconds) { lastLog = s; log(`${search} search: ${k}/${total} ${search === 'prefix' ? 'k' : 'ranked components'} tried, ${(s).toFixed(0)} s`); }
      },
    });
  } finally {
    bar?.stop();
    ablator.destroy();
    net.destroy();
  }
  const curve = result.curve;
  const chosen = chooseK(curve, direction, budget, nVT);
  const ablated = result.sequence.slice(0, chosen.k);

  // the attribution sets themselves, before and after
  const both = concat(sets.target.examples, sets.reference.examples);
  const m = await margins(ctx, model, both, ablationMasks([[], ablated], C), 2);
  const n = both.shape.n;

  const names = model.components.names();
  const setRecord = (s: EditSet, before: Float32Array, after: Float32Array): EditRecord['sets'][string] => ({
    spec: s.spec.text, data: s.examples.spec, indices: s.examples.indices, labels: [...s.examples.labels],
    before: setScore(before, 0, before.length), after: setScore(after, 0, after.length),
    margins: { before: [...before], after: [...after] },
  });
  const record: EditRecord = {
    format: 'webcoar-edit-1',
    title,
    model: { arch: o.arch, weights: resolve(o.weights), sha256: sha, components: C },
    direction, maxDrop: plan.maxDrop, ...(plan.maxClassDrop === undefined ? {} : { maxClassDrop: plan.maxClassDrop }), maxK, search,
    chosen: { k: chosen.k, components: ablated.map((j) => ({ index: j, name: names[j]!, score: scores[j]! })) },
    curve: curve.map((p) => ({ k: p.k, valTarget: p.target, valReference: p.reference })),
    sequence: result.sequence.map((j) => ({ index: j, name: names[j]!, score: scores[j]! })),
    skipped: result.skipped.map((j) => names[j]!),
    ranking: order.slice(0, maxK).map((j) => ({ index: j, name: names[j]!, score: scores[j]! })),
    sets: {
      target: setRecord(sets.target, m.subarray(0, nT), m.subarray(n, n + nT)),
      reference: setRecord(sets.reference, m.subarray(nT, n), m.subarray(n + nT, 2 * n)),
      valTarget: setRecord(sets.valTarget, curve[0]!.margins.subarray(0, nVT), chosen.margins.subarray(0, nVT)),
      valReference: setRecord(sets.valReference, curve[0]!.margins.subarray(nVT), chosen.margins.subarray(nVT)),
    },
    seconds: (performance.now() - t0) / 1000,
    edited: 'edited.safetensors',
  };
  return record;
}
