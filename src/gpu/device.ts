/**
 * The WebGPU device: Dawn's node bindings, an adapter chosen by flag, every limit raised
 * to what the adapter offers, Dawn's own notices kept off the console, and a clean exit.
 */
import './globals.js';
import { create } from 'webgpu';
import { UserError } from '../errors.js';
import { withNativeStderr } from './native_log.js';
import { watchDevice } from './failure.js';
import type { AdapterFacts } from './profiles/index.js';


export interface GpuOptions {
  /** Dawn backend: vulkan, metal, d3d12, opengl, ... (default: Dawn's choice) */
  backend?: string;
  /** substring of the adapter name to pick among several */
  adapter?: string;
  powerPreference?: GPUPowerPreference;
  /** f32 (default) or f16: activations and weights stored as f16 (needs shader-f16) */
  precision?: Precision;
  /** measure tiles for shape classes missing from the tuning cache */
  tune?: boolean;
  /** measure every shape class met again, replacing the adapter's cached tiles */
  retune?: boolean;
  /** also show Dawn's and the driver's harmless notices (native_log.ts) */
  verbose?: boolean;
}

export type Precision = 'f32' | 'f16';

export interface Gpu {
  device: GPUDevice;
  adapterName: string;
  backend: string;
  description: string;
  features: string[];
  limits: Record<string, number>;
  hasTimestamps: boolean;
  hasF16: boolean;
  /** what the adapter reports about itself, for its profile (profiles/index.ts) */
  facts: AdapterFacts;
  destroy(): void;
}

const NO_ADAPTER = 'no WebGPU adapter found. Without a GPU, install a Vulkan driver Dawn accepts: ' +
  'run scripts/setup.sh (it installs mesa-vulkan-drivers >= 25 from bookworm-backports); ' +
  'with a GPU, install its Vulkan driver';

// Dawn's choice when no backend is named
const DEFAULT_BACKEND: Record<string, string> = { linux: 'vulkan', darwin: 'metal', win32: 'd3d12' };

// Dawn's instance must outlive every device made from it: if it is garbage-collected,
// its threads are torn down under pending GPU work and the process crashes.
const instances: GPU[] = [];

export function openGpu(opts: GpuOptions = {}): Promise<Gpu> {
  return withNativeStderr(opts.verbose ?? false, () => open(opts));
}

async function open(opts: GpuOptions): Promise<Gpu> {
  const flags: string[] = [];
  if (opts.backend) flags.push(`backend=${opts.backend}`);
  if (opts.adapter) flags.push(`adapter=${opts.adapter}`);
  // exact timings for the profiler; harmless otherwise
  flags.push('disable-dawn-features=timestamp_quantization');
  // Dawn exposes chromium-experimental-subgroup-matrix (and fills adapter.info.subgroupMatrixConfigs)
  // only with its unsafe APIs allowed: opt-in, for the GPU check (bench/gpu/check.sh) to see them
  if (process.env.WEBCOAR_DAWN_UNSAFE === '1') flags.push('enable-dawn-features=allow_unsafe_apis');
  let gpu: GPU;
  try {
    gpu = create(flags);
    instances.push(gpu);
  } catch (e) {
    throw new UserError(`cannot start Dawn (${(e as Error).message.split('\n')[0]}): ${NO_ADAPTER}`);
  }
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
  } catch (e) {
    const msg = (e as Error).message.replace(/\s+/g, ' ').trim();
    throw new UserError(`no WebGPU adapter for backend=${opts.backend ?? 'default'} adapter=${opts.adapter ?? 'any'}: ${msg}`);
  }
  if (!adapter) throw new UserError(NO_ADAPTER);
  const info = adapter.info;
  const want: Record<string, number> = {};
  const limits: Record<string, number> = {};
  for (const key in adapter.limits) {
    const v = (adapter.limits as unknown as Record<string, number>)[key];
    if (typeof v !== 'number') continue;
    limits[key] = v;
    // raise what compute needs; dynamic-offset limits make Dawn warn and are unused
    if (!key.includes('Dynamic')) want[key] = v;
  }
  const features = [...adapter.features] as string[];
  const wanted = (['shader-f16', 'timestamp-query', 'subgroups', 'chromium-experimental-subgroup-matrix'] as GPUFeatureName[]).filter((f) => adapter!.features.has(f));
  const device = await adapter.requestDevice({ requiredFeatures: wanted, requiredLimits: want });
  watchDevice(device);
  const i = info as GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number; subgroupMatrixConfigs?: readonly unknown[] };
  const facts: AdapterFacts = {
    vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description, features, limits,
    subgroupMinSize: i.subgroupMinSize, subgroupMaxSize: i.subgroupMaxSize, // plain objects (Dawn's wrappers keep their fields on the prototype, which JSON does not see)
    subgroupMatrixConfigs: [...(i.subgroupMatrixConfigs ?? [])].map((c) => {
      const m = c as { componentType: string; resultComponentType: string; M: number; N: number; K: number };
      return { componentType: m.componentType, resultComponentType: m.resultComponentType, M: Number(m.M), N: Number(m.N), K: Number(m.K) };
    }),
  };
  const backend = opts.backend ?? DEFAULT_BACKEND[process.platform] ?? 'default';
  return {
    device,
    adapterName: info.device || info.description || info.vendor || 'unknown',
    backend,
    description: [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' / '),
    features,
    limits,
    hasTimestamps: wanted.includes('timestamp-query'),
    hasF16: wanted.includes('shader-f16'),
    facts,
    destroy() { device.destroy(); },
  };
}
