/**
 * The sweep (REFERENCE.md, "Masks" and "Store layout"): m masks drawn i.i.d. Bernoulli with
 * keep probability 1 − α from a counter-based generator, margins of n examples under each,
 * written to a store in the reference layout that numpy opens directly:
 *   masks.npy bool [m, |C|] · <split>_margins.npy float32 [m, n] · _completed.npy bool [m]
 *   manifest.json (model, weights hash, component table, examples, α, seed)
 * Rows are written in place and synced before their completed flag is set and synced, so
 * a process killed at any instant leaves only whole rows marked completed: restarting
 * resumes from the flags and computes nothing twice. `--shard i/N` takes one contiguous
 * share of the rows; shards of one sweep merge into one store.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { npyHeaderBytes, readNpy } from '../io/npy.js';
import type { Ablator } from './ablate.js';
import type { DataSpec } from './examples.js';
import { generateMasks, MASK_GENERATOR } from './masks.js';

export const STORE_FORMAT = 'webcoar-store-1';

export interface SweepManifest {
  format: string;
  model: { arch: string; weights: string; sha256: string; heads?: number };
  components: string[];
  data: DataSpec;
  split: string;
  examples: number[];
  labels: number[];
  alpha: number;
  seed: number;
  masks: number;
  generator: string;
  created: string;
}

/** The fields that make two stores the same sweep. */
function identity(m: SweepManifest) {
  return { format: m.format, arch: m.model.arch, sha256: m.model.sha256, components: m.components.length, split: m.split, examples: m.examples, alpha: m.alpha, seed: m.seed, masks: m.masks, generator: m.generator };
}

export function manifestPath(dir: string): string { return join(dir, 'manifest.json'); }

export function readManifest(dir: string): SweepManifest {
  const p = manifestPath(dir);
  if (!existsSync(p)) throw new UserError(`${dir} is not a sweep store (no manifest.json)`);
  try {
    const m = JSON.parse(readFileSync(p, 'utf8')) as SweepManifest;
    if (m.format !== STORE_FORMAT) throw new Error(`format ${m.format}`);
    return m;
  } catch (e) {
    throw new UserError(`${p}: not a webcoar store manifest (${(e as Error).message})`);
  }
}

/** Explain how two sweeps differ, or return null when they are the same sweep. */
export function sweepMismatch(a: SweepManifest, b: SweepManifest): string | null {
  const x = identity(a) as Record<string, unknown>, y = identity(b) as Record<string, unknown>;
  for (const k of Object.keys(x)) {
    if (JSON.stringify(x[k]) !== JSON.stringify(y[k])) {
      const show = (v: unknown) => { const s = JSON.stringify(v); return s.length > 40 ? `${s.slice(0, 37)}...` : s; };
      return k === 'sha256' ? `it was made for other weights (sha256 ${String(y[k]).slice(0, 12)}…, these are ${String(x[k]).slice(0, 12)}…)` : `its ${k} is ${show(y[k])}, this sweep's is ${show(x[k])}`;
    }
  }
  return null;
}

const fileErr = (path: string, e: unknown) => {
  const code = (e as NodeJS.ErrnoException).code;
  const why = code === 'ENOSPC' ? 'disk full' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'EROFS' ? 'read-only file system' : code ?? (e as Error).message;
  return new UserError(`cannot write ${path}: ${why}; rows already marked completed are safe, re-run the same command to resume`);
};

function writeAll(fd: number, data: Uint8Array, position: number, path: string): void {
  try {
    let done = 0;
    while (done < data.length) done += writeSync(fd, data, done, data.length - done, position + done);
  } catch (e) { throw fileErr(path, e); }
}

/** A preallocated .npy file: header then zeros (allocated now, so a full disk shows at once). */
function createNpy(path: string, dtype: 'b1' | 'f4', shape: number[]): void {
  const header = npyHeaderBytes(dtype, shape);
  const bytes = shape.reduce((a, b) => a * b, 1) * (dtype === 'f4' ? 4 : 1);
  const zeros = new Uint8Array(Math.min(bytes, 8 << 20));
  const chunks = function* () {
    yield header;
    for (let left = bytes; left > 0; left -= zeros.length) yield left >= zeros.length ? zeros : zeros.subarray(0, left);
  };
  writeFileAtomic(path, chunks());
}

export class SweepStore {
  private fds: { masks: number; margins: number; completed: number };
  private offsets: { masks: number; margins: number; completed: number };
  readonly completed: Uint8Array;

