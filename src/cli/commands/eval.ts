import type { CommandModule } from 'yargs';
import { evalHeldout, writeHeldoutEval } from '../../coar/eval_heldout.js';
import { defaultEvalAlphas, evalStore, evalSummary, storeModel, writeEval } from '../../coar/eval_store.js';
import { defaultMemoryBytes } from '../../coar/fit/cost.js';
import { readManifest } from '../../coar/store_manifest.js';
import { check } from '../../errors.js';
import { GpuContext } from '../../gpu/context.js';
import { printEval } from '../eval_table.js';
import { gpuOptions, type GpuArgs } from '../options.js';
import { progressBar } from '../progress.js';

interface EvalArgs extends GpuArgs { store: string; attributions?: string; masks: number; alphas?: string; weights?: string; out?: string; quiet?: boolean; json?: boolean; heldout?: string; memory?: number; split?: string }

export const evalCommand: CommandModule<{}, EvalArgs> = {
  command: 'eval <store>',
  describe: 'correlate predicted and true margins on fresh masks at alpha/2, alpha, 2 alpha',
  builder: (y) => gpuOptions(y)
    .positional('store', { type: 'string', demandOption: true, describe: 'a sweep store (with manifest.json)' })
    .option('attributions', { type: 'string', describe: 'folder with attributions.npy and bias.npy (default: the store)' })
    .option('masks', { type: 'number', default: 100, describe: 'fresh masks per alpha' })
    .option('alphas', { type: 'string', describe: 'comma-separated alphas (default: alpha/2, alpha, 2 alpha of the sweep)' })
    .option('weights', { type: 'string', describe: "the model's weights, if moved since the sweep (hash checked)" })
    .option('out', { type: 'string', describe: 'where to write eval.json and the margins (default: the attributions folder)' })
    .option('heldout', { type: 'string', describe: 'score on this held-out store\'s masks and margins instead (no model, no GPU; writes heldout_eval.json)' })
    .option('split', { type: 'string', describe: 'with --heldout: use <split>_margins.npy of the held-out store' })
    .option('memory', { type: 'number', describe: 'bound on host memory in GB for reading the attributions and the held-out store (default: half the machine\'s)' })
    .option('json', { type: 'boolean', describe: 'print one JSON summary on stdout instead of the table' })
    .option('quiet', { type: 'boolean' }) as any,
  handler: async (args) => {
    check(args.memory === undefined || args.memory > 0, () => `--memory must be > 0 GB, got ${args.memory}`);
    const memoryBytes = args.memory === undefined ? defaultMemoryBytes() : args.memory * 2 ** 30;
    const log = (line: string) => { if (!args.quiet) process.stderr.write(`eval: ${line}\n`); };
    if (args.heldout !== undefined) {
      const attrDir = args.attributions ?? args.store;
      const r = evalHeldout(args.store, args.heldout, attrDir, { memoryBytes, split: args.split }, {
        log, progress: (examples) => progressBar('eval', examples, 'examples', args.quiet),
      });
      const path = writeHeldoutEval(args.out ?? attrDir, r);
      if (args.json) console.log(JSON.stringify({ command: 'eval', store: args.store, heldout: r.heldout, out: path, eval: [{ alpha: r.alpha, masks: r.masks, ...r.summary }] }));
      else printEval([{ alpha: r.alpha ?? NaN, masks: r.masks, summary: r.summary }]);
      return;
    }
    const manifest = readManifest(args.store);
    check(Number.isInteger(args.masks) && args.masks >= 3, () => `--masks must be an integer >= 3, got ${args.masks}`);
    const alphas = args.alphas ? args.alphas.split(',').map(Number) : defaultEvalAlphas(manifest.alpha);
    for (const a of alphas) check(a > 0 && a < 1, () => `--alphas: each alpha must be in (0, 1), got ${a}`);
    const model = storeModel(manifest, args.weights);
    const attrDir = args.attributions ?? args.store;
    const ctx = await GpuContext.open(args);
    try {
      const results = await evalStore(ctx, manifest, model, attrDir, { masks: args.masks, alphas, memoryBytes }, {
        log, progress: (passes) => progressBar('eval', passes, 'passes', args.quiet),
      });
      const out = args.out ?? attrDir;
      writeEval(out, results);
      if (args.json) console.log(JSON.stringify({ command: 'eval', store: args.store, out, eval: evalSummary(results) }));
      else printEval(results);
    } finally {
      ctx.destroy();
    }
  },
};
