/**
 * `coar edit`: COAR-Edit (src/coar/edit.ts) from the command line. Scores components by the
 * attributions of a target and a reference set, picks k on the validation sets with the
 * engine (many candidate k per dispatch), and writes the edited weights (safetensors with
 * the original names), edit.json and edit.html. Everything is computed before the first
 * file is written.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CommandModule } from 'yargs';
import { ablate, Ablator } from '../../coar/ablate.js';
import { ablationMasks, ablationOrder, chooseK, SEARCHES, setScore, validationCurve, welchScores, type Direction, type Search, type SearchResult, type SetScore } from '../../coar/edit.js';
import { editedSafetensors, editMetadata } from '../../coar/edit_export.js';
import { concat, parseSet, resolveSet, subset, type EditSet } from '../../coar/edit_sets.js';
import { sha256File, type ExampleSet } from '../../coar/examples.js';
import { check } from '../../errors.js';
import { GpuContext } from '../../gpu/context.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { ARCHS, loadModel, type Model } from '../../models/index.js';
import { editPage, type EditRecord } from '../../report/edit.js';
import { imageOptions, preprocessingFrom, type ImageArgs } from '../image_options.js';
import { gpuOptions, type GpuArgs } from '../options.js';
import { progressBar } from '../progress.js';

interface EditArgs extends GpuArgs, ImageArgs {
  arch: string; weights: string; heads?: number;
  target: string; reference: string; 'val-target'?: string; 'val-reference'?: string;
  lower?: boolean; raise?: boolean; each?: boolean; 'max-drop': number; 'max-class-drop'?: number; 'max-k'?: number; search: string; candidates?: number; out: string; title?: string; quiet?: boolean;
}

const SET_HELP = 'SOURCE[#FILTER]: a store folder, fashion-mnist:test|train, npy:X.npy,Y.npy, imagefolder:DIR or list:FILE; filters class=3, class!=3, index=0-499, index=5+9, index=@file, correct, wrong (joined by ,)';

/** Margins of examples under masks [k, C]. */
async function margins(ctx: GpuContext, model: Model, ex: ExampleSet, masks: Uint8Array, k: number): Promise<Float32Array> {
  const net = model.build(ctx, ex.shape);
  try {
    return (await ablate(ctx, net, ex.inputs, ex.labels, masks, k)).margins;
  } finally {
    net.destroy();
  }
}

