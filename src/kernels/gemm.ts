/**
 * gemm.wgsl, gemm_mm.wgsl and copy.wgsl: the probes of the adapter's ceilings (compute and
 * memory), with the tile and workgroup shapes they are searched over. gemm_mm.wgsl is the
 * workgroup-memory tile on the matmul core the conv's workgroup-memory tile shares.
 */
import { uniformBuffer } from '../gpu/buffers.js';
import { splitGroups, type Dispatch, type GpuContext } from '../gpu/context.js';
import { subgroupGroups, type GemmTile } from '../gpu/profiles/index.js';

/**
 * rows x vec4 columns per invocation, invocations per workgroup along M and N, shared-memory
 * staging of A and B (`shared`, gemm.wgsl; `wgmem`, the matmul core), or B shared by subgroup
 * broadcast (wgn 1: conv2d.wgsl's `subgroup`, any subgroup width)
 */
export type { GemmTile } from '../gpu/profiles/index.js';

export const tileName = (t: GemmTile) => `${t.tm}x${t.tn4 * 4}/${t.wgm}x${t.wgn}${t.shared ? `/shared${t.kc ?? 16}` : ''}${t.wgmem ? `/wgmem${t.kc ?? 32}` : ''}${t.subgroup ? '/sg' : ''}`;

export interface GemmShape { m: number; n: number; k: number } // n, k multiples of 4

export function gemm(ctx: GpuContext, s: GemmShape, a: GPUBuffer, b: GPUBuffer, c: GPUBuffer, t: GemmTile): Dispatch {
  const n4 = s.n / 4;
  if (t.wgmem) {
    const [gy, gz] = splitGroups(Math.ceil(s.m / (t.tm * t.wgm)));
    return ctx.prepare(
      { shader: 'gemm_mm.wgsl', defines: { MM_RM: t.tm, MM_RN4: t.tn4, MM_KT4: (t.kc ?? 32) / 4, MM_WGM: t.wgm, MM_WGN: t.wgn } },
      [uniformBuffer(ctx.device, [s.m, n4, s.k / 4], 'gemm.params'), a, b, c],
      [Math.ceil(n4 / (t.tn4 * t.wgn)), gy, gz],
      `gemm ${tileName(t)}`,
    );
  }
  if (t.subgroup && !subgroupGroups(ctx.profile, t.tn4)) throw new Error(`gemm: tile ${tileName(t)} needs subgroups that hold a 4 x 4 block`);
  const sg: Record<string, number> = t.subgroup ? { SG_G: subgroupGroups(ctx.profile, t.tn4) } : {};
  return ctx.prepare(
    { shader: 'gemm.wgsl', defines: { SHARED: t.shared, SUBGROUP: !!t.subgroup, TM: t.tm, TN4: t.tn4, ...(t.shared ? { KC: t.kc ?? 16 } : {}), ...sg }, constants: { WGM: t.wgm, WGN: t.wgn } },
    [uniformBuffer(ctx.device, [s.m, n4, s.k / 4], 'gemm.params'), a, b, c],
    [Math.ceil(s.m / (t.tm * t.wgm)), Math.ceil(n4 / (t.tn4 * t.wgn))],
    `gemm ${tileName(t)}`,
  );
}

/**
 * Candidate tiles, in two stages: register tiles in workgroups of 64 along M with one
 * column group (what CPU adapters want: uniform B reads), then, around the best of those,
 * other workgroup shapes, 2-D workgroups staging A and B in shared memory, and the matmul
 * core's workgroup-memory tiles (what GPUs want). With `subgroups` (any width the adapter
 * reports, >= 4), also B shared by subgroup broadcast, the conv kernel's best tiles on lavapipe.
 */
export function gemmCandidates(stage: number, best: GemmTile | undefined, maxInvocations: number, quick = false, subgroups = false): GemmTile[] {
  let out: GemmTile[] = [];
  if (stage === 0) {
    const reg: [number, number][] = quick ? [[16, 2], [16, 4], [8, 4]] : [[4, 4], [8, 2], [8, 4], [8, 8], [16, 1], [16, 2], [16, 4], [32, 2]];
    out = reg.map(([tm, tn4]) => ({ tm, tn4, wgm: 64, wgn: 1, shared: false }));
    if (subgroups) out.push(...(quick ? [[4, 4], [8, 4]] : [[4, 4], [8, 4], [2, 8], [4, 8]]).map(([tm, tn4]) => ({ tm: tm!, tn4: tn4!, wgm: 64, wgn: 1, shared: false, subgroup: true })));
  } else if (stage === 1 && best) {
    const wgs: [number, number][] = quick ? [] : [[32, 1], [128, 1], [16, 4], [8, 8]];
    out = wgs.map(([wgm, wgn]) => ({ ...best, wgm, wgn }));
    out.push(...(quick ? [{ tm: 4, tn4: 1, wgm: 16, wgn: 16, shared: true, kc: 16 }] : [
      { tm: 4, tn4: 1, wgm: 16, wgn: 16, shared: true, kc: 16 },
      { tm: 8, tn4: 1, wgm: 16, wgn: 16, shared: true, kc: 16 },
      { tm: 4, tn4: 2, wgm: 16, wgn: 8, shared: true, kc: 32 },
      { tm: 8, tn4: 2, wgm: 8, wgn: 8, shared: true, kc: 16 },
    ]));
    // the matmul core: 64 x 64 at 4 x 4 (the GPU profiles' tile), 128 x 64, 64 x 128 (16 KiB of workgroup memory each, WebGPU's minimum)
    out.push({ tm: 4, tn4: 1, wgm: 16, wgn: 16, shared: false, wgmem: true, kc: 32 });
    if (!quick) out.push({ tm: 8, tn4: 1, wgm: 16, wgn: 16, shared: false, wgmem: true, kc: 16 }, { tm: 4, tn4: 2, wgm: 16, wgn: 16, shared: false, wgmem: true, kc: 16 });
  }
  return out.filter((t) => t.wgm * t.wgn <= maxInvocations && (!t.subgroup || (t.wgn === 1 && t.wgm >= 16)));
}

export interface CopyVariant { wg: number; vpi: number }

export function copy(ctx: GpuContext, vec4s: number, src: GPUBuffer, dst: GPUBuffer, v: CopyVariant): Dispatch {
  const invocations = Math.ceil(vec4s / v.vpi);
  const [gx, gy] = splitGroups(Math.ceil(invocations / v.wg));
  return ctx.prepare(
    { shader: 'copy.wgsl', defines: { VPI: v.vpi }, constants: { WG: v.wg } },
    [uniformBuffer(ctx.device, [vec4s, gx * gy * v.wg], 'copy.params'), src, dst],
    [gx, gy],
    `copy ${v.wg}x${v.vpi}`,
  );
}
