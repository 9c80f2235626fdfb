/**
 * gemm_sm.wgsl: the subgroup-matrix GEMM probe, one per config the adapter reports
 * (adapter.info.subgroupMatrixConfigs; Dawn lists them with WEBCOAR_DAWN_UNSAFE=1). Each
 * is checked against a float64 product on the CPU and timed. Not yet a conv tile: its
 * speed decides whether it is worth one (issue 21.3).
 */
import { readBuffer, uniformBuffer, uploadBuffer } from '../gpu/buffers.js';
import type { GpuContext } from '../gpu/context.js';
import { timeDispatches } from '../gpu/timing.js';
import { floatToHalf, halfToFloat } from '../io/f16.js';

export interface SubgroupMatrixConfig { componentType: string; resultComponentType: string; M: number; N: number; K: number }

export interface SubgroupMatrixTrial { name: string; gflops: number; relError: number; error?: string }

const FLOAT = ['f16', 'f32'];

export const smName = (c: SubgroupMatrixConfig) => `sm ${c.componentType}->${c.resultComponentType} ${c.M}x${c.N}x${c.K}`;

/** Probe every float config on an n x n x n product (n rounded up to the tiles). */
export async function probeSubgroupMatrix(ctx: GpuContext, n = 1024, repeats = 3): Promise<SubgroupMatrixTrial[]> {
  const out: SubgroupMatrixTrial[] = [];
  for (const c of ctx.profile.subgroupMatrixConfigs as SubgroupMatrixConfig[]) {
    if (!FLOAT.includes(c.componentType) || !FLOAT.includes(c.resultComponentType)) continue;
    try {
      out.push(await probeOne(ctx, c, n, repeats));
    } catch (e) {
      out.push({ name: smName(c), gflops: 0, relError: NaN, error: (e as Error).message.split('\n')[0] });
    }
  }
  return out;
}

async function probeOne(ctx: GpuContext, c: SubgroupMatrixConfig, size: number, repeats: number): Promise<SubgroupMatrixTrial> {
  const step = Math.max(c.M, c.N, c.K) * 8;
  const n = Math.ceil(size / step) * step;
  const half = c.componentType === 'f16', halfOut = c.resultComponentType === 'f16';
  const rand = () => { const x = new Float32Array(n * n); for (let i = 0; i < x.length; i++) x[i] = Math.random() - 0.5; return x; };
  const a = rand(), b = rand();
  const enc = (x: Float32Array) => (half ? Uint16Array.from(x, floatToHalf) : x);
  // what the device multiplies: the inputs rounded to its element type
  const dec = (x: Float32Array) => (half ? Float32Array.from(x, (v) => halfToFloat(floatToHalf(v))) : x);
  const ab = uploadBuffer(ctx.device, enc(a), 'sm.a'), bb = uploadBuffer(ctx.device, enc(b), 'sm.b');
  const cb = ctx.pool.acquire(n * n * (halfOut ? 2 : 4), 'sm.c');
  ctx.device.pushErrorScope('validation');
  const d = ctx.prepare(
    { shader: 'gemm_sm.wgsl', defines: { F16: half, RESULT_F16: halfOut, SM: c.M, SN: c.N, SK: c.K }, constants: { SG: ctx.profile.subgroups?.max ?? 32 } },
    [uniformBuffer(ctx.device, [n, n, n], 'sm.params'), ab, bb, cb], [n / c.N, n / c.M], `gemm ${smName(c)}`,
  );
  const invalid = await ctx.device.popErrorScope();
  if (invalid) throw new Error(invalid.message);
  const times = await timeDispatches(ctx, [d], repeats + 1);
  const seconds = Math.min(...times.all.slice(1).map((r) => r[0]!));
  const raw = await readBuffer(ctx.device, cb, n * n * (halfOut ? 2 : 4));
  const got = halfOut ? Float32Array.from(new Uint16Array(raw), halfToFloat) : new Float32Array(raw);
  // rows sampled against float64 products of the rounded inputs
  const ar = dec(a), br = dec(b);
  let num = 0, den = 0;
  for (let i = 0; i < n; i += Math.max(1, Math.floor(n / 16))) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += ar[i * n + k]! * br[k * n + j]!;
      num += (got[i * n + j]! - s) ** 2;
      den += s * s;
    }
  }
  [ab, bb].forEach((x) => x.destroy());
  ctx.pool.release(cb);
  return { name: smName(c), gflops: (2 * n ** 3) / seconds / 1e9, relError: Math.sqrt(num / den) };
}
