import type { Argv } from 'yargs';

export interface GpuArgs {
  backend?: string;
  adapter?: string;
  precision?: 'f32' | 'f16';
  tune?: boolean;
  retune?: boolean;
}

/** Flags every GPU command takes. */
export function gpuOptions<T>(y: Argv<T>): Argv<T & GpuArgs> {
  return y
    .option('backend', { type: 'string', describe: 'Dawn backend (vulkan, metal, d3d12, opengl, ...)', group: 'GPU:' })
    .option('adapter', { type: 'string', describe: 'adapter name to use when there are several', group: 'GPU:' })
    .option('precision', { choices: ['f32', 'f16'] as const, describe: 'storage precision of the model\'s activations and weights in forward passes (f16 needs shader-f16; default f32)', group: 'GPU:' })
    .option('tune', { type: 'boolean', describe: 'measure kernel tiles for shapes missing from the tuning cache (~/.cache/webcoar/tuning.json) first', group: 'GPU:' })
    .option('retune', { type: 'boolean', describe: 'rebuild the tuning cache: measure the tiles of every shape met again', group: 'GPU:' }) as Argv<T & GpuArgs>;
}
