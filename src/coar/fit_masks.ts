/**
 * Masks as bits for the fit. The fit visits only the rarer bit value: with α = 5% of
 * components ablated per mask, the set bits are the ablated entries ("flipped"), 1/20
 * of the matrix. Standardizing makes the two codings equivalent: the standardized
 * complement is the negated standardized mask, so flipped weights are negated back.
 */
import { UserError } from '../errors.js';

export interface PackedMasks {
  rows: number;
  components: number;
  /** true: a set bit means ablated (mask 0); false: a set bit means kept */
  flipped: boolean;
  /** u32 words per mask row, a multiple of 4 (vec4 loads) */
  wordsPerRow: number;
  bits: Uint32Array;
}

export const wordsFor = (bitsPerRow: number) => Math.max(4, Math.ceil(bitsPerRow / 128) * 4);

/**
 * Pack mask rows (bytes 0/1, `components` per row), read in spans by `read(start, end)`, for
 * the listed rows. Chooses the rarer value as the set bit.
 */
export function packMasks(read: (start: number, end: number) => Uint8Array, rows: readonly number[], components: number,
  progress?: (done: number) => void): PackedMasks {
  const words = wordsFor(components);
  const bits = new Uint32Array(rows.length * words);
  const spanRows = Math.max(1, Math.floor((64 << 20) / components));
  let ones = 0;
  for (let s = 0; s < rows.length;) {
    let e = s + 1;
    while (e < rows.length && e - s < spanRows && rows[e] === rows[e - 1]! + 1) e++;
    const bytes = read(rows[s]!, rows[e - 1]! + 1);
    for (let i = s; i < e; i++) {
      const src = (i - s) * components;
      const dst = i * words;
      for (let j = 0; j < components; j++) {
        const v = bytes[src + j]!;
        if (v === 1) { bits[dst + (j >>> 5)]! |= 1 << (j & 31); ones++; }
        else if (v !== 0) throw new UserError(`masks must be boolean (0/1): row ${rows[i]} holds ${v} at component ${j}`);
      }
    }
    progress?.(e);
    s = e;
  }
  const flipped = ones > rows.length * components / 2;
  if (flipped) {
    // complement within the valid bits of each row
    const full = components >>> 5;
    const tail = components & 31;
    for (let i = 0; i < rows.length; i++) {
      const o = i * words;
      for (let w = 0; w < full; w++) bits[o + w] = ~bits[o + w]!;
      if (tail) bits[o + full] = ~bits[o + full]! & ((1 << tail) - 1);
    }
  }
  return { rows: rows.length, components, flipped, wordsPerRow: words, bits };
}

/** Pack plain 0/1 rows (row-major [rows x components]) held in memory. */
export function packMaskArray(masks: Uint8Array, rows: number, components: number): PackedMasks {
  return packMasks((s, e) => masks.subarray(s * components, e * components), Array.from({ length: rows }, (_, i) => i), components);
}

/** Bits of rows [start, end) transposed: one bit row per component, plus set-bit counts per component. */
export function transposeMasks(p: PackedMasks, start: number, end: number): { bits: Uint32Array; wordsPerRow: number; counts: Float64Array } {
  const words = wordsFor(end - start);
  const bits = new Uint32Array(Math.ceil(p.components / 4) * 4 * words);
  const counts = new Float64Array(p.components);
  for (let i = start; i < end; i++) {
    const r = i - start;
    const rw = r >>> 5;
    const rb = 1 << (r & 31);
    const o = i * p.wordsPerRow;
    for (let w = 0; w < p.wordsPerRow; w++) {
      let v = p.bits[o + w]!;
      while (v !== 0) {
        const b = 31 - Math.clz32(v & -v);
        v &= v - 1;
        const j = w * 32 + b;
        bits[j * words + rw]! |= rb;
        counts[j]!++;
      }
    }
  }
  return { bits, wordsPerRow: words, counts };
}
