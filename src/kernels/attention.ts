/**
 * Attention, softmax(q k^T / sqrt(d)) v for every item, head and query token, from the fused
 * q|k|v projection, in two kinds of tile (gpu/profiles/tiles.ts, AttentionTile):
 *  - register (attention.wgsl): every invocation reads the keys and values from storage itself;
 *  - flash (attention_flash.wgsl): a workgroup of queries stages keys and values in workgroup
 *    memory a block at a time with coalesced loads (what GPUs want).
 * vec4 reads when the head width and the model width allow. Which tile an adapter gets untuned
 * is its profile's business (src/gpu/profiles/); the tuner measures both kinds.
 */
import { uniformBuffer } from '../gpu/buffers.js';
import type { Dispatch, GpuContext } from '../gpu/context.js';
import { attentionWgmemBytes, type AdapterProfile, type AttentionTile } from '../gpu/profiles/index.js';
import type { Choice, Tunable } from '../gpu/tuning.js';
import { UserError } from '../errors.js';
import { ceil4 } from './conv2d.js';

export type { AttentionTile } from '../gpu/profiles/index.js';

const pow2ceil = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

/** Query tokens per invocation: never more than there are queries. */
const queriesPerInvocation = (queries: number, qt: number) => Math.min(qt, pow2ceil(queries));

export interface AttentionCall {
  qkv: GPUBuffer;  // [batch, T, ceil4(3D)]
  o: GPUBuffer;    // [batch, queries, ceil4(D)]
  batch: number;
  tokens: number;
  /** queries per item, the first tokens (default all) */
  queries?: number;
  d: number;       // model width D
  heads: number;
  /** this tile, not the forced, tuned or default one */
  tile?: AttentionTile;
  /** register tile: query tokens per invocation, each key and value read serves this many */
  qt?: number;
  /** register tile: invocations per workgroup (default up to 64) */
  wg?: number;
  /** q, k, v and the output stored as f16 */
  f16?: boolean;
}

/** What kind of attention tile this is, in the words of `coar bench tiles`. */
export type AttentionTileKind = 'attention-register' | 'attention-workgroup-memory';
export const attentionTileKind = (t: AttentionTile): AttentionTileKind => (t.flash ? 'attention-workgroup-memory' : 'attention-register');

/** `attn/8q/64` (register: queries per invocation / invocations) or `attn/flash64/kv32` (flash: queries per workgroup / keys per staged block). */
export const attentionTileName = (t: AttentionTile) => (t.flash ? `attn/flash${t.wg}/kv${t.bk ?? 32}` : `attn/${t.qt}q/${t.wg || 64}`);

const ATTENTION_FORM = 'attn/Qq/WG (register, e.g. attn/8q/64) or attn/flashWG/kvBK (keys and values in workgroup memory, e.g. attn/flash64/kv32)';

/** The attention tile a name (attentionTileName's form) stands for; a malformed name is the user's mistake. */
export function parseAttentionTile(name: string): AttentionTile {
  const bad = (why: string) => new UserError(`--tile '${name}' ${why}: give ${ATTENTION_FORM}`);
  const reg = /^attn\/(\d+)q\/(\d+)$/.exec(name.trim());
  const flash = /^attn\/flash(\d+)\/kv(\d+)$/.exec(name.trim());
  if (!reg && !flash) throw bad('is not an attention tile name');
  const [a, b] = (reg ?? flash)!.slice(1, 3).map(Number) as [number, number];
  if (!a || !b) throw bad('has a zero size');
  return reg ? { qt: a, wg: b } : { qt: 1, wg: a, flash: true, bk: b };
}

/** Why this adapter cannot run `t` on heads of `headWidth` values, or undefined when it can. */
export function attentionTileUnfit(t: AttentionTile, profile: Pick<AdapterProfile, 'maxInvocations' | 'workgroupBytes'>, headWidth: number, f16: boolean): string | undefined {
  if (t.wg > profile.maxInvocations) return `${t.wg} invocations per workgroup, over the adapter's ${profile.maxInvocations}`;
  if (t.flash) {
    const bytes = attentionWgmemBytes(t, headWidth, f16 ? 2 : 4);
    if (bytes > profile.workgroupBytes) return `${bytes} bytes of workgroup memory for heads of ${headWidth}, over the adapter's ${profile.workgroupBytes}`;
  }
  return undefined;
}

/** Shape class of a tuned attention tile: tokens, queries, head width, items to a power of 2, precision. */
export function attentionShapeClass(call: AttentionCall): string {
  return `attention T${call.tokens} q${call.queries ?? call.tokens} hd${call.d / call.heads} items2^${Math.round(Math.log2(Math.max(1, call.batch)))} ${call.f16 ? 'f16' : 'f32'}`;
}

/**
 * The tiles the tuner tries, in stages: register tiles of 1-16 queries per invocation and flash
 * tiles of 32-key blocks (16 and 32 on a full run); then around the best, other workgroup sizes
 * (and, for flash, 64-key blocks). Quick: one of each kind.
 */
