import type { CommandModule } from 'yargs';
import { ablate as runAblate } from '../../coar/ablate.js';
import { loadExamples } from '../../coar/examples.js';
import { readMasks } from '../../coar/inputs.js';
import { GpuContext } from '../../gpu/context.js';
import { forceTiles, parseForcedTiles } from '../../kernels/forced_tiles.js';
import { writeNpy } from '../../io/npy.js';
import { loadModel } from '../../models/index.js';
import { dataSpec, exampleSelection, modelDataOptions, type ModelDataArgs } from '../data_options.js';
import { progressBar } from '../progress.js';

interface Args extends ModelDataArgs { heads?: number; masks: string; out: string; output: 'margins' | 'logits'; tile?: string }

export const ablate: CommandModule<{}, Args> = {
  command: 'ablate',
  describe: 'evaluate a model under k ablation masks on n examples (many masks per dispatch)',
  builder: (y) => modelDataOptions(y)
    .option('heads', { type: 'number', describe: 'attention heads of a ViT (default: metadata key num_heads; 12 for vit_b_16)' })
    .option('indices', { type: 'string', describe: 'instead of --examples: the example indices (5+9+12, 0-499 or @file)' })
    .option('masks', { type: 'string', demandOption: true, describe: 'bool or uint8 .npy [k, |C|], 1 = kept' })
    .option('out', { type: 'string', demandOption: true, describe: 'output .npy: float32 [k, n] margins or [k, n, classes] logits' })
    .option('output', { choices: ['margins', 'logits'] as const, default: 'margins' as const, describe: 'what to write' })
    .option('tile', { type: 'string', describe: 'run every conv (a conv tile name) or every attention (an attn/ name) with this tile, not the tuned or default one; names from `coar bench tiles`, one of each kind comma-separated', group: 'GPU:' }) as any,
  handler: async (args) => {
    const model = loadModel(args.arch, args.weights, { heads: args.heads });
    const ex = await loadExamples(dataSpec(args, args.arch), model, exampleSelection(args));
    const { masks, k } = readMasks(args.masks, model.components.size);
    const skipped = ex.spec.source === 'imagefolder' || ex.spec.source === 'list' ? ex.spec.skipped ?? [] : [];
    // the output's columns are the images kept, in order: say which were left out
    for (const s of skipped) console.error(`ablate: skipped ${s.reason}`);
    const forced = parseForcedTiles(args.tile);
    const ctx = await GpuContext.open(args);
    forceTiles(ctx, forced);
    try {
      const net = model.build(ctx, ex.shape);
      const bar = progressBar('ablate', k * ex.shape.n);
      const t0 = performance.now();
      const r = await runAblate(ctx, net, ex.inputs, ex.labels, masks, k, { logits: args.output === 'logits', onProgress: (d) => bar.update(d) });
      bar.stop();
      const s = (performance.now() - t0) / 1000;
      if (args.output === 'logits') writeNpy(args.out, 'f4', [k, ex.shape.n, model.classes], r.logits!);
      else writeNpy(args.out, 'f4', [k, ex.shape.n], r.margins);
      console.error(`${k} masks x ${ex.shape.n} examples = ${k * ex.shape.n} ablated passes in ${s.toFixed(2)} s (${((k * ex.shape.n) / s).toFixed(1)} passes/s) -> ${args.out}`);
      net.destroy();
    } finally {
      ex.inputs.close?.();
      ctx.destroy();
    }
  },
};
