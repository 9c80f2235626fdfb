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
