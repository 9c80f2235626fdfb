/**
 * One object a kernel needs: the device, the pipeline cache and the buffer pool, plus
 * `dispatch`, which binds buffers by binding number and records one compute dispatch.
 */
import { BufferPool } from './buffers.js';
import { openGpu, type Gpu, type GpuOptions } from './device.js';
import { PipelineCache, type PipelineSpec } from './pipelines.js';

export const MAX_GROUPS = 65535;

/** A compute dispatch ready to record: built once, replayed for every batch. */
export interface Dispatch {
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  groups: [number, number, number];
  label: string;
}

export function encodeDispatches(pass: GPUComputePassEncoder, dispatches: readonly Dispatch[]): void {
  for (const d of dispatches) {
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, d.bindGroup);
    pass.dispatchWorkgroups(...d.groups);
  }
}

export class GpuContext {
  readonly device: GPUDevice;
  readonly pipelines: PipelineCache;
  readonly pool: BufferPool;

  private constructor(readonly gpu: Gpu) {
    this.device = gpu.device;
    this.pipelines = new PipelineCache(gpu.device);
    this.pool = new BufferPool(gpu.device, gpu.limits.maxStorageBufferBindingSize ?? 128 << 20);
  }

  static async open(opts: GpuOptions = {}): Promise<GpuContext> {
    return new GpuContext(await openGpu(opts));
  }

  get maxBinding(): number { return this.gpu.limits.maxStorageBufferBindingSize ?? 128 << 20; }
  get maxBuffer(): number { return this.gpu.limits.maxBufferSize ?? 256 << 20; }

  /** Compile (or reuse) the pipeline and bind `bindings[i]` to @binding(i); undefined entries are skipped. */
  prepare(spec: PipelineSpec, bindings: (GPUBuffer | undefined)[], groups: [number, number?, number?], label = spec.shader): Dispatch {
    const pipeline = this.pipelines.get(spec);
    const entries: GPUBindGroupEntry[] = [];
    bindings.forEach((buffer, binding) => { if (buffer) entries.push({ binding, resource: { buffer } }); });
    const bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries, label });
    return { pipeline, bindGroup, groups: [groups[0], groups[1] ?? 1, groups[2] ?? 1], label };
  }

  destroy(): void {
    this.pool.destroyAll();
    this.gpu.destroy();
  }
}

/** Split a 1-D count of workgroups over y and z so that neither exceeds the limit. */
export function splitGroups(total: number): [number, number] {
  if (total <= MAX_GROUPS) return [Math.max(total, 1), 1];
  const z = Math.ceil(total / MAX_GROUPS);
  return [Math.ceil(total / z), z];
}
