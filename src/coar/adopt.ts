/**
 * A folder with store files but no manifest.json: a sweep the reference began (its
 * layout: masks.npy, <split>_margins.npy, _completed.npy, rows written one at a time and
 * flagged when done; uncompleted rows are zeros it never drew), or one of ours killed
 * before its manifest was written. Either is resumed as this sweep only if every fact the
 * files hold agrees with it; otherwise it is refused with one line naming what is there.
 * Nothing is written here: the caller checks a completed row against the model first.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { checkRegularFile } from '../io/files.js';
import { NpyFile, readNpy } from '../io/npy.js';
import { MARGINS_FILE as MARGINS } from './store.js';
import { DTYPE_NAME, type MarginsDtype } from './store_manifest.js';

export const STORE_FILE = /^(masks\.npy|_completed\.npy|manifest\.json|.+_margins\.npy)$/;

/** Store files present in `dir` (sorted). */
export function storeFiles(dir: string): string[] {
  try { return readdirSync(dir).filter((f) => STORE_FILE.test(f)).sort(); } catch { return []; }
}

export interface ForeignStore {
  marginsDtype: MarginsDtype;
  completedRows: number;
  /** the first completed row (−1 when none), which the caller recomputes */
  firstCompleted: number;
  /** fraction of components kept over the completed rows (1 − α for the reference's masks) */
  keepRate: number;
}

export interface SweepShape { masks: number; components: number; examples: number; split: string; alpha: number }

/** Check a manifest-less store in `dir` against this sweep; return its facts or refuse. */
export function inspectForeignStore(dir: string, want: SweepShape, files: string[]): ForeignStore {
  const there = files.join(', ');
  const refuse = (why: string) => new UserError(`${dir} holds ${there} without our manifest.json: ${why}; nothing was changed (use another --out folder)`);
  const margins = files.filter((f) => MARGINS.test(f));
  if (!files.includes('masks.npy')) throw refuse('no masks.npy, so it is not a store that can be resumed');
  if (margins.length > 1) throw refuse(`${margins.length} margin files share one _completed.npy and this sweep would fill only one of them`);
  if (margins.length === 0) throw refuse('no <split>_margins.npy');
  const split = MARGINS.exec(margins[0]!)![1]!;
  if (split !== want.split) throw refuse(`this sweep writes ${want.split}_margins.npy; to resume the store add --split ${split}`);
  if (!files.includes('_completed.npy')) throw refuse('no _completed.npy, so which rows are finished cannot be told');
  for (const f of ['masks.npy', margins[0]!, '_completed.npy']) checkRegularFile(join(dir, f));

  const masks = NpyFile.open(join(dir, 'masks.npy'));
  const marg = NpyFile.open(join(dir, margins[0]!));
  try {
    const mh = masks.header, gh = marg.header;
    if (mh.dtype !== 'b1' || mh.shape.length !== 2) throw refuse(`masks.npy is ${mh.dtype} [${mh.shape.join(', ')}], a store's is bool [masks, components]`);
    if (gh.dtype !== 'f2' && gh.dtype !== 'f4') throw refuse(`${margins[0]} is ${gh.dtype}, a store's margins are float16 or float32`);
    if (gh.shape.length !== 2) throw refuse(`${margins[0]} has shape [${gh.shape.join(', ')}], a store's is [masks, examples]`);
    const have = `${mh.shape[0]} masks x ${mh.shape[1]} components x ${gh.shape[1]} examples`;
    const mine = `${want.masks} x ${want.components} x ${want.examples}`;
    if (mh.shape[0] !== want.masks || gh.shape[0] !== want.masks || mh.shape[1] !== want.components || gh.shape[1] !== want.examples) {
      throw refuse(`it is ${have}${gh.shape[0] !== mh.shape[0] ? ` (its margins have ${gh.shape[0]} rows)` : ''}, this sweep is ${mine}`);
    }
    const c = readNpy(join(dir, '_completed.npy'));
    if (c.dtype !== 'b1' || c.shape.length !== 1 || c.shape[0] !== want.masks) throw refuse(`_completed.npy is ${c.dtype} [${c.shape.join(', ')}], expected bool [${want.masks}]`);
    const flags = c.data as Uint8Array;
    let completedRows = 0, firstCompleted = -1, kept = 0;
    // the keep rate of the completed rows, read a few MB at a time
    const step = Math.max(1, Math.floor((8 << 20) / want.components));
    for (let r = 0; r < want.masks; r += step) {
      const e = Math.min(want.masks, r + step);
      let any = false;
      for (let i = r; i < e; i++) if (flags[i]) { any = true; break; }
      if (!any) continue;
      const bytes = masks.readRowBytes(r, e);
      for (let i = r; i < e; i++) {
        if (!flags[i]) continue;
        completedRows++;
        if (firstCompleted < 0) firstCompleted = i;
        const row = bytes.subarray((i - r) * want.components, (i - r + 1) * want.components);
        for (let j = 0; j < row.length; j++) kept += row[j]!;
      }
    }
    const keepRate = completedRows ? kept / (completedRows * want.components) : 1 - want.alpha;
    // binomial spread of the kept fraction, plus a margin for the reference's own generator
    const sd = Math.sqrt((want.alpha * (1 - want.alpha)) / Math.max(1, completedRows * want.components));
    if (completedRows && Math.abs(keepRate - (1 - want.alpha)) > 6 * sd + 0.005) {
      throw refuse(`its ${completedRows} completed masks keep ${(100 * keepRate).toFixed(2)}% of components, alpha ${want.alpha} keeps ${(100 * (1 - want.alpha)).toFixed(2)}%: pass the alpha it was made with`);
    }
    return { marginsDtype: gh.dtype, completedRows, firstCompleted, keepRate };
  } finally { masks.close(); marg.close(); }
}

export const describeForeign = (f: ForeignStore) => `${f.completedRows} completed rows, ${DTYPE_NAME[f.marginsDtype]} margins`;
