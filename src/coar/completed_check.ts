/**
 * Rows marked completed must hold what a sweep wrote. A flag set by hand (or by a tool
 * that set flags before syncing its rows) marks a row whose mask and margins are still the
 * zeros the store was created with: fitting it would teach the model that ablating every
 * component changes nothing. Our stores regenerate each row's mask from the seed, so a
 * completed row must equal its generated mask; in a store without our generator (the
 * reference's) a completed row must not be all zeros in both its mask and its margins, the
 * state of a row never written (an all-zero mask alone can be drawn when |C| is small).
 *
 * Every completed row is checked when the masks file is small; a large store is checked
 * on an evenly spread sample (the first and last completed rows always among them), which
 * bounds the cost to a few MB of reads.
 */
import { UserError } from '../errors.js';
import type { NpyFile } from '../io/npy.js';
import { generateMasks, MASK_GENERATOR } from './masks.js';

/** Check every completed row when the masks file is at most this size. */
const FULL_CHECK_BYTES = 64 << 20;
/** Otherwise, this many rows spread evenly over the completed ones. */
const SAMPLE_ROWS = 1024;

/** The manifest's fields naming the mask stream (absent in a reference store). */
export interface MaskStream { generator?: unknown; seed?: unknown; alpha?: unknown }

/** Rows of `rows` (sorted) to check: all, or an even spread including the first and last. */
function rowsToCheck(rows: readonly number[], rowBytes: number): readonly number[] {
  if (rows.length * rowBytes <= FULL_CHECK_BYTES || rows.length <= SAMPLE_ROWS) return rows;
  const out: number[] = [];
  for (let k = 0; k < SAMPLE_ROWS; k++) out.push(rows[Math.round((k * (rows.length - 1)) / (SAMPLE_ROWS - 1))]!);
  return out;
}

/**
 * Throw one line naming the rows marked completed that were never written (or whose mask
 * is not the one the sweep's seed draws). `completedRows` are sorted row indices.
 */
export function checkCompletedMasks(dir: string, masks: NpyFile, margins: NpyFile, completedRows: readonly number[], stream: MaskStream | null): void {
  const C = masks.header.shape[1]!;
  const ours = stream?.generator === MASK_GENERATOR && typeof stream.seed === 'number' && typeof stream.alpha === 'number';
  const check = rowsToCheck(completedRows, C);
  const bad: number[] = [];
  const want = new Uint8Array(C);
  // contiguous runs of up to 16 MB are read at once, of masks and (when read) of margins: wide
  // margin rows (many examples) would otherwise make a run of mask rows the whole margins file
  const rowBytes = ours ? C : Math.max(C, margins.rowElems * margins.header.itemSize);
  const runMax = Math.max(1, Math.floor((16 << 20) / rowBytes));
  let valueBuf: Uint8Array | undefined;
  for (let s = 0; s < check.length && bad.length < 10;) {
    let e = s + 1;
    while (e < check.length && e - s < runMax && check[e] === check[e - 1]! + 1) e++;
    const bytes = masks.readRowBytes(check[s]!, check[e - 1]! + 1);
    // one buffer for every run: runs are read faster than the collector frees them
    const values = ours ? null : margins.readRowBytes(check[s]!, check[e - 1]! + 1, valueBuf ??= new Uint8Array(Math.min(runMax, check.length) * rowBytes));
    const valueBytes = values ? values.length / (e - s) : 0;
    for (let i = 0; i < e - s; i++) {
      const row = check[s + i]!;
      const got = bytes.subarray(i * C, (i + 1) * C);
      let ok: boolean;
      if (ours) {
        generateMasks(stream!.seed as number, stream!.alpha as number, row, 1, C, want);
        ok = true;
        for (let j = 0; j < C; j++) if ((got[j]! !== 0 ? 1 : 0) !== want[j]) { ok = false; break; }
      } else {
        ok = got.some((v) => v !== 0) || values!.subarray(i * valueBytes, (i + 1) * valueBytes).some((v) => v !== 0);
      }
      if (!ok) bad.push(row);
    }
    s = e;
  }
  if (!bad.length) return;
  const list = bad.slice(0, 5).join(', ') + (bad.length > 5 ? ', ...' : '');
  const what = ours ? 'a mask other than the one this sweep\'s seed draws' : 'only zeros in masks.npy and the margins (never written)';
  throw new UserError(`${dir}: row${bad.length > 1 ? 's' : ''} ${list} marked completed in _completed.npy hold${bad.length > 1 ? '' : 's'} ${what}: the flags were edited or a write was lost; set those flags to false and re-run the sweep to recompute them`);
}
