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

/**
 * The set bits of a 0/1 matrix as index lists, for products that visit only them
 * (shaders/fit_sparse.wgsl). Each list row holds the positions of its set bits, grouped
 * into blocks of `blockWidth` consecutive positions so that one dispatch per block reads
 * only that block's rows of the dense operand (a cache-sized piece on CPU adapters).
 * Entries are ordered by (block, row, position); rows are split into chunks whose entries
 * fit one storage binding.
 */
export interface ListChunk {
  /** first row of the chunk and its row count */
  row0: number;
  rows: number;
  /** ptr[b * (rows + 1) + r] .. ptr[b * (rows + 1) + r + 1]: the entries of row r in block b */
  ptr: Uint32Array;
  idx: Uint32Array;
}

export interface IndexLists {
  chunks: ListChunk[];
  blocks: number;
  blockWidth: number;
  /** entries per position (column sums of the 0/1 matrix) */
  counts: Float64Array;
  entries: number;
}

/** Visit the set bits of mask rows [start, end): f(row - start, component). */
function forEachBit(p: PackedMasks, start: number, end: number, f: (r: number, j: number) => void): void {
  for (let i = start; i < end; i++) {
    const o = i * p.wordsPerRow;
    for (let w = 0; w < p.wordsPerRow; w++) {
      let v = p.bits[o + w]!;
      while (v !== 0) {
        const low = v & -v;
        f(i - start, w * 32 + 31 - Math.clz32(low));
        v ^= low;
      }
    }
  }
}

/** Split `rows` rows with `perRow[r]` entries into runs of at most `maxEntries` entries. */
function chunkRows(perRow: Uint32Array, maxEntries: number): [number, number][] {
  const runs: [number, number][] = [];
  let r0 = 0;
  let n = 0;
  for (let r = 0; r < perRow.length; r++) {
    if (n + perRow[r]! > maxEntries && r > r0) { runs.push([r0, r]); r0 = r; n = 0; }
    n += perRow[r]!;
  }
  runs.push([r0, perRow.length]);
  return runs;
}

function buildLists(rows: number, positions: number, blockWidth: number, maxEntries: number,
  visit: (f: (row: number, pos: number) => void) => void): IndexLists {
  const blocks = Math.max(1, Math.ceil(positions / blockWidth));
  const perBlockRow = new Uint32Array(blocks * rows);
  const perRow = new Uint32Array(rows);
  const counts = new Float64Array(positions);
  visit((r, j) => { perBlockRow[Math.floor(j / blockWidth) * rows + r]!++; perRow[r]!++; counts[j]!++; });
  const chunkOf = new Uint32Array(rows);
  const chunks = chunkRows(perRow, maxEntries).map(([a, b], c) => {
    chunkOf.fill(c, a, b);
    const ptr = new Uint32Array(blocks * (b - a + 1));
    let k = 0;
    for (let blk = 0; blk < blocks; blk++) {
      for (let r = a; r < b; r++) { ptr[blk * (b - a + 1) + r - a] = k; k += perBlockRow[blk * rows + r]!; }
      ptr[blk * (b - a + 1) + b - a] = k;
    }
    return { row0: a, rows: b - a, ptr, idx: new Uint32Array(k) };
  });
  // cursor per (block, row): where its next entry goes in its chunk
  const cursor = new Uint32Array(blocks * rows);
  for (const ch of chunks) {
    for (let blk = 0; blk < blocks; blk++) for (let r = 0; r < ch.rows; r++) cursor[blk * rows + ch.row0 + r] = ch.ptr[blk * (ch.rows + 1) + r]!;
  }
  // positions arrive in increasing order within a row, so each list comes out sorted
  visit((r, j) => { const c = Math.floor(j / blockWidth) * rows + r; chunks[chunkOf[r]!]!.idx[cursor[c]!++] = j; });
  return { chunks, blocks, blockWidth, counts, entries: perRow.reduce((s, v) => s + v, 0) };
}

/** Per mask row of [start, end): the components whose bit is set (lists for U P), in component blocks. */
export function rowLists(p: PackedMasks, start: number, end: number, blockWidth: number, maxEntries: number): IndexLists {
  return buildLists(end - start, p.components, blockWidth, maxEntries, (f) => forEachBit(p, start, end, f));
}

/** Per component: the mask rows of [start, end) (counted from start) whose bit is set (lists for U^T Q), in row blocks. */
export function componentLists(p: PackedMasks, start: number, end: number, blockWidth: number, maxEntries: number): IndexLists {
  const lists = buildLists(p.components, end - start, blockWidth, maxEntries, (f) => forEachBit(p, start, end, (r, j) => f(j, r)));
  // counts per component are the row lengths here
  const counts = new Float64Array(p.components);
  for (const ch of lists.chunks) {
    for (let r = 0; r < ch.rows; r++) {
      let n = 0;
      for (let b = 0; b < lists.blocks; b++) n += ch.ptr[b * (ch.rows + 1) + r + 1]! - ch.ptr[b * (ch.rows + 1) + r]!;
      counts[ch.row0 + r] = n;
    }
  }
  return { ...lists, counts };
}

/**
 * Mask rows [start, end) repacked for the dual Gram matrix Z Z^T (fit_gram.wgsl, DUAL):
 * components reordered by standard deviation and each group of equal standard deviation
 * (equal set-bit count) padded to whole words, so one weight d = 1 / std^2 per word turns
 * popcounts into sums of d_j u_ij u_kj. Constant components (std 0) are left out.
 * Also a_i = sum_j d_j mu_j u_ij per row (padded rows 0) and c = sum_j d_j mu_j^2.
 */
export function dualBits(p: PackedMasks, start: number, end: number, invStd: Float64Array, meanU: Float64Array): {
  bits: Uint32Array; wordsPerRow: number; weight: Float32Array; shift: Float32Array; constant: number; classes: number;
} {
  const order = Array.from({ length: p.components }, (_, j) => j).filter((j) => invStd[j]! > 0).sort((a, b) => invStd[a]! - invStd[b]!);
  const pos = new Int32Array(p.components).fill(-1);
  const classWeights: [number, number, number][] = []; // [first word, end word, d]
  let cursor = 0;
  for (let k = 0; k < order.length; k++) {
    const j = order[k]!;
    if (k === 0 || invStd[j] !== invStd[order[k - 1]!]) {
      cursor = Math.ceil(cursor / 32) * 32;
      classWeights.push([cursor >>> 5, 0, invStd[j]! ** 2]);
    }
    pos[j] = cursor++;
  }
  const words = wordsFor(cursor);
  const weight = new Float32Array(words);
  classWeights.forEach((c, i) => { c[1] = i + 1 < classWeights.length ? classWeights[i + 1]![0] : Math.ceil(cursor / 32); weight.fill(c[2], c[0], c[1]); });
  const d = (j: number) => invStd[j]! ** 2;
  let constant = 0;
  for (const j of order) constant += d(j) * meanU[j]! ** 2;
  const rows = end - start;
  const bits = new Uint32Array(Math.ceil(rows / 4) * 4 * words);
  const shift = new Float64Array(Math.ceil(rows / 4) * 4);
  forEachBit(p, start, end, (r, j) => {
    const q = pos[j]!;
    if (q < 0) return;
    bits[r * words + (q >>> 5)]! |= 1 << (q & 31);
    shift[r]! += d(j) * meanU[j]!;
  });
  return { bits, wordsPerRow: words, weight, shift: Float32Array.from(shift), constant, classes: classWeights.length };
}
