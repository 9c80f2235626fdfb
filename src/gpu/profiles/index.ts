/**
 * The adapter profile: every property of the adapter in use that a kernel's policy depends
 * on, in one place: its class (one file each in this folder, lavapipe being one), its
 * subgroup widths as reported (subgroupMinSize / subgroupMaxSize), f16, subgroup-matrix
 * configs, memory budgets from its limits, lanes per workgroup and default tiles. Kernel
 * wrappers read this and hold no adapter policy of their own.
 */
import { amd } from './amd.js';
import { apple } from './apple.js';
import { generic } from './generic.js';
import { intel } from './intel.js';
import { lavapipe } from './lavapipe.js';
import { nvidia } from './nvidia.js';
import type { AdapterFacts, ClassPolicy } from './policy.js';
import { wgmemBytes, type AttentionTile, type ConvTile, type GemmTile } from './tiles.js';

export type { AdapterFacts, ClassPolicy } from './policy.js';
export type { AttentionTile, ConvTile, GemmTile } from './tiles.js';
export { attentionWgmemBytes, sharedWeightBytes, wgmemBytes } from './tiles.js';

/** in the order they are tried: lavapipe before the vendor names (Mesa drives GPUs too) */
export const CLASSES: readonly ClassPolicy[] = [lavapipe, nvidia, amd, apple, intel, generic];

export interface SubgroupWidth { min: number; max: number }

export interface AdapterProfile {
  class: ClassPolicy['name'];
  /** subgroup widths the adapter reports, when it has the `subgroups` feature and reports them (>= 4) */
  subgroups?: SubgroupWidth;
  f16: boolean;
  /** adapter.info.subgroupMatrixConfigs (chromium-experimental-subgroup-matrix); empty where there are none */
  subgroupMatrixConfigs: readonly unknown[];
  /** invocations per workgroup: the adapter's limit, and what its class runs best with */
  maxInvocations: number;
  lanes: number;
  /** bytes of workgroup memory one workgroup may use */
  workgroupBytes: number;
  /** bytes of one storage binding */
  maxBinding: number;
  /** the untuned conv tile for `cout4` vec4 output channels */
  convDefault(cout4: number, f16: boolean): ConvTile;
  gemmDefault: GemmTile;
  /** the untuned attention tile (a flash tile's block of keys shrinks where a head does not fit the workgroup memory) */
  attentionDefault: AttentionTile;
  /** the class's workgroup-memory tile, shrunk to the adapter's limits */
  wgmemTile: ConvTile;
  /** whether the class's defaults were chosen by measurement on such an adapter */
  measured: boolean;
}

export function classify(f: AdapterFacts): ClassPolicy {
  return CLASSES.find((c) => c.matches(f))!;
}

export function adapterProfile(f: AdapterFacts): AdapterProfile {
  const c = classify(f);
  const has = (x: string) => f.features.includes(x);
  const min = f.subgroupMinSize ?? 0, max = f.subgroupMaxSize ?? 0;
  // a width under 4 cannot hold one 4 x 4 block of weights; an unreported one is not guessed
  const subgroups = has('subgroups') && min >= 4 && max >= min ? { min, max } : undefined;
  const maxInvocations = f.limits.maxComputeInvocationsPerWorkgroup ?? 256;
  const workgroupBytes = f.limits.maxComputeWorkgroupStorageSize ?? 16384;
  const fits = (t: ConvTile) => t.wg * (t.wgc ?? 1) <= maxInvocations && wgmemBytes(t) <= workgroupBytes;
  // halve the K depth, then the rows, until the tile fits the limits (WebGPU's minimums: 256 invocations, 16 KiB)
  let wgmemTile = { ...c.wgmemTile };
  while (!fits(wgmemTile) && (wgmemTile.kch ?? 8) > 1) wgmemTile = { ...wgmemTile, kch: (wgmemTile.kch ?? 8) / 2 };
  while (!fits(wgmemTile) && wgmemTile.wg > 1) wgmemTile = { ...wgmemTile, wg: wgmemTile.wg / 2 };
  const sub = !!subgroups;
  return {
    class: c.name, subgroups, f16: has('shader-f16'), subgroupMatrixConfigs: f.subgroupMatrixConfigs ?? [],
    maxInvocations, lanes: Math.min(c.lanes, maxInvocations), workgroupBytes,
    maxBinding: f.limits.maxStorageBufferBindingSize ?? 128 << 20,
    convDefault: (cout4, f16) => {
      const t = c.convDefault(cout4, f16, sub);
      return t.wgmem ? wgmemTile : t;
    },
    gemmDefault: c.gemmDefault, attentionDefault: c.attentionDefault, wgmemTile, measured: c.measured,
  };
}

/** One line for logs and reports: class, subgroup widths, f16, subgroup-matrix configs, budgets. */
export function describeProfile(p: AdapterProfile): string {
  const sg = p.subgroups ? `subgroups ${p.subgroups.min === p.subgroups.max ? p.subgroups.min : `${p.subgroups.min}-${p.subgroups.max}`}` : 'no subgroups';
  return `${p.class}: ${sg}, ${p.f16 ? 'shader-f16' : 'no f16'}, ${p.subgroupMatrixConfigs.length} subgroup-matrix configs, ` +
    `${p.maxInvocations} invocations and ${p.workgroupBytes >> 10} KiB workgroup memory per workgroup, ${p.maxBinding >> 20} MiB per binding` +
    `${p.measured ? '' : ' (class defaults unmeasured)'}`;
}

/**
 * vec4 column groups a subgroup tile broadcasts per round (conv2d.wgsl's and gemm.wgsl's SG_G):
 * as many as 4 lanes each hold at the adapter's smallest subgroup width, up to 4, dividing
 * the tile's `cols`; 0 where the adapter has no subgroups of 4 or more.
 */
export function subgroupGroups(profile: Pick<AdapterProfile, 'subgroups'>, cols: number): number {
  const min = profile.subgroups?.min ?? 0;
  for (const g of [4, 2, 1]) if (4 * g <= min && cols % g === 0) return g;
  return 0;
}
