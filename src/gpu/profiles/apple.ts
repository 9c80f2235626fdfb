/**
 * Apple silicon (Metal): SIMD groups of 32, 32 KiB of threadgroup memory.
 * Its default is the workgroup-memory tile: a 64 x 64 output tile, 4 x 4 per invocation, both
 * operands staged with coalesced vec4 loads (the shape tfjs and onnxruntime use on GPUs).
 * Unmeasured: no such GPU has run this code yet; the tuner keeps what it measures fastest.
 */
import type { ClassPolicy } from './policy.js';
import type { AttentionTile, ConvTile } from './tiles.js';

const WGMEM: ConvTile = { tp: 4, tc4: 1, wg: 16, wgc: 16, wgmem: true, kch: 8 };

/** attention: k and v staged in workgroup memory 32 tokens a step, 64 queries per workgroup (16 KiB at head width 64 in f32) */
const FLASH: AttentionTile = { qt: 1, wg: 64, flash: true, bk: 32 };

export const apple: ClassPolicy = {
  name: 'apple',
  matches: (f) => /apple/i.test(`${f.vendor} ${f.description}`) || /metal/i.test(f.architecture),
  convDefault: () => WGMEM,
  gemmDefault: { tm: 4, tn4: 1, wgm: 16, wgn: 16, shared: false, wgmem: true, kc: 32 },
  attentionDefault: FLASH,
  lanes: 256,
  wgmemTile: WGMEM,
  measured: false,
};