export const edit: CommandModule<{}, EditArgs> = {
  command: 'edit',
  describe: 'COAR-Edit: ablate the components that separate a target set from a reference set; write the edited weights',
  builder: (y) => imageOptions(gpuOptions(y))
    .option('arch', { type: 'string', demandOption: true, describe: `architecture: ${ARCHS.join(', ')}` })
    .option('weights', { type: 'string', demandOption: true, describe: 'safetensors file the attributions were computed for' })
    .option('heads', { type: 'number', describe: 'attention heads of a ViT (default: metadata key num_heads)' })
    .option('target', { type: 'string', demandOption: true, describe: `target set, from a fitted store: ${SET_HELP}` })
    .option('reference', { type: 'string', demandOption: true, describe: 'reference set, from a fitted store (same form)' })
    .option('val-target', { type: 'string', describe: 'validation target set to choose k on (any source; default: the target set)' })
    .option('val-reference', { type: 'string', describe: 'validation reference set (default: the reference set)' })
    .option('lower', { type: 'boolean', describe: 'lower the target margins: ablate the top-k components' })
    .option('raise', { type: 'boolean', describe: 'raise the target margins: ablate the bottom-k components' })
    .option('max-drop', { type: 'number', default: 1, describe: 'largest drop of the validation reference accuracy allowed, in percentage points' })
    .option('max-class-drop', { type: 'number', describe: 'also the largest drop of each class\'s accuracy in the validation reference set, in percentage points (default: no per-class budget)' })
    .option('max-k', { type: 'number', describe: 'most components to ablate (default: min(|C|, 64))' })
    .option('search', { type: 'string', default: 'skip', describe: 'how k is searched: skip (add the next ranked component that keeps the budget and helps the validation target; pass over the others) or prefix (ablate the top k of the ranking, the paper\'s procedure)' })
    .option('candidates', { type: 'number', describe: 'ranked components the skip search walks through (default: min(|C|, 8 x max-k))' })
    .option('each', { type: 'boolean', describe: 'one edit per example of the target set (its own attributions and validation target), written to OUT/edit-<index>; a re-run skips the finished ones' })
    .option('title', { type: 'string', describe: 'a name for the edit in the report' })
    .option('out', { type: 'string', demandOption: true, describe: 'output folder: edited.safetensors, edit.json, edit.html' })
    .option('quiet', { type: 'boolean', describe: 'no progress on stderr' }) as any,
  handler: async (args) => {
    check(!!args.lower !== !!args.raise, () => 'say which way to move the target margins: --lower (ablate the top-k) or --raise (ablate the bottom-k)');
    const direction: Direction = args.lower ? 'lower' : 'raise';
    check(Number.isFinite(args['max-drop']) && args['max-drop'] >= 0 && args['max-drop'] <= 100, () => `--max-drop is in percentage points, between 0 and 100; got ${args['max-drop']}`);
    const maxClassDrop = args['max-class-drop'];
    check(maxClassDrop === undefined || (Number.isFinite(maxClassDrop) && maxClassDrop >= 0 && maxClassDrop <= 100), () => `--max-class-drop is in percentage points, between 0 and 100; got ${maxClassDrop}`);
    check(!existsSync(args.out) || statSync(args.out).isDirectory(), () => `--out ${args.out} exists and is not a folder`);
    const log = (s: string) => { if (!args.quiet) process.stderr.write(`edit: ${s}\n`); };
    const model = loadModel(args.arch, args.weights, { heads: args.heads });
    const C = model.components.size;
    const maxK = args['max-k'] ?? Math.min(C, 64);
    check(Number.isInteger(maxK) && maxK >= 1 && maxK <= C, () => `--max-k must be an integer from 1 to ${C} (the model's components), got ${maxK}`);
    check((SEARCHES as readonly string[]).includes(args.search), () => `--search must be one of ${SEARCHES.join(', ')}, got '${args.search}'`);
    const search = args.search as Search;
    const candidates = args.candidates ?? Math.min(C, 8 * maxK);
    check(Number.isInteger(candidates) && candidates >= 1 && candidates <= C, () => `--candidates must be an integer from 1 to ${C} (the model's components), got ${candidates}`);
    const sha = sha256File(args.weights);
    const images = { preprocessing: preprocessingFrom(args), badImages: args['bad-images'] ?? 'fail' } as const;
    const specs = {
      target: parseSet(args.target, '--target', args.arch, images),
      reference: parseSet(args.reference, '--reference', args.arch, images),
      valTarget: parseSet(args['val-target'] ?? args.target, '--val-target', args.arch, images),
      valReference: parseSet(args['val-reference'] ?? args.reference, '--val-reference', args.arch, images),
    };
    check(!args.each || args['val-target'] === undefined, () => '--each edits every target example on its own, with that example as its validation target: leave out --val-target');
    for (const k of ['target', 'reference'] as const) {
      check(specs[k].source.kind === 'store', () => `--${k} ${specs[k].text}: the ${k} set needs attributions, so its source must be a store folder made by coar sweep and fitted by coar fit`);
    }

    const ctx = await GpuContext.open(args);
    try {
      const unedited = (ex: ExampleSet) => margins(ctx, model, ex, new Uint8Array(C).fill(1), 1);
      const sets = {} as Record<keyof typeof specs, EditSet>;
      for (const [k, flag] of [['target', '--target'], ['reference', '--reference'], ['valTarget', '--val-target'], ['valReference', '--val-reference']] as const) {
        sets[k] = await resolveSet(specs[k], model, sha, flag, unedited);
      }
      for (const k of ['target', 'reference'] as const) {
        check(sets[k].attributions, () => `--${k}: store ${specs[k].text.split('#')[0]} has no attributions.npy; run coar fit on it first`);
      }
      const opts: EditOptions = { direction, maxDrop: args['max-drop'], maxClassDrop, maxK, search, candidates, quiet: !!args.quiet, sha, log };
      const write = (out: string, record: EditRecord) => {
        const names = record.chosen.components.map((c) => c.name);
        const bytes = editedSafetensors(args.weights, model.components, record.chosen.components.map((c) => c.index), editMetadata(direction, names, sha));
        mkdirSync(out, { recursive: true });
        writeFileAtomic(join(out, 'edited.safetensors'), [bytes]);
        writeFileAtomic(join(out, 'edit.json'), [new TextEncoder().encode(JSON.stringify(record, null, 1) + '\n')]);
        writeFileAtomic(join(out, 'edit.html'), [new TextEncoder().encode(editPage([record]))]);
        printSummary(record);
        log(`wrote ${join(out, 'edited.safetensors')}, edit.json, edit.html in ${record.seconds.toFixed(1)} s`);
      };
      if (!args.each) {
        const title = args.title ?? `${direction === 'lower' ? 'Lower' : 'Raise'} the margins of ${specs.target.text}`;
        write(args.out, await runEdit(ctx, model, args, sets, title, opts));
        return;
      }
      // one edit per target example, each written when done (a re-run skips the finished ones)
      const store = specs.target.text.split('#')[0]!;
      const t = sets.target;
      for (let p = 0; p < t.examples.shape.n; p++) {
        const index = t.examples.indices[p]!;
        const out = join(args.out, `edit-${index}`);
        if (existsSync(join(out, 'edit.json'))) { log(`${out}: done before, skipped`); continue; }
        const one: EditSet = {
          spec: { ...t.spec, text: `${store}#index=${index}` }, examples: subset(t.examples, [p]),
          attributions: Float32Array.from({ length: C }, (_, j) => t.attributions![j * t.examples.shape.n + p]!),
        };
        const title = args.title ? `${args.title} ${index}` : `${direction === 'lower' ? 'Lower' : 'Raise'} the margin of example ${index}`;
        write(out, await runEdit(ctx, model, args, { ...sets, target: one, valTarget: one }, title, opts));
      }
    } finally {
      ctx.destroy();
    }
  },
};

