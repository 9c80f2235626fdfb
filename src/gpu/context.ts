/**
 * One object a kernel needs: the device, the pipeline cache and the buffer pool, plus
 * `dispatch`, which binds buffers by binding number and records one compute dispatch.
 */
import { BufferPool } from './buffers.js';
import { UserError } from '../errors.js';
import { openGpu, type Gpu, type GpuOptions, type Precision } from './device.js';
import { adapterProfile, type AdapterProfile, type AttentionTile, type ConvTile } from './profiles/index.js';
import { PipelineCache, type PipelineSpec } from './pipelines.js';
import { TuningTable } from './tuning.js';

export const MAX_GROUPS = 65535;

/** A compute dispatch ready to record: built once, replayed for every batch. */
export type { Dispatch } from './dispatch.js';
import type { Dispatch } from './dispatch.js';

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
  /** storage precision of activations and weights */
  readonly precision: Precision;
  /** tiles measured on this adapter (cached on disk), and what is waiting to be measured */
  readonly tuning: TuningTable;
  /** everything about the adapter a kernel's policy depends on (profiles/) */
  readonly profile: AdapterProfile;
  /** a tile every conv uses instead of its tuned or default one (`--tile`: tests and benchmarks of one tile kind) */
  forcedConvTile?: ConvTile;
  /** a tile every attention uses instead of its tuned or default one (`--tile attn/...`) */
  forcedAttentionTile?: AttentionTile;

  private constructor(readonly gpu: Gpu, opts: GpuOptions) {
    this.device = gpu.device;
    this.pipelines = new PipelineCache(gpu.device);
    // only features the device was opened with count (f16 and subgroups are requested where offered)
    this.profile = adapterProfile({ ...gpu.facts, features: gpu.facts.features.filter((f) => !['shader-f16', 'subgroups'].includes(f) || gpu.device.features.has(f)) });
    this.pool = new BufferPool(gpu.device, this.profile.maxBinding);
    this.precision = opts.precision ?? 'f32';
    this.tuning = new TuningTable(gpu.description, opts.retune ? 'rebuild' : opts.tune ? 'missing' : 'cached');
  }

  static async open(opts: GpuOptions = {}): Promise<GpuContext> {
    if (opts.precision !== undefined && opts.precision !== 'f32' && opts.precision !== 'f16') {
      throw new UserError(`--precision '${opts.precision}' is not one of f32, f16`);
    }
    const gpu = await openGpu(opts);
    if (opts.precision === 'f16' && !gpu.hasF16) {
      gpu.destroy();
      throw new UserError(`--precision f16 needs the shader-f16 feature, which adapter '${gpu.adapterName}' lacks: use --precision f32`);
    }
    return new GpuContext(gpu, opts);
  }

  /** bytes per stored activation or weight */
  get elemBytes(): number { return this.precision === 'f16' ? 2 : 4; }

  get maxBinding(): number { return this.profile.maxBinding; }

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
