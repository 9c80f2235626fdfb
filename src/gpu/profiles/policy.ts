/** What an adapter class decides: the shape of every policy file in this folder. */
import type { AttentionTile, ConvTile, GemmTile } from './tiles.js';

/** What the adapter says about itself (adapter.info, its features and limits). */
export interface AdapterFacts {
  vendor: string; architecture: string; device: string; description: string;
  features: readonly string[];
  limits: Record<string, number>;
  subgroupMinSize?: number; subgroupMaxSize?: number;
  subgroupMatrixConfigs?: readonly unknown[];
}

export interface ClassPolicy {
  name: 'lavapipe' | 'nvidia' | 'amd' | 'apple' | 'intel' | 'generic';
  matches(f: AdapterFacts): boolean;
  /** the untuned conv tile for `cout4` vec4 output channels (`subgroups`: the adapter has usable subgroups) */
  convDefault(cout4: number, f16: boolean, subgroups: boolean): ConvTile;
  /** the GEMM tile the ceiling search starts from */
  gemmDefault: GemmTile;
  /** the untuned attention tile (register: k and v read from storage per invocation; flash: staged in workgroup memory) */
  attentionDefault: AttentionTile;
  /** invocations per workgroup this class runs best with (a multiple of its widest subgroup) */
  lanes: number;
  /** the class's workgroup-memory tile (both operands staged), a tuner candidate everywhere */
  wgmemTile: ConvTile;
  /** whether the defaults were chosen by measurement on such an adapter (false: from the vendor's guides, GPU speed unmeasured) */
  measured: boolean;
}
