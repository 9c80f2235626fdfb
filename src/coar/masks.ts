/**
 * Ablation masks, reference convention (REFERENCE.md, "Masks"): mask[j] = 1 means
 * component j is KEPT. On the device a mask is a row of bits, bit j of word j>>5.
 */
import { maskWords } from '../models/batched.js';

/** Pack rows [first, first+count) of bool/uint8 masks [k, components] into bit rows. */
export function packMasks(masks: Uint8Array, components: number, first: number, count: number, out?: Uint32Array): Uint32Array {
  const words = maskWords(components);
  const bits = out ?? new Uint32Array(words * count);
  bits.fill(0);
  for (let r = 0; r < count; r++) {
    const src = (first + r) * components;
    const dst = r * words;
    for (let j = 0; j < components; j++) {
      if (masks[src + j]) bits[dst + (j >>> 5)]! |= 1 << (j & 31);
    }
  }
  return bits;
}

/**
 * Counter-based Bernoulli masks (REFERENCE.md, "Masks"): component j of mask i is kept with
 * probability 1 − α, independently, decided by a hash of (seed, i, j) alone. So any mask can
 * be regenerated on its own: shards, resumed sweeps and evaluations agree bit for bit.
 * The hash is Wellons' "lowbias32" integer finaliser chained over the three words.
 */
export const MASK_GENERATOR = 'lowbias32-chain-v1';

/** Wellons' lowbias32 integer hash (a bijection on 32-bit words). */
export function lowbias32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** Threshold on a uniform 32-bit word: kept iff word >= α·2³². */
export function dropThreshold(alpha: number): number {
  return Math.min(2 ** 32, Math.round(alpha * 2 ** 32));
}

/** Rows [first, first+count) of the mask stream `seed` as 0/1 bytes [count, components]. */
export function generateMasks(seed: number, alpha: number, first: number, count: number, components: number, out?: Uint8Array): Uint8Array {
  const masks = out ?? new Uint8Array(count * components);
  const threshold = dropThreshold(alpha);
  const s = lowbias32(seed >>> 0 ^ 0x9e3779b9);
  for (let r = 0; r < count; r++) {
    const row = lowbias32(s ^ lowbias32((first + r) >>> 0));
    const base = r * components;
    for (let j = 0; j < components; j++) masks[base + j] = lowbias32(row ^ Math.imul(j + 1, 0x85ebca6b)) >= threshold ? 1 : 0;
  }
  return masks;
}
