/**
 * The shapes of the matmul tiles the kernels run, as plain data: adapter profiles name their
 * defaults in these terms (src/gpu sits below src/kernels, which re-exports them).
 */

/**
 * One conv (implicit GEMM over NHWC) tile. `tp` output pixels x 4*`tc4` output channels per
 * invocation; `wg` invocations along pixels x `wgc` along channel groups. Kinds:
 *  - register (no flag): every invocation reads its operands from storage;
 *  - `shared`: weights staged in workgroup memory, `kch` input-channel groups a step;
 *  - `subgroup`: weights loaded once per subgroup and broadcast (wgc 1; any subgroup width >= 4);
 *  - `wgmem`: BOTH operands staged in workgroup memory with coalesced vec4 loads, `kch` vec4s
 *    of K a step, the tile of a real GPU (matmul_core.wgsl);
 *  - `half` (with f16 storage): f16 multiplies, f32 accumulation;
 *  - `acc16` (with `half`): the sums in f16 too. Forced only (`--tile .../half/acc16`), never
 *    tuned: its error grows with K (f16's rounding over every term), which a speed tuner ignores.
 * `channelsFirst` orders the grid channel groups first (register, shared, subgroup tiles).
 */
export interface ConvTile {
  tp: number; tc4: number; wg: number; wgc?: number;
  shared?: boolean; wgmem?: boolean; kch?: number; half?: boolean; acc16?: boolean; subgroup?: boolean; channelsFirst?: boolean;
}

/** A GEMM tile (gemm.wgsl): rows x vec4 columns per invocation, invocations along M and N, as ConvTile's kinds. */
export interface GemmTile { tm: number; tn4: number; wgm: number; wgn: number; shared: boolean; kc?: number; subgroup?: boolean; wgmem?: boolean }

/** Workgroup memory a `wgmem` tile stages: A [rows, kch] and B [4 kch, cols] vec4s of `bytes` per element. */
export const wgmemBytes = (t: Pick<ConvTile, 'tp' | 'tc4' | 'wg' | 'wgc' | 'kch'>, bytes = 4) =>
  16 * (bytes / 4) * (t.kch ?? 8) * (t.tp * t.wg + 4 * t.tc4 * (t.wgc ?? 1));

/** Workgroup memory a `shared` tile stages: the weights of kch channel groups, [4 kch rows, wgc tc4] vec4s (conv2d.wgsl's ws). */
export const sharedWeightBytes = (t: Pick<ConvTile, 'tc4' | 'wgc' | 'kch'>, bytes = 4) =>
  16 * (bytes / 4) * (t.kch ?? 4) * 4 * t.tc4 * (t.wgc ?? 1);

/**
 * One attention tile. Kinds:
 *  - register (no flag, attention.wgsl): each invocation keeps `qt` queries and reads every
 *    key and value of its head from storage itself; `wg` invocations per workgroup (0: up to 64);
 *  - `flash` (attention_flash.wgsl): one invocation per query, `wg` queries per workgroup, keys
 *    and values staged in workgroup memory `bk` tokens a step with coalesced loads, an online
 *    softmax rescaled once per block (`qt` is 1).
 */
export interface AttentionTile { qt: number; wg: number; flash?: boolean; bk?: number }

/** Workgroup memory a `flash` tile stages: k and v of `bk` tokens of one head (`headWidth` values, 4 wide when padded) of `bytes` each. */
export const attentionWgmemBytes = (t: Pick<AttentionTile, 'bk'>, headWidth: number, bytes = 4) => 2 * (t.bk ?? 32) * headWidth * bytes;
