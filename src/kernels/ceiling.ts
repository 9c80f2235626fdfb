/**
 * The adapter's ceilings: the best f32 GEMM throughput WGSL reaches on it (a search over
 * gemm.wgsl's tiles and workgroup shapes) and the best memory bandwidth (a large copy).
 * Every kernel's profile is read against these (roofline: the smaller of compute time at
 * the GEMM ceiling and memory time at the copy bandwidth bounds it).
 */
import type { GpuContext } from '../gpu/context.js';
import { timeDispatches, type TimingMethod } from '../gpu/timing.js';
import { copy, gemm, gemmCandidates, tileName, type CopyVariant, type GemmTile } from './gemm.js';
import { probeSubgroupMatrix, type SubgroupMatrixTrial } from './gemm_sm.js';

export interface Ceiling {
  adapter: string;
  gemm: { gflops: number; tile: string; size: number };
  bestTile: GemmTile;
  copy: { gbps: number; variant: string; mib: number };
  /** the subgroup-matrix GEMM per config the adapter reports (none on lavapipe), with its error against float64 */
  subgroupMatrix: SubgroupMatrixTrial[];
  method: TimingMethod;
  /** every candidate measured */
  trials: { kind: 'gemm' | 'copy'; name: string; rate: number }[];
  date: string;
}

export interface CeilingOptions {
  /** GEMM size n (n x n x n), default 1024 */
  size?: number;
  /** copy size in MiB, default 64 */
  mib?: number;
  /** fewer candidates */
  quick?: boolean;
  repeats?: number;
  onTrial?: (kind: 'gemm' | 'copy', name: string, rate: number, done: number, total: number) => void;
}

export async function measureCeiling(ctx: GpuContext, opts: CeilingOptions = {}): Promise<Ceiling> {
  const n = opts.size ?? 1024;
  const repeats = opts.repeats ?? 3;
  const { device } = ctx;
  const maxInv = ctx.gpu.limits.maxComputeInvocationsPerWorkgroup ?? 256;
  const copies: CopyVariant[] = opts.quick ? [{ wg: 64, vpi: 1 }, { wg: 256, vpi: 4 }] : [{ wg: 64, vpi: 1 }, { wg: 64, vpi: 4 }, { wg: 256, vpi: 1 }, { wg: 256, vpi: 4 }, { wg: 256, vpi: 16 }];
  const sg = !!ctx.profile.subgroups;
  const total = gemmCandidates(0, undefined, maxInv, opts.quick, sg).length + (opts.quick ? 1 : 8) + copies.length;
  const trials: Ceiling['trials'] = [];
  let method: TimingMethod = ctx.gpu.hasTimestamps ? 'timestamp' : 'wall-clock';

  const rand = (len: number) => { const x = new Float32Array(len); for (let i = 0; i < len; i++) x[i] = Math.random() - 0.5; return x; };
  const a = ctx.pool.acquire(n * n * 4, 'ceiling.a');
  const b = ctx.pool.acquire(n * n * 4, 'ceiling.b');
  const c = ctx.pool.acquire(n * n * 4, 'ceiling.c');
  device.queue.writeBuffer(a, 0, rand(n * n));
  device.queue.writeBuffer(b, 0, rand(n * n));
  let best: { rate: number; tile: GemmTile } | undefined;
  for (let stage = 0; ; stage++) {
    const tiles = gemmCandidates(stage, best?.tile, maxInv, opts.quick, sg);
    if (!tiles.length) break;
    for (const t of tiles) {
      device.pushErrorScope('validation');
      const d = gemm(ctx, { m: n, n, k: n }, a, b, c, t);
      if (await device.popErrorScope()) continue; // a tile this adapter cannot compile
      const times = await timeDispatches(ctx, [d], repeats + 1); // the first run also compiles
      method = times.method;
      const rate = (2 * n * n * n) / Math.min(...times.all.slice(1).map((r) => r[0]!)) / 1e9;
      trials.push({ kind: 'gemm', name: tileName(t), rate });
      opts.onTrial?.('gemm', tileName(t), rate, trials.length, total);
      if (!best || rate > best.rate) best = { rate, tile: t };
    }
  }
  [a, b, c].forEach((x) => ctx.pool.release(x));

  const mib = opts.mib ?? 64;
  const vec4s = (mib << 20) / 16;
  const src = ctx.pool.acquire(vec4s * 16, 'ceiling.src');
  const dst = ctx.pool.acquire(vec4s * 16, 'ceiling.dst');
  let bestCopy: { rate: number; v: CopyVariant } | undefined;
  for (const v of copies) {
    const d = copy(ctx, vec4s, src, dst, v);
    const times = await timeDispatches(ctx, [d], repeats + 1);
    const rate = (2 * vec4s * 16) / Math.min(...times.all.slice(1).map((r) => r[0]!)) / 1e9; // read + write
    const name = `${v.wg}x${v.vpi}`;
    trials.push({ kind: 'copy', name, rate });
    opts.onTrial?.('copy', name, rate, trials.length, total);
    if (!bestCopy || rate > bestCopy.rate) bestCopy = { rate, v };
  }
  [src, dst].forEach((x) => ctx.pool.release(x));
  const subgroupMatrix = await probeSubgroupMatrix(ctx, n, repeats);
  return {
    adapter: ctx.gpu.description,
    gemm: { gflops: best!.rate, tile: tileName(best!.tile), size: n }, bestTile: best!.tile,
    copy: { gbps: bestCopy!.rate, variant: `${bestCopy!.v.wg}x${bestCopy!.v.vpi}`, mib },
    subgroupMatrix, method, trials, date: new Date().toISOString(),
  };
}
