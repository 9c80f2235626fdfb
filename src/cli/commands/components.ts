import type { CommandModule } from 'yargs';
import { ARCHS, loadModel } from '../../models/index.js';

interface Args { arch: string; weights: string; heads?: number; json?: boolean }

export const components: CommandModule<{}, Args> = {
  command: 'components',
  describe: 'print the component table of a model (index, name, layer)',
  builder: (y) => y
    .option('arch', { type: 'string', demandOption: true, describe: `architecture: ${ARCHS.join(', ')}` })
    .option('weights', { type: 'string', demandOption: true, describe: 'safetensors file with PyTorch parameter names' })
    .option('heads', { type: 'number', describe: 'attention heads of a ViT (default: metadata key num_heads; 12 for vit_b_16)' })
    .option('json', { type: 'boolean', describe: 'print a JSON array of {index, name, layer}' }) as any,
  handler: (args) => {
    const model = loadModel(args.arch, args.weights, { heads: args.heads });
    const rows = [...model.components.entries()];
    if (args.json) {
      process.stdout.write(JSON.stringify(rows) + '\n');
      return;
    }
    const lines = rows.map((r) => `${r.index}\t${r.name}\t${r.layer}`);
    process.stdout.write(`index\tname\tlayer\n${lines.join('\n')}\n`);
    console.error(`${rows.length} components in ${model.components.groups.length} layers`);
  },
};
