import type { CommandModule } from 'yargs';
import { GpuContext } from '../../gpu/context.js';
import { gpuOptions, type GpuArgs } from '../options.js';

export const info: CommandModule<{}, GpuArgs & { json?: boolean }> = {
  command: 'info',
  describe: 'print the WebGPU adapter, backend, features and limits',
  builder: (y) => gpuOptions(y).option('json', { type: 'boolean', describe: 'print JSON' }) as any,
  handler: async (args) => {
    const ctx = await GpuContext.open(args);
    const g = ctx.gpu;
    try {
      if (args.json) {
        console.log(JSON.stringify({ adapter: g.adapterName, backend: g.backend, description: g.description, features: g.features, limits: g.limits }, null, 2));
        return;
      }
      console.log(`adapter   ${g.adapterName}`);
      console.log(`backend   ${g.backend}`);
      console.log(`details   ${g.description}`);
      console.log(`features  ${g.features.sort().join(', ')}`);
      console.log('limits');
      for (const [k, v] of Object.entries(g.limits).sort()) console.log(`  ${k.padEnd(42)} ${v}`);
    } finally {
      ctx.destroy();
    }
  },
};