interface EditOptions { direction: Direction; maxDrop: number; maxClassDrop: number | undefined; maxK: number; search: Search; candidates: number; quiet: boolean; sha: string; log: (s: string) => void }

/** One COAR-Edit: scores, the k search on the validation sets, and the before/after record. */
async function runEdit(ctx: GpuContext, model: Model, args: EditArgs, sets: Record<'target' | 'reference' | 'valTarget' | 'valReference', EditSet>, title: string, o: EditOptions): Promise<EditRecord> {
  const { direction, maxK, search, candidates, sha, log } = o;
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
  const bar = progressBar('edit', search === 'prefix' ? maxK : walk.length, search === 'prefix' ? 'k' : 'components', o.quiet);
  let result: SearchResult;
  let lastLog = 0;
  const nVT = sets.valTarget.examples.shape.n;
  const budget = { maxDrop: o.maxDrop / 100, maxClassDrop: o.maxClassDrop === undefined ? undefined : o.maxClassDrop / 100, labels: sets.valReference.examples.labels };
  try {
    result = await validationCurve(ablator, val.shape.n, sets.valTarget.examples.shape.n, walk, direction, {
      maxK, ...budget, chunk: ablator.shape.masks, search, onProgress: (k, total) => {
        bar.update(k);
        const s = (performance.now() - t0) / 1000;
        if (!process.stderr.isTTY && s - lastLog > 30) { lastLog = s; log(`${search} search: ${k}/${total} ${search === 'prefix' ? 'k' : 'ranked components'} tried, ${(s).toFixed(0)} s`); }
      },
    });
  } finally {
    bar.stop();
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
    model: { arch: args.arch, weights: resolve(args.weights), sha256: sha, components: C },
    direction, maxDrop: o.maxDrop, ...(o.maxClassDrop === undefined ? {} : { maxClassDrop: o.maxClassDrop }), maxK, search,
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

function printSummary(r: EditRecord): void {
  const pct = (s: SetScore) => `${(100 * s.accuracy).toFixed(2)}%`.padStart(8);
  console.log(`${r.title}: ablate ${r.chosen.k} component${r.chosen.k === 1 ? '' : 's'} (${r.direction} the target margins, reference drop <= ${r.maxDrop} points${r.maxClassDrop === undefined ? '' : `, <= ${r.maxClassDrop} per class`})`);
  console.log('set                examples   accuracy before   after');
  for (const [name, s] of Object.entries(r.sets)) console.log(`${name.padEnd(18)} ${String(s.indices.length).padStart(8)}   ${pct(s.before)}        ${pct(s.after)}`);
  if (r.chosen.components.length) console.log(`components: ${r.chosen.components.map((c) => c.name).join(', ')}`);
}
