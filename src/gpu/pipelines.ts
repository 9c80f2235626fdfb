/**
 * Compute pipelines, compiled once per (shader file, defines, override constants, entry
 * point). The key names every fact a compiled pipeline depends on and nothing else.
 */
import { shaderSource, type Defines } from './shader.js';

export interface PipelineSpec {
  shader: string;
  entry?: string;
  defines?: Defines;
  constants?: Record<string, number>;
}

export function pipelineKey(spec: PipelineSpec): string {
  const sorted = (o: Record<string, unknown> = {}) => Object.keys(o).sort().map((k) => `${k}=${o[k]}`).join(',');
  return `${spec.shader}:${spec.entry ?? 'main'}|${sorted(spec.defines)}|${sorted(spec.constants)}`;
}

export class PipelineCache {
  private modules = new Map<string, GPUShaderModule>();
  private pipelines = new Map<string, GPUComputePipeline>();
  compiled = 0;

  constructor(private device: GPUDevice) {}

  get(spec: PipelineSpec): GPUComputePipeline {
    const key = pipelineKey(spec);
    let p = this.pipelines.get(key);
    if (p) return p;
    const modKey = `${spec.shader}|${pipelineKey({ shader: spec.shader, defines: spec.defines })}`;
    let module = this.modules.get(modKey);
    if (!module) {
      module = this.device.createShaderModule({ code: shaderSource(spec.shader, spec.defines), label: modKey });
      this.modules.set(modKey, module);
    }
    p = this.device.createComputePipeline({
      layout: 'auto',
      label: key,
      compute: { module, entryPoint: spec.entry ?? 'main', constants: spec.constants ?? {} },
    });
    this.compiled++;
    this.pipelines.set(key, p);
    return p;
  }
}
