/** One compute dispatch ready to encode: what kernels prepare and the context runs (shared by context.ts and tuning.ts, so neither imports the other). */
export interface Dispatch {
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  groups: [number, number, number];
  label: string;
}
