import type { Argv } from 'yargs';

export interface GpuArgs {
  backend?: string;
  adapter?: string;
}

/** Flags every GPU command takes. */
export function gpuOptions<T>(y: Argv<T>): Argv<T & GpuArgs> {
  return y
    .option('backend', { type: 'string', describe: 'Dawn backend (vulkan, metal, d3d12, opengl, ...)', group: 'GPU:' })
    .option('adapter', { type: 'string', describe: 'adapter name to use when there are several', group: 'GPU:' });
}
