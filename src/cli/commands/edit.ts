/**
 * `coar edit`: COAR-Edit (src/coar/edit_model.ts) from the command line: the flags in, the
 * summary of each edit out; the edited weights, edit.json and edit.html are written by the
 * stage.
 */
import type { CommandModule } from 'yargs';
import type { SetScore, Search } from '../../coar/edit.js';
import { editModel } from '../../coar/edit_model.js';
import type { EditRecord } from '../../coar/edit_record.js';
import { check } from '../../errors.js';
import { ARCHS } from '../../models/index.js';
import { editPage } from '../../report/edit.js';
import { imageOptions, preprocessingFrom, type ImageArgs } from '../image_options.js';
import { gpuOptions, type GpuArgs } from '../options.js';
import { progressBar } from '../progress.js';

interface EditArgs extends GpuArgs, ImageArgs {
  arch: string; weights: string; heads?: number;
  target: string; reference: string; 'val-target'?: string; 'val-reference'?: string;
  lower?: boolean; raise?: boolean; each?: boolean; 'max-drop': number; 'max-class-drop'?: number; 'max-k'?: number; search: string; candidates?: number; out: string; title?: string; quiet?: boolean;
}

const SET_HELP = 'SOURCE[#FILTER]: a store folder, fashion-mnist:test|train, npy:X.npy,Y.npy, imagefolder:DIR or list:FILE; filters class=3, class!=3, index=0-499, index=5+9, index=@file, correct, wrong (joined by ,)';

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
    const log = (s: string) => { if (!args.quiet) process.stderr.write(`edit: ${s}\n`); };
    await editModel({
      arch: args.arch, weights: args.weights, heads: args.heads,
      target: args.target, reference: args.reference, valTarget: args['val-target'], valReference: args['val-reference'],
      direction: args.lower ? 'lower' : 'raise', maxDrop: args['max-drop'], maxClassDrop: args['max-class-drop'], maxK: args['max-k'],
      search: args.search as Search, candidates: args.candidates, each: args.each, title: args.title, out: args.out,
      images: { preprocessing: preprocessingFrom(args), badImages: args['bad-images'] ?? 'fail' },
      gpu: args, page: (record) => editPage([record]),
      // where no bar shows (logs, CI), a line now and then says the search is moving
      heartbeatSeconds: process.stderr.isTTY ? undefined : 30,
    }, {
      log, progress: (total, unit) => progressBar('edit', total, unit, args.quiet), edited: printSummary,
    });
  },
};

function printSummary(r: EditRecord): void {
  const pct = (s: SetScore) => `${(100 * s.accuracy).toFixed(2)}%`.padStart(8);
  console.log(`${r.title}: ablate ${r.chosen.k} component${r.chosen.k === 1 ? '' : 's'} (${r.direction} the target margins, reference drop <= ${r.maxDrop} points${r.maxClassDrop === undefined ? '' : `, <= ${r.maxClassDrop} per class`})`);
  console.log('set                examples   accuracy before   after');
  for (const [name, s] of Object.entries(r.sets)) console.log(`${name.padEnd(18)} ${String(s.indices.length).padStart(8)}   ${pct(s.before)}        ${pct(s.after)}`);
  if (r.chosen.components.length) console.log(`components: ${r.chosen.components.map((c) => c.name).join(', ')}`);
}
