/**
 * Merging shard stores of one sweep (`coar merge`): the completed rows of each shard are
 * copied into the target in runs, a few MB at a time, so no file is ever read whole; the
 * target is locked while it is written, and rows no shard has are named.
 */
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { NpyFile } from '../io/npy.js';
import { DTYPE_NAME, marginsDtypeOf, readManifest, sweepMismatch } from './store_manifest.js';
import { SweepStore } from './sweep_store.js';

export interface MergeResult { rows: number; completed: number; copied: number; missing: [number, number][] }

export function mergeStores(out: string, shards: string[], onProgress?: (copied: number) => void): MergeResult {
  if (!shards.length) throw new UserError('name the shard stores to merge');
  const first = readManifest(shards[0]!);
  for (const s of shards.slice(1)) {
    const why = sweepMismatch(first, readManifest(s));
    if (why) throw new UserError(`${s} is not a shard of the same sweep as ${shards[0]}: ${why}`);
    const [a, b] = [marginsDtypeOf(first), marginsDtypeOf(readManifest(s))];
    if (a !== b) throw new UserError(`${s} stores ${DTYPE_NAME[b]} margins, ${shards[0]} ${DTYPE_NAME[a]}: merge shards of one margin dtype`);
  }
  const target = SweepStore.openOrCreate(out, first, { command: 'coar merge' });
  // store files without a manifest and with no completed row (a merge killed while it made them) hold nothing to lose
  if (target.adoption && target.adoption.completedRows === 0) target.confirmAdoption(-1);
  if (target.adoption) { target.close(); throw new UserError(`${out} holds store files with completed rows but without our manifest.json; merge into a new folder`); }
  const C = first.components.length, n = first.examples.length;
  const step = Math.max(1, Math.floor((16 << 20) / (C + 4 * n)));
  let copied = 0;
  try {
    for (const s of shards) {
      if (s === out) continue;
      const src = SweepStore.open(s);
      const masks = NpyFile.open(join(s, 'masks.npy'));
      const margins = NpyFile.open(join(s, src.marginsFile));
      try {
        // runs of rows the shard has and the target lacks, at most `step` rows per synced write
        for (let r = 0; r < first.masks;) {
          if (!src.completed[r] || target.completed[r]) { r++; continue; }
          let e = r + 1;
          while (e < first.masks && e - r < step && src.completed[e] && !target.completed[e]) e++;
          // rows copied as stored: float16 stays float16 bits, no conversion
          target.writeRows(r, masks.readRowBytes(r, e), margins.readRows(r, e) as Float32Array | Uint16Array, e - r);
          copied += e - r;
          onProgress?.(copied);
          r = e;
        }
      } finally { masks.close(); margins.close(); src.close(); }
    }
    const missing: [number, number][] = [];
    for (let r = 0; r < first.masks; r++) {
      if (target.completed[r]) continue;
      let e = r + 1;
      while (e < first.masks && !target.completed[e]) e++;
      missing.push([r, e - 1]);
      r = e;
    }
    return { rows: first.masks, completed: target.completed.reduce((a, b) => a + b, 0), copied, missing };
  } finally { target.close(); }
}
