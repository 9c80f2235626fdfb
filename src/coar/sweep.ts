/**
 * The sweep (REFERENCE.md, "Masks"): m masks drawn i.i.d. Bernoulli with keep probability
 * 1 − α from a counter-based generator, margins of n examples under each, written to a
 * store (sweep_store.ts) row run by row run; restarting resumes from the completed flags
 * and computes nothing twice. `--shard i/N` takes one contiguous share of the rows.
 */
import { UserError } from '../errors.js';
import type { Ablator } from './ablate.js';
import { generateMasks } from './masks.js';
import type { SweepStore } from './sweep_store.js';

export interface Shard { index: number; count: number }

export function parseShard(text: string | undefined): Shard {
  if (text === undefined) return { index: 0, count: 1 };
  const m = /^(\d+)\/(\d+)$/.exec(text);
  const index = Number(m?.[1]), count = Number(m?.[2]);
  if (!m || count < 1 || index >= count) throw new UserError(`--shard ${text}: use i/N with 0 <= i < N, e.g. 0/4`);
  return { index, count };
}

/** The contiguous rows of shard i of N (the reference splits work by mask index ranges). */
export function shardRows(m: number, s: Shard): [number, number] {
  return [Math.floor((s.index * m) / s.count), Math.floor(((s.index + 1) * m) / s.count)];
}

/**
 * Take up a store begun without our manifest (store.adoption): its first completed row is
 * recomputed under its stored mask and must equal the stored margins to float16 precision,
 * else it was made with other weights or examples and is refused untouched.
 */
export async function confirmAdoption(store: SweepStore, ablator: Ablator): Promise<void> {
  const row = store.adoption?.firstCompleted;
  if (row === undefined) return;
  if (row >= 0) {
    const { mask, margins } = store.readRow(row);
    const ours = (await ablator.run(mask, 1)).margins;
    let worst = 0, scale = 1;
    for (let j = 0; j < margins.length; j++) { worst = Math.max(worst, Math.abs(ours[j]! - margins[j]!)); scale = Math.max(scale, Math.abs(margins[j]!)); }
    if (worst > 2e-3 * scale) throw new UserError(`${store.dir}: its completed row ${row} does not match this model on these examples (largest margin difference ${worst.toPrecision(3)}, margins up to ${scale.toPrecision(3)}): it was made with other weights, examples or example order; nothing was changed`);
  }
  store.confirmAdoption(row);
}

/**
 * Compute every row of [start, end) not yet completed, `chunk` masks at a time.
 * Returns the number of rows computed now.
 */
export async function runSweep(store: SweepStore, ablator: Ablator, range: [number, number], chunk: number,
  onProgress?: (rowsDone: number, rowsTotal: number) => void): Promise<number> {
  const { alpha, seed } = store.manifest;
  const C = store.manifest.components.length;
  const todo: number[] = [];
  for (let r = range[0]; r < range[1]; r++) if (!store.completed[r]) todo.push(r);
  let done = 0;
  const masks = new Uint8Array(chunk * C);
  for (let i = 0; i < todo.length;) {
    // a run of consecutive pending rows, at most `chunk` long
    let j = i + 1;
    while (j < todo.length && j - i < chunk && todo[j] === todo[j - 1]! + 1) j++;
    const first = todo[i]!, count = j - i;
    const margins = await computeRows(ablator, { seed, alpha }, first, count, C, masks);
    store.writeRows(first, masks, margins, count);
    done += count;
    onProgress?.(done, todo.length);
    i = j;
  }
  return done;
}

/**
 * Margins [count, n] of mask rows [first, first+count) of the stream (seed, alpha): the one
 * path by which a sweep, here or on a queue worker, turns rows into margins. `masks`
 * receives the rows as 0/1 bytes.
 */
export async function computeRows(ablator: Ablator, stream: { seed: number; alpha: number }, first: number, count: number, components: number,
  masks = new Uint8Array(count * components)): Promise<Float32Array> {
  generateMasks(stream.seed, stream.alpha, first, count, components, masks);
  return (await ablator.run(masks, count)).margins;
}

/**
 * The pending rows of [start, end) as runs of at most `chunk` rows that never cross a
 * multiple of `chunk`: the same pending rows always give the same runs, so a queue can name
 * its jobs after them and a restarted coordinator finds its earlier jobs.
 */
export function pendingRuns(completed: Uint8Array, range: [number, number], chunk: number): [number, number][] {
  const runs: [number, number][] = [];
  for (let r = range[0]; r < range[1];) {
    if (completed[r]) { r++; continue; }
    const cell = (Math.floor(r / chunk) + 1) * chunk;
    let e = r + 1;
    while (e < range[1] && e < cell && !completed[e]) e++;
    runs.push([r, e - r]);
    r = e;
  }
  return runs;
}
