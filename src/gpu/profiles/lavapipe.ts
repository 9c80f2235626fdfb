/**
 * Mesa's lavapipe (llvmpipe over Vulkan), the software adapter every test runs on: subgroups
 * of 8 (its 256-bit build), workgroup barriers that cost far more than loads, a storage load
 * that costs about the same whether its address is uniform or not (BENCHMARKS.md, issue 6).
 */
import type { ClassPolicy } from './policy.js';
import type { AttentionTile, ConvTile } from './tiles.js';

/**
 * Without subgroups: 16 pixels x 8 channels per invocation, 64 invocations. (16 x 16 runs
 * faster on lavapipe but its unrolled loops take about twice as long to compile, and every
 * test process compiles afresh.)
 */
export const REGISTER_TILE: ConvTile = { tp: 16, tc4: 2, wg: 64 };
/**
 * With subgroups: 4 pixels x 16 channels, weights shared by subgroup broadcast. The tuner chose
 * it for every full-token ViT-B/16 linear, 22 of ResNet-50's 24 conv shape classes and both of
 * the bundled CNN's convs, at 1.85-3.3x REGISTER_TILE per class, and a cold-cache CNN profile
 * compiled and ran in half the time (BENCHMARKS.md, issue 6). Used where the output channels
 * are a multiple of 16 and storage is f32.
 */
export const SUBGROUP_TILE: ConvTile = { tp: 4, tc4: 4, wg: 64, subgroup: true };

/**
 * Attention: 8 queries per invocation, k and v read from storage (attention.wgsl). On ViT-B/16
 * shapes, 8 items: 1 query per invocation ran at 1.0 GFLOP/s, 4 at 2.6, 8 at 4.5, 16 at 5.5 (but
 * twice the compile time and a quarter of the invocations of 4). The flash tile (k and v staged
 * in workgroup memory) pays a barrier per block of keys, which lavapipe makes slow (BENCHMARKS.md).
 */
export const REGISTER_ATTENTION: AttentionTile = { qt: 8, wg: 0 };

export const lavapipe: ClassPolicy = {
  name: 'lavapipe',
  matches: (f) => /llvmpipe|lavapipe/i.test(`${f.device} ${f.description}`) || (f.vendor === 'mesa' && f.architecture === 'software'),
  convDefault: (cout4, f16, subgroups) => (!f16 && subgroups && cout4 % SUBGROUP_TILE.tc4 === 0 ? SUBGROUP_TILE : REGISTER_TILE),
  gemmDefault: { tm: 16, tn4: 2, wgm: 64, wgn: 1, shared: false },
  attentionDefault: REGISTER_ATTENTION,
  lanes: 64,
  wgmemTile: { tp: 4, tc4: 1, wg: 16, wgc: 16, wgmem: true, kch: 8 },
  measured: true,
};
