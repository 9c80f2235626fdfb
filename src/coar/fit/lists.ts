/**
 * The masks on the device as the sparse products see them: index lists of the set bits
 * (fit_masks.ts builds them) cut into chunks of one binding, and bit blocks for the Gram build.
 */
import type { Dispatch, GpuContext } from '../../gpu/context.js';
import { listProduct, type BitBlock, type ListBlock } from '../../kernels/fit.js';
import { rowLists, type IndexLists, type PackedMasks } from '../fit_masks.js';
import type { Arena } from './arena.js';

/**
 * Rows of the dense operand one list block covers: about 640 KiB of it, so that on a CPU
 * adapter the rows a sparse product gathers stay in a core's L2 cache (at |C| = 82,944 this
 * made the product ~6x faster than unblocked lists on lavapipe; see BENCHMARKS.md).
 */
export const listBlockWidth = (n4: number) => Math.max(64, Math.floor((640 << 10) / (n4 * 16)));

/** How index lists are cut: positions per block, and entries per chunk (one binding). */
export interface Blocking { width: number; entries: number }

export const defaultBlocking = (ctx: GpuContext, n4: number): Blocking => ({ width: listBlockWidth(n4), entries: Math.floor(ctx.maxBinding / 4) });

/** Index lists on the device: chunks (one binding each) and the number of blocks per chunk. */
export interface DeviceLists { chunks: ListBlock[]; blocks: number; entries: number }

export function uploadLists(arena: Arena, lists: IndexLists, label: string): DeviceLists {
  return {
    blocks: lists.blocks,
    entries: lists.entries,
    chunks: lists.chunks.map((c) => ({ ptr: arena.upload(c.ptr, `${label} ptr`), idx: arena.upload(c.idx, `${label} idx`), row0: c.row0, rows: c.rows })),
  };
}

/** Bytes index lists of `entries` set bits over `rows` list rows take on the device. */
export const listBytes = (entries: number, rows: number, blocks: number) => 4 * entries + 4 * blocks * (rows + 1);

/** out = (0/1 matrix of the lists) x - 1 sub^T, one dispatch per chunk and block. */
export function listDispatches(ctx: GpuContext, lists: DeviceLists, x: GPUBuffer, n4: number, sub: GPUBuffer, out: GPUBuffer): Dispatch[] {
  return lists.chunks.flatMap((c) => Array.from({ length: lists.blocks }, (_, block) => listProduct(ctx, { lists: c, block, x, n4, sub, out })));
}

/** Row lists of mask rows [start, end) on the device, for predictions on those rows. */
export function maskRowLists(arena: Arena, masks: PackedMasks, start: number, end: number, blocking: Blocking, label: string): DeviceLists {
  return uploadLists(arena, rowLists(masks, start, end, blocking.width, blocking.entries), label);
}

/** Upload rows [start, end) of a bit matrix in blocks that each fit one storage binding. */
export function uploadBits(arena: Arena, bits: Uint32Array, wordsPerRow: number, start: number, end: number, rowsPerBlock: number, label: string): BitBlock[] {
  const blocks: BitBlock[] = [];
  for (let r = start; r < end; r += rowsPerBlock) {
    const e = Math.min(end, r + rowsPerBlock);
    const buffer = arena.upload(bits.subarray(r * wordsPerRow, e * wordsPerRow), label);
    blocks.push({ buffer, row0: r - start, rows: e - r, words4: wordsPerRow / 4 });
  }
  return blocks;
}

/** Rows of `rowBytes` each that one binding holds, a multiple of `align`. */
export function blockRows(maxBinding: number, rowBytes: number, align: number): number {
  return Math.max(align, Math.floor(maxBinding / rowBytes / align) * align);
}
