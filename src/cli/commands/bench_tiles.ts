/**
 * `coar bench tiles`: every tile the tuner may choose for a model's conv and attention shape
 * classes on this adapter, with its kind (register, shared-weights, subgroup, workgroup-memory;
 * attention-register, attention-workgroup-memory) and math (f32, f16), and the adapter's profile. Nothing is measured or cached: it is the list
 * that `--tile NAME` picks from and the suite runs each kind of against PyTorch.
 */
import { GpuContext } from '../../gpu/context.js';
import { describeProfile } from '../../gpu/profiles/index.js';
import type { Choice } from '../../gpu/tuning.js';
import { attentionTileKind, attentionTileName, type AttentionTile } from '../../kernels/attention.js';
import { convTileName, tileKind, type ConvTile } from '../../kernels/conv2d.js';
import { BatchedNetwork } from '../../models/batched.js';
import type { Model } from '../../models/index.js';
import type { GpuArgs } from '../options.js';

export interface TileListing {
  adapter: string;
  profile: string;
  subgroups?: { min: number; max: number };
  subgroupMatrixConfigs: readonly unknown[];
  precision: string;
  classes: { key: string; default: string; candidates: { name: string; kind: string; math: 'f32' | 'f16'; stage: number }[] }[];
}

type Described = { name: string; kind: string; math: 'f32' | 'f16' };
const describeConv = (c: Choice): Described => {
  const t = c as unknown as ConvTile;
  return { name: convTileName(t), kind: tileKind(t), math: t.half ? 'f16' : 'f32' };
};
// attention sums in f32 whatever the storage
const describeAttention = (c: Choice): Described => {
  const t = c as unknown as AttentionTile;
  return { name: attentionTileName(t), kind: attentionTileKind(t), math: 'f32' };
};

/** The listing for `model` at `side` x `side` inputs (stage 1 and later are listed around each class's default). */
export async function listTiles(model: Model, side: number, args: GpuArgs & { masks: number; examples: number; quick?: boolean }): Promise<TileListing> {
  // rebuild mode registers every shape class as pending without reading the cache; drain() takes them unmeasured
  const ctx = await GpuContext.open({ ...args, retune: true });
  ctx.tuning.quick = !!args.quick;
  try {
    const net = model.build(ctx, { c: model.inChannels, h: side, w: side });
    const bn = new BatchedNetwork(ctx, net, { masks: args.masks, examples: args.examples });
    const classes: TileListing['classes'] = [];
    for (const t of ctx.tuning.drain()) {
      const describe = t.key.startsWith('conv2d') ? describeConv : t.key.startsWith('attention') ? describeAttention : undefined;
      if (!describe) continue;
      const seen = new Set<string>();
      const candidates: TileListing['classes'][number]['candidates'] = [];
      const add = (c: Choice, stage: number) => {
        const d = describe(c);
        if (seen.has(d.name)) return;
        seen.add(d.name);
        candidates.push({ ...d, stage });
      };
      add(t.defaultChoice, 0);
      for (let stage = 0; stage < 8; stage++) {
        const cands = t.candidates(stage, t.defaultChoice);
        if (!cands.length) break;
        for (const c of cands) add(c, stage);
      }
      classes.push({ key: t.key, default: describe(t.defaultChoice).name, candidates });
    }
    bn.destroy();
    net.destroy();
    const p = ctx.profile;
    return { adapter: ctx.gpu.description, profile: describeProfile(p), subgroups: p.subgroups, subgroupMatrixConfigs: p.subgroupMatrixConfigs, precision: ctx.precision, classes };
  } finally {
    ctx.destroy();
  }
}

export function formatTiles(l: TileListing): string {
  const lines = [`adapter  ${l.adapter}`, `profile  ${l.profile}`, `precision ${l.precision}`];
  for (const c of l.classes) {
    lines.push(`${c.key} (default ${c.default})`);
    for (const t of c.candidates) lines.push(`  ${t.name.padEnd(28)} ${t.kind.padEnd(17)} ${t.math}  stage ${t.stage}`);
  }
  return lines.join('\n');
}
