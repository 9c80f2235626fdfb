/**
 * `--tile`: the tiles a run forces, one per kernel kind. A name starting `attn/` forces every
 * attention (attention.ts's names), any other every conv (conv2d.ts's names); both may be
 * given, comma-separated or as two flags, e.g. `--tile 4x4/16x16/wgmem8,attn/flash64/kv32`.
 */
import type { GpuContext } from '../gpu/context.js';
import { UserError } from '../errors.js';
import { parseAttentionTile, type AttentionTile } from './attention.js';
import { parseConvTile, type ConvTile } from './conv2d.js';

export interface ForcedTiles { conv?: ConvTile; attention?: AttentionTile }

export function parseForcedTiles(given: string | readonly string[] | undefined): ForcedTiles {
  const out: ForcedTiles = {};
  const names = [given ?? []].flat().flatMap((s) => String(s).split(',')).map((s) => s.trim()).filter(Boolean);
  for (const name of names) {
    const kind = name.startsWith('attn') ? 'attention' : 'conv';
    if (out[kind]) throw new UserError(`--tile '${name}' is a second ${kind} tile: give at most one conv tile and one attn/ tile`);
    if (kind === 'attention') out.attention = parseAttentionTile(name);
    else out.conv = parseConvTile(name);
  }
  return out;
}

/** Make every kernel of the context use the forced tiles. */
export function forceTiles(ctx: GpuContext, f: ForcedTiles): void {
  ctx.forcedConvTile = f.conv;
  ctx.forcedAttentionTile = f.attention;
}
