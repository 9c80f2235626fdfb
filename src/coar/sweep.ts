/**
 * The sweep (REFERENCE.md, "Masks"): m masks drawn i.i.d. Bernoulli with keep probability
 * 1 − α from a counter-based generator, margins of n examples under each, written to a
 * store (sweep_store.ts) row run by row run; restarting resumes from the completed flags
 * and computes nothing twice. `--shard i/N` takes one contiguous share of the rows.
 * `sweepStore` is the stage as a library function: `coar sweep`, `coar run` and `coar curve`
 * parse their flags into its options and print what its callbacks report.
 */
import { resolve } from 'node:path';
import { check, UserError } from '../errors.js';
import { GpuContext } from '../gpu/context.js';
import type { GpuOptions } from '../gpu/device.js';
import { loadModel } from '../models/index.js';
import { Ablator } from './ablate.js';
import { loadExamples, sha256File, type DataSpec } from './examples.js';
import { generateMasks, MASK_GENERATOR } from './masks.js';
import { DTYPE_NAME, STORE_FORMAT, type MarginsDtype, type SweepManifest } from './store_manifest.js';
import { SweepStore } from './sweep_store.js';

export interface SweepOptions {
  arch: string;
  /** safetensors with PyTorch parameter names */
  weights: string;
  data: DataSpec;
  /** the first `count` examples of the source, or these indices (default: all) */
  select: { count?: number; indices?: number[] };
  alpha: number;
  masks: number;
  seed: number;
  /** the store folder: created, or resumed when it holds this sweep */
  out: string;
  /** share i of N of the rows (default: all) */
  shard?: Shard;
  /** masks per write (default: what one batch holds) */
  chunk?: number;
  /** <split>_margins.npy (default: the Fashion-MNIST split, else examples) */
  split?: string;
  marginsDtype?: 'f16' | 'f32';
  gpu?: GpuOptions;
  /** compute the pending rows elsewhere (a queue's workers) instead of on this machine's adapter */
  remote?: Remote;
  /** what the store's lock and history name as the writer (default 'coar sweep') */
  command?: string;
}

/** Rows [range) of `store` computed off this machine: returns the rows computed and the seconds it took. */
export type Remote = (store: SweepStore, range: [number, number], log: (line: string) => void) => Promise<{ computed: number; seconds: number }>;

export interface SweepCallbacks {
  /** one line of what the sweep is doing (stores resumed, rows pending, rate) */
  log?: (line: string) => void;
  /** the computation on this machine begins: `passes` ablated forward passes to do; returns what follows them */
  progress?: (passes: number) => { update(passesDone: number): void; stop(): void };
  /** a run of rows was written: rows written so far, seconds since the computation began */
  onRows?: (rowsDone: number, seconds: number) => void;
}

/** What one invocation did: rows computed now (completed rows are skipped) and how long that took. */
export interface SweepRun { computed: number; examples: number; seconds: number }

/** Validate, open or resume the store, compute what is pending. */
export async function sweepStore(o: SweepOptions, cb: SweepCallbacks = {}): Promise<SweepRun> {
  check(o.alpha > 0 && o.alpha < 1, () => `--alpha must be in (0, 1), got ${o.alpha}`);
  check(Number.isInteger(o.masks) && o.masks > 0, () => `--masks must be a positive integer, got ${o.masks}`);
  check(Number.isInteger(o.seed) && o.seed >= 0 && o.seed < 2 ** 32, () => `--seed must be an integer in [0, 2^32), got ${o.seed}`);
  check(o.split === undefined || /^[A-Za-z0-9][\w.-]*$/.test(o.split), () => `--split ${o.split}: use letters, digits, '.', '_' or '-'`);
  const log = cb.log ?? (() => {});
  const shard = o.shard ?? { index: 0, count: 1 };
  const model = loadModel(o.arch, o.weights);
  const ex = await loadExamples(o.data, model, o.select);
  if (ex.spec.source !== 'fashion-mnist' && ex.spec.source !== 'npy' && ex.spec.skipped?.length) {
    log(`skipped ${ex.spec.skipped.length} unreadable image(s) (listed in the manifest), first: ${ex.spec.skipped[0]!.reason}`);
  }
  const manifest: SweepManifest = {
    format: STORE_FORMAT,
    model: { arch: o.arch, weights: resolve(o.weights), sha256: sha256File(o.weights) },
    components: model.components.names(),
    data: ex.spec, split: o.split ?? (o.data.source === 'fashion-mnist' ? o.data.split : 'examples'),
    examples: ex.indices, labels: [...ex.labels], classNames: ex.classNames,
    alpha: o.alpha, seed: o.seed, masks: o.masks, generator: MASK_GENERATOR, created: new Date().toISOString(),
  };
  const dtype: MarginsDtype | undefined = o.marginsDtype === undefined ? undefined : ({ f16: 'f2', f32: 'f4' } as const)[o.marginsDtype];
  const store = SweepStore.openOrCreate(o.out, manifest, { marginsDtype: dtype, command: o.command ?? 'coar sweep' });
  const n = ex.shape.n;
  let ctx: GpuContext | undefined;
  try {
    const range = shardRows(o.masks, shard);
    const pending = store.completed.subarray(range[0], range[1]).reduce((a, b) => a + (b ? 0 : 1), 0);
    const total = range[1] - range[0];
    if (store.adoption) log(`${o.out}: no manifest.json; resuming the store there (${store.adoption.completedRows} completed rows, ${DTYPE_NAME[store.marginsDtype]} margins, ${(100 * store.adoption.keepRate).toFixed(2)}% kept)`);
    log(`${o.out}: rows ${range[0]}-${range[1] - 1}${shard.count > 1 ? ` (shard ${shard.index}/${shard.count})` : ''}, ${total - pending} already completed, ${pending} to do; ${model.components.size} components, ${n} examples, alpha ${o.alpha}`);
    if (pending === 0 && !store.adoption) return { computed: 0, examples: n, seconds: 0 };
    if (o.remote) return { ...await o.remote(store, range, log), examples: n };
    ctx = await GpuContext.open(o.gpu);
    const net = model.build(ctx, ex.shape);
    const ablator = new Ablator(ctx, net, ex.inputs, ex.labels, o.chunk ?? 64);
    try {
      if (store.adoption) {
        await confirmAdoption(store, ablator);
        if (pending === 0) return { computed: 0, examples: n, seconds: 0 };
      }
      const chunk = o.chunk ?? ablator.shape.masks;
      const bar = cb.progress?.(pending * n);
      const t0 = performance.now();
      const done = await runSweep(store, ablator, range, chunk, (rows) => {
        cb.onRows?.(rows, (performance.now() - t0) / 1000);
        bar?.update(rows * n);
      });
      bar?.stop();
      const s = (performance.now() - t0) / 1000;
      log(`${done} masks x ${n} examples in ${s.toFixed(1)} s (${((done * n) / s).toFixed(1)} ablated passes/s)`);
      return { computed: done, examples: n, seconds: s };
    } finally {
      ablator.destroy();
      net.destroy();
    }
  } finally {
    store.close();
    ctx?.destroy();
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