export function attentionCandidates(stage: number, best: AttentionTile, headWidth: number, f16: boolean, profile: Pick<AdapterProfile, 'maxInvocations' | 'workgroupBytes'>, quick = false): AttentionTile[] {
  let out: AttentionTile[] = [];
  if (stage === 0) {
    out = quick
      ? [{ qt: 4, wg: 0 }, { qt: 1, wg: 64, flash: true, bk: 32 }]
      : [...[1, 2, 4, 16].map((qt) => ({ qt, wg: 0 })), { qt: 1, wg: 64, flash: true, bk: 16 }, { qt: 1, wg: 64, flash: true, bk: 32 }];
  } else if (stage === 1 && !quick) {
    out = best.flash
      ? [...[32, 128, 256].map((wg) => ({ ...best, wg })), { ...best, bk: 64 }]
      : [16, 32, 128, 256].map((wg) => ({ qt: best.qt, wg }));
  }
  const seen = new Set<string>([attentionTileName(best)]);
  return out.filter((t) => !attentionTileUnfit(t, profile, headWidth, f16) && !seen.has(attentionTileName(t)) && seen.add(attentionTileName(t)));
}

/** The profile's tile, a flash tile's key block halved until one head's keys and values fit the workgroup memory. */
function defaultAttentionTile(ctx: GpuContext, headWidth: number, f16: boolean): AttentionTile {
  let t = { ...ctx.profile.attentionDefault };
  while (t.flash && (t.bk ?? 32) > 1 && attentionTileUnfit(t, ctx.profile, headWidth, f16)) t = { ...t, bk: (t.bk ?? 32) / 2 };
  return attentionTileUnfit(t, ctx.profile, headWidth, f16) ? { qt: 8, wg: 0 } : t;
}

export function attention(ctx: GpuContext, call: AttentionCall): Dispatch {
  const queries = call.queries ?? call.tokens;
  const hd = call.d / call.heads;
  const f16 = !!call.f16;
  if (call.qt !== undefined || call.wg !== undefined) return prepareAttention(ctx, call, { qt: call.qt ?? 8, wg: call.wg ?? 0 });
  const given = call.tile ?? ctx.forcedAttentionTile;
  if (given) return prepareAttention(ctx, call, given);
  const fallback = defaultAttentionTile(ctx, hd, f16);
  const tunable: Tunable = {
    key: attentionShapeClass(call),
    flops: 4 * queries * call.tokens * call.d * call.batch,
    defaultChoice: { ...fallback },
    candidates: (stage: number, best: Choice) =>
      attentionCandidates(stage, best as unknown as AttentionTile, hd, f16, ctx.profile, ctx.tuning.quick) as unknown as Choice[],
    prepare: (c) => prepareAttention(ctx, call, c as unknown as AttentionTile),
  };
  const tuned = ctx.tuning.choose(tunable) as unknown as AttentionTile | undefined;
  // a cached tile is only ever measured on an adapter that runs it; guard anyway
  return prepareAttention(ctx, call, tuned && !attentionTileUnfit(tuned, ctx.profile, hd, f16) ? tuned : fallback);
}

function prepareAttention(ctx: GpuContext, call: AttentionCall, tile: AttentionTile): Dispatch {
  const hd = call.d / call.heads;
  if (!Number.isInteger(hd)) throw new Error(`attention: ${call.heads} heads do not divide width ${call.d}`);
  const unfit = attentionTileUnfit(tile, ctx.profile, hd, !!call.f16);
  if (unfit) throw new UserError(`tile ${attentionTileName(tile)} cannot run here: ${unfit}; choose another (\`coar bench tiles\` lists them)`);
  const scalar = hd % 4 !== 0 || call.d % 4 !== 0;
  const w = scalar ? 1 : 4;
  const queries = call.queries ?? call.tokens;
  const params = [call.batch, call.tokens, queries, call.heads, ceil4(3 * call.d) / w, ceil4(call.d) / w, call.d / w];
  const bindings = [uniformBuffer(ctx.device, params, 'attention.params'), call.qkv, call.o];
  const scale = 1 / Math.sqrt(hd);
  if (tile.flash) {
    // a workgroup of fewer queries than the tile's (the last block's class token) still stages with at least 32 invocations
    const WG = Math.min(tile.wg, Math.max(32, pow2ceil(queries)));
    const BK = tile.bk ?? 32;
    return ctx.prepare(
      { shader: 'attention_flash.wgsl', defines: { SCALAR: scalar, HDV: hd / w, BK, F16: !!call.f16 }, constants: { WG, SCALE: scale } },
      bindings, [Math.ceil(queries / WG), call.heads, call.batch], `attention flash${WG}/kv${BK}`,
    );
  }
  const QT = queriesPerInvocation(queries, tile.qt);
  const blocks = Math.ceil(queries / QT);
  const WG = Math.min(tile.wg || 64, pow2ceil(blocks));
  return ctx.prepare(
    { shader: 'attention.wgsl', defines: { SCALAR: scalar, HDV: hd / w, QT, F16: !!call.f16 }, constants: { WG, SCALE: scale } },
    bindings, [Math.ceil(blocks / WG), call.heads, call.batch],
    `attention ${QT}q/${WG}`,
  );
}