  private constructor(readonly dir: string, readonly manifest: SweepManifest) {
    const m = manifest.masks, C = manifest.components.length, n = manifest.examples.length;
    this.offsets = {
      masks: npyHeaderBytes('b1', [m, C]).length,
      margins: npyHeaderBytes('f4', [m, n]).length,
      completed: npyHeaderBytes('b1', [m]).length,
    };
    const open = (name: string) => {
      try { return openSync(join(dir, name), 'r+'); } catch (e) { throw fileErr(join(dir, name), e); }
    };
    this.fds = { masks: open('masks.npy'), margins: open(this.marginsFile), completed: open('_completed.npy') };
    const c = readNpy(join(dir, '_completed.npy'));
    if (c.dtype !== 'b1' || c.shape.length !== 1 || c.shape[0] !== m) throw new UserError(`${join(dir, '_completed.npy')}: expected bool [${m}], found ${c.dtype} [${c.shape.join(', ')}]`);
    this.completed = c.data as Uint8Array;
  }

  get marginsFile(): string { return `${this.manifest.split}_margins.npy`; }

  /** Open the store at `dir` for this sweep, creating it if needed; refuse a different sweep. */
  static openOrCreate(dir: string, manifest: SweepManifest): SweepStore {
    try { mkdirSync(dir, { recursive: true }); } catch (e) { throw fileErr(dir, e); }
    if (existsSync(manifestPath(dir))) {
      const old = readManifest(dir);
      const why = sweepMismatch(manifest, old);
      if (why) throw new UserError(`${dir} holds a different sweep: ${why}; use another --out folder`);
      return new SweepStore(dir, old);
    }
    const m = manifest.masks, C = manifest.components.length, n = manifest.examples.length;
    createNpy(join(dir, 'masks.npy'), 'b1', [m, C]);
    createNpy(join(dir, `${manifest.split}_margins.npy`), 'f4', [m, n]);
    createNpy(join(dir, '_completed.npy'), 'b1', [m]);
    // the manifest last: a store without one is unfinished and is made again
    writeFileAtomic(manifestPath(dir), [new TextEncoder().encode(JSON.stringify(manifest, null, 1) + '\n')]);
    return new SweepStore(dir, manifest);
  }

  static open(dir: string): SweepStore {
    return new SweepStore(dir, readManifest(dir));
  }

  /** Write rows [first, first+count): masks and margins first, synced; then their flags, synced. */
  writeRows(first: number, masks: Uint8Array, margins: Float32Array, count: number): void {
    const C = this.manifest.components.length, n = this.manifest.examples.length;
    writeAll(this.fds.masks, masks.subarray(0, count * C), this.offsets.masks + first * C, join(this.dir, 'masks.npy'));
    writeAll(this.fds.margins, new Uint8Array(margins.buffer, margins.byteOffset, count * n * 4), this.offsets.margins + first * n * 4, join(this.dir, this.marginsFile));
    try { fsyncSync(this.fds.masks); fsyncSync(this.fds.margins); } catch (e) { throw fileErr(this.dir, e); }
    const flags = new Uint8Array(count).fill(1);
    writeAll(this.fds.completed, flags, this.offsets.completed + first, join(this.dir, '_completed.npy'));
    try { fsyncSync(this.fds.completed); } catch (e) { throw fileErr(this.dir, e); }
    this.completed.fill(1, first, first + count);
  }

  close(): void {
    for (const fd of Object.values(this.fds)) closeSync(fd);
  }
}

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
    generateMasks(seed, alpha, first, count, C, masks);
    const { margins } = await ablator.run(masks, count);
    store.writeRows(first, masks, margins, count);
    done += count;
    onProgress?.(done, todo.length);
    i = j;
  }
  return done;
}

/** Merge the completed rows of shard stores of one sweep into `out`. */
export function mergeStores(out: string, shards: string[]): { rows: number; completed: number } {
  if (!shards.length) throw new UserError('name the shard stores to merge');
  const first = readManifest(shards[0]!);
  for (const s of shards.slice(1)) {
    const why = sweepMismatch(first, readManifest(s));
    if (why) throw new UserError(`${s} is not a shard of the same sweep as ${shards[0]}: ${why}`);
  }
  const target = SweepStore.openOrCreate(out, first);
  const C = first.components.length, n = first.examples.length;
  try {
    for (const s of shards) {
      if (s === out) continue;
      const src = SweepStore.open(s);
      try {
        const masks = readNpy(join(s, 'masks.npy')).data as Uint8Array;
        const margins = readNpy(join(s, src.marginsFile)).data as Float32Array;
        // runs of rows the shard has and the target lacks, one synced write per run
        for (let r = 0; r < first.masks;) {
          if (!src.completed[r] || target.completed[r]) { r++; continue; }
          let e = r + 1;
          while (e < first.masks && src.completed[e] && !target.completed[e]) e++;
          target.writeRows(r, masks.subarray(r * C, e * C), margins.subarray(r * n, e * n), e - r);
          r = e;
        }
      } finally { src.close(); }
    }
    return { rows: first.masks, completed: target.completed.reduce((a, b) => a + b, 0) };
  } finally { target.close(); }
}
