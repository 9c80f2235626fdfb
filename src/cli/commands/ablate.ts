import type { CommandModule } from 'yargs';
import { ablate as runAblate } from '../../coar/ablate.js';
import { readExamples, readMasks } from '../../coar/inputs.js';
import { GpuContext } from '../../gpu/context.js';
import { parseConvTile } from '../../kernels/conv2d.js';
import { writeNpy } from '../../io/npy.js';
import { ARCHS, loadModel } from '../../models/index.js';
import { gpuOptions, type GpuArgs } from '../options.js';
import { progressBar } from '../progress.js';

interface Args extends GpuArgs { arch: string; weights: string; heads?: number; inputs: string; labels: string; masks: string; out: string; output: 'margins' | 'logits'; tile?: string }

export const ablate: CommandModule<{}, Args> = {
  command: 'ablate',
  describe: 'evaluate a model under k ablation masks on n examples (many masks per dispatch)',
  builder: (y) => gpuOptions(y)
    .option('arch', { type: 'string', demandOption: true, describe: `architecture: ${ARCHS.join(', ')}` })
    .option('weights', { type: 'string', demandOption: true, describe: 'safetensors file with PyTorch parameter names' })
    .option('heads', { type: 'number', describe: 'attention heads of a ViT (default: metadata key num_heads; 12 for vit_b_16)' })
    .option('inputs', { type: 'string', demandOption: true, describe: 'float32 .npy [n, C, H, W], already preprocessed' })
    .option('labels', { type: 'string', demandOption: true, describe: 'integer .npy [n]' })
    .option('masks', { type: 'string', demandOption: true, describe: 'bool or uint8 .npy [k, |C|], 1 = kept' })
    .option('out', { type: 'string', demandOption: true, describe: 'output .npy: float32 [k, n] margins or [k, n, classes] logits' })
    .option('output', { choices: ['margins', 'logits'] as const, default: 'margins' as const, describe: 'what to write' })
    .option('tile', { type: 'string', describe: 'run every conv with this tile (a name `coar bench tiles` lists), not the tuned or default one', group: 'GPU:' }) as any,
  handler: async (args) => {
    const model = loadModel(args.arch, args.weights, { heads: args.heads });
    const ex = readExamples(args.inputs, args.labels, model);
    const { masks, k } = readMasks(args.masks, model.components.size);
    const forced = args.tile ? parseConvTile(args.tile) : undefined;
    const ctx = await GpuContext.open(args);
    ctx.forcedConvTile = forced;
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
      ctx.destroy();
    }
  },
};
