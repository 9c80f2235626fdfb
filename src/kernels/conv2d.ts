/**
 * conv2d.wgsl and conv2d_mm.wgsl: convolution (any kernel, stride, padding) with the COAR
 * epilogue fused: component mask, eval-mode BatchNorm (or bias), residual add, ReLU. A linear
 * layer is the same kernel on a 1x1 map. Register, shared-weight and subgroup tiles run
 * conv2d.wgsl; workgroup-memory tiles run conv2d_mm.wgsl on the shared matmul core. Which
 * tile an adapter gets untuned is its profile's business (src/gpu/profiles/), not this file's.
 */
import { uniformBuffer, uploadBuffer } from '../gpu/buffers.js';
import { splitGroups, type Dispatch, type GpuContext } from '../gpu/context.js';
import { REGISTER_TILE } from '../gpu/profiles/lavapipe.js';
import { sharedWeightBytes, subgroupGroups, wgmemBytes, type AdapterProfile, type ConvTile } from '../gpu/profiles/index.js';
import type { Tunable } from '../gpu/tuning.js';
import { UserError } from '../errors.js';
import { floatToHalf } from '../io/f16.js';

export type { ConvTile } from '../gpu/profiles/index.js';

export const ceil4 = (n: number) => Math.ceil(n / 4) * 4;

/** A convolution's weights on the device, in the layout the kernel reads. */
export interface ConvWeights {
  w: GPUBuffer;          // [KH, KW, Cin4*4, Cout4*4], zero-padded; f16 when `f16`
  f16: boolean;
  scaleShift: GPUBuffer; // [2, Cout4*4]
  kh: number; kw: number; stride: number; pad: number;
  /** real (unpadded) channel counts */
  cin: number; cout: number;
}

/**
 * weight: PyTorch layout [Cout, Cin, KH, KW]; per-channel `scale` and `shift` applied
 * after the (masked) convolution: BatchNorm folded as gamma/sqrt(var+eps) and
 * beta - mean*scale, a bias b as scale 1, shift b.
 * `cinIndex` moves input channels (a linear layer reading a pooled NHWC map flattened the
 * PyTorch way, channel-major, needs it); `cinPadded` is then the padded input length.
 */
export function uploadConv(ctx: GpuContext, label: string, weight: Float32Array, shape: readonly number[], scale: Float32Array, shift: Float32Array,
  opts: { stride?: number; pad?: number; cinIndex?: (c: number) => number; cinPadded?: number } = {}): ConvWeights {
  const [cout, cin, kh, kw] = shape as [number, number, number, number];
  const cin4 = opts.cinPadded ?? ceil4(cin), cout4 = ceil4(cout);
  const t = new Float32Array(kh * kw * cin4 * cout4);
  for (let o = 0; o < cout; o++) {
    for (let i = 0; i < cin; i++) {
      const ii = opts.cinIndex ? opts.cinIndex(i) : i;
      for (let y = 0; y < kh; y++) {
        for (let x = 0; x < kw; x++) {
          t[((y * kw + x) * cin4 + ii) * cout4 + o] = weight[((o * cin + i) * kh + y) * kw + x]!;
        }
      }
    }
  }
  const ss = new Float32Array(2 * cout4);
  ss.set(scale, 0);
  ss.set(shift, cout4);
  const f16 = ctx.precision === 'f16';
  return {
    w: uploadBuffer(ctx.device, f16 ? toHalf(t) : t, `${label}.w`), f16,
    scaleShift: uploadBuffer(ctx.device, ss, `${label}.scaleShift`),
    kh, kw, stride: opts.stride ?? 1, pad: opts.pad ?? 0, cin, cout,
  };
}

export interface MapShape { h: number; w: number; c: number } // c padded to 4

export type Activation = 'none' | 'relu' | 'gelu';

/** Masks expanded to floats on the device (mask_expand.ts), and how items map to them. */
export interface MaskBinding {
  keep: GPUBuffer;       // f32 [masks, stride4 * 4]
  stride4: number;       // vec4s per mask row
  itemsPerMask: number;  // consecutive items that share one mask
  /** first vec4 of the layer whose components start at global index `componentOffset` */
  start4(componentOffset: number): number;
}

export interface ConvCall {
  x: GPUBuffer; xShape: MapShape; inputItems: number;
  y: GPUBuffer; batch: number;
  mask?: MaskBinding & { offset: number };
  residual?: GPUBuffer;
  /** activation after the residual add */
  act: Activation;
  /** the input, and the output and residual, are stored as f16 (default: f32) */
  xF16?: boolean;
  yF16?: boolean;
  /** a fixed tile (else the tuned one for this shape class on this adapter, else defaultTile()) */
  tile?: ConvTile;
}

function toHalf(x: Float32Array): Uint16Array {
  const h = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) h[i] = floatToHalf(x[i]!);
  return h;
}

export function convOutShape(cw: ConvWeights, s: MapShape): MapShape {
  return {
    h: Math.floor((s.h + 2 * cw.pad - cw.kh) / cw.stride) + 1,
    w: Math.floor((s.w + 2 * cw.pad - cw.kw) / cw.stride) + 1,
    c: ceil4(cw.cout),
  };
}

/** The untuned tile for a conv with `cout4` vec4 output channels on this adapter: its profile's. */
export function defaultTile(ctx: GpuContext, cout4: number, f16: boolean): ConvTile {
  return ctx.profile.convDefault(cout4, f16);
}

/** What kind of tile this is, in the words of `coar bench tiles`. */
export type TileKind = 'register' | 'shared-weights' | 'subgroup' | 'workgroup-memory';
export const tileKind = (t: ConvTile): TileKind => (t.wgmem ? 'workgroup-memory' : t.subgroup ? 'subgroup' : t.shared ? 'shared-weights' : 'register');

/** Why this adapter (and storage precision) cannot run `t`, or undefined when it can. */
export function tileUnfit(t: ConvTile, profile: AdapterProfile, f16: boolean): string | undefined {
  const wgc = t.wgc ?? 1;
  if (t.wg * wgc > profile.maxInvocations) return `${t.wg * wgc} invocations per workgroup, over the adapter's ${profile.maxInvocations}`;
  if (t.half && !f16) return 'f16 math needs f16 storage (--precision f16)';
  if (t.acc16 && !t.half) return 'f16 sums (/acc16) need f16 multiplies (/half)';
  if (t.wgmem) {
    if (t.shared || t.subgroup || t.channelsFirst) return 'a workgroup-memory tile is neither shared, subgroup nor channels-first';
    const bytes = wgmemBytes(t, t.half ? 2 : 4);
    if (bytes > profile.workgroupBytes) return `${bytes} bytes of workgroup memory, over the adapter's ${profile.workgroupBytes}`;
  }
  if (t.shared) {
    const bytes = sharedWeightBytes(t, f16 ? 2 : 4);
    if (bytes > profile.workgroupBytes) return `${bytes} bytes of workgroup memory, over the adapter's ${profile.workgroupBytes}`;
  }
  if (t.subgroup) {
    if (!profile.subgroups) return 'the adapter reports no subgroups';
    if (wgc !== 1 || t.shared || t.half) return 'a subgroup tile has wgc 1 and is neither shared nor half';
    if (t.wg < 16) return 'a subgroup tile needs at least 16 invocations';
    if (!subgroupGroups(profile, t.tc4)) return `subgroups of ${profile.subgroups.min} cannot broadcast a 4 x 4 block`;
  }
  return undefined;
}

/**
 * Bytes the two workgroup orders re-read, pixel blocks first over channel groups first: with
 * pixel blocks first each channel group sweeps the whole input again (weights stay cached);
 * with channel groups first each pixel block reads every weight again (its input stays cached).
 */
export function orderTrafficRatio(cw: ConvWeights, xs: MapShape, batch: number, tile: ConvTile): number {
  const o = convOutShape(cw, xs);
  const channelGroups = Math.ceil(o.c / 4 / (tile.tc4 * (tile.wgc ?? 1)));
  const input = batch * xs.h * xs.w * xs.c;
  const weights = cw.kh * cw.kw * xs.c * o.c;
  return (channelGroups * input) / (pixelBlocks(cw, xs, batch, tile) * weights);
}

/** Workgroups along the output pixels of `batch` images. */
function pixelBlocks(cw: ConvWeights, xs: MapShape, batch: number, tile: ConvTile): number {
  const o = convOutShape(cw, xs);
  return Math.ceil((batch * o.h * o.w) / (tile.tp * tile.wg));
}

/**
 * The untuned order: channel groups first where pixel blocks first would re-read more than 4
 * times the bytes and there are at least 4 pixel blocks to keep their inputs. On lavapipe this
 * ran ResNet-50's 1x1 convs of layers 1-3 at 1.0-1.5x (1.5x the expanding convs with their
 * residual) and left the stem, the 3x3 convs and layer 4 (2 pixel blocks) first by pixels,
 * where channels first lost up to 0.8x (bench/conv_order.ts, BENCHMARKS.md).
 */
export function channelsFirstByTraffic(cw: ConvWeights, xs: MapShape, batch: number, tile: ConvTile): boolean {
  return pixelBlocks(cw, xs, batch, tile) >= 4 && orderTrafficRatio(cw, xs, batch, tile) > 4;
}

export const convTileName = (t: ConvTile) =>
  `${t.tp}x${t.tc4 * 4}/${t.wg}x${t.wgc ?? 1}${t.shared ? `/shared${t.kch ?? 4}` : ''}${t.wgmem ? `/wgmem${t.kch ?? 8}` : ''}` +
  `${t.half ? '/half' : ''}${t.acc16 ? '/acc16' : ''}${t.subgroup ? '/sg' : ''}${t.channelsFirst ? '/cf' : ''}`;

const TILE_FORM = 'PIXELSxCHANNELS/WGxWGC[/sharedK|/wgmemK][/half[/acc16]][/sg][/cf], e.g. 4x16/64x1/sg or 4x4/16x16/wgmem8 (`coar bench tiles` lists them)';

/** The tile a name (convTileName's form) stands for; a malformed name is the user's mistake. */
export function parseConvTile(name: string): ConvTile {
  const m = /^(\d+)x(\d+)\/(\d+)x(\d+)((?:\/[a-z]+\d*)*)$/.exec(name.trim());
  const bad = (why: string) => new UserError(`--tile '${name}' ${why}: give ${TILE_FORM}`);
  if (!m) throw bad('is not a tile name');
  const [tp, ch, wg, wgc] = m.slice(1, 5).map(Number) as [number, number, number, number];
  if (ch % 4 || !tp || !ch || !wg || !wgc) throw bad('has a zero size or channels not a multiple of 4');
  const t: ConvTile = { tp, tc4: ch / 4, wg, ...(wgc > 1 ? { wgc } : {}) };
  for (const f of m[5]!.split('/').filter(Boolean)) {
    const k = /^(shared|wgmem)(\d+)$/.exec(f);
    if (k) { t[k[1] as 'shared' | 'wgmem'] = true; t.kch = Number(k[2]); }
    else if (f === 'half') t.half = true;
    else if (f === 'acc16') t.acc16 = true;
    else if (f === 'sg') t.subgroup = true;
    else if (f === 'cf') t.channelsFirst = true;
    else throw bad(`has an unknown part '${f}'`);
  }
  if (t.kch === 0 || (t.shared && t.wgmem)) throw bad('is shared and wgmem at once, or stages 0');
  return t;
}

/**
 * The shape class a tuned tile is cached under: kernel, stride, channels, output pixels to
 * the nearest power of 2 up to 2^16 (past that, more pixels only mean more workgroups of the
 * same kind, so one measurement on 2^16 serves every larger batch), precision.
 */
export function convShapeClass(cw: ConvWeights, cin4: number, pixels: number, f16: boolean): string {
  const px = Math.min(16, Math.round(Math.log2(Math.max(1, pixels))));
  return `conv2d k${cw.kh}x${cw.kw} s${cw.stride} ${cin4 * 4}->${ceil4(cw.cout)} px2^${px}${px === 16 ? '+' : ''} ${f16 ? 'f16' : 'f32'}`;
}

/** The best tile in the other workgroup order (conv2d() gives every candidate the traffic rule's order first). */
const flipOrder = (t: ConvTile): ConvTile => ({ ...t, channelsFirst: !t.channelsFirst });

/**
 * The workgroup-memory tiles the tuner tries (both operands staged, conv2d_mm.wgsl): 64 x 64
 * outputs at 4 x 4 per invocation (the profile's tile on GPUs), 128 x 64 and 64 x 128 at 8 x 4
 * and 4 x 8, and 32 x 32 in 64 invocations (what an adapter with few lanes per core may want).
 */
export const WGMEM_TILES: readonly ConvTile[] = [
  { tp: 4, tc4: 1, wg: 16, wgc: 16, wgmem: true, kch: 8 },
  { tp: 8, tc4: 1, wg: 16, wgc: 16, wgmem: true, kch: 4 },
  { tp: 4, tc4: 2, wg: 16, wgc: 16, wgmem: true, kch: 4 },
  { tp: 4, tc4: 1, wg: 8, wgc: 8, wgmem: true, kch: 8 },
];

/**
 * The tiles the tuner tries, in stages: register tiles in a workgroup of 64 along pixels
 * (what CPU adapters want), with weights shared by subgroup broadcast where the adapter has
 * subgroups; then around the best of those, other workgroup shapes, 2-D workgroups with
 * shared-memory weight tiles, workgroup-memory tiles of both operands and f16 arithmetic
 * (what GPUs want); last, the best in the other workgroup order (quick: stage 1).
 */
export function convCandidates(stage: number, best: ConvTile, cout4: number, pixels: number, f16: boolean, profile: AdapterProfile, quick = false): ConvTile[] {
  const fits = (t: ConvTile) => t.tc4 <= Math.max(1, cout4) && t.tp <= Math.max(4, pixels) &&
    (t.wgc ?? 1) * t.tc4 <= Math.max(1, cout4) * (t.wgmem ? 4 : 2) && !tileUnfit(t, profile, f16);
  const wgmem = [profile.wgmemTile, ...WGMEM_TILES];
  let out: ConvTile[] = [];
  if (quick) {
    // a few candidates of every kind, for tests and a first look: the plain default (when the
    // subgroup one is the default), a smaller and a larger register tile (16 x 16 won on every
    // shape measured on lavapipe before the subgroup tiles, BENCHMARKS.md), shared-memory
    // weights, and the profile's workgroup-memory tile
    if (stage === 0) out = [{ ...REGISTER_TILE }, { tp: 8, tc4: 1, wg: 64 }, { tp: 16, tc4: 4, wg: 64 }, { tp: 2, tc4: 1, wg: 64, wgc: 2, shared: true, kch: 4 }, { ...profile.wgmemTile }];
    if (stage === 0 && f16) out.push({ ...REGISTER_TILE, half: true }, { ...profile.wgmemTile, half: true });
    // subgroup-shared weights, 4 or 8 pixels x 16 channels: 1.0-3.4x the 16 x 16 tile on ResNet-50 shapes on lavapipe (BENCHMARKS.md)
    if (stage === 0) out.push({ tp: 4, tc4: 4, wg: 64, subgroup: true }, { tp: 8, tc4: 4, wg: 64, subgroup: true });
    if (stage === 1 && !best.wgmem) out = [flipOrder(best)];
  } else if (stage === 0) {
    // at most 64 vec4 accumulators: lavapipe took over 15 minutes (under load) to compile 32 x 16
    // in the adapter class's lanes per workgroup (64 on lavapipe, 256 on GPUs)
    const wg = profile.lanes;
    for (const tp of [4, 8, 16, 32]) for (const tc4 of [1, 2, 4]) if (tp * tc4 <= 64) out.push({ tp, tc4, wg });
    out.push({ tp: 8, tc4: 8, wg });
    // subgroup-shared weights: 16-32 vec4 accumulators win; 16 x 16 ran at a third of 8 x 16, 16 x 8 and 1 x 64 lost too
    for (const [tp, tc4] of [[4, 2], [8, 2], [2, 4], [4, 4], [8, 4], [2, 8], [4, 8]] as const) out.push({ tp, tc4, wg, subgroup: true });
    // where the profile starts from workgroup memory (a GPU), its family is measured from the start
    if (best.wgmem) out.push(...wgmem);
  } else if (stage === 1) {
    const { tp, tc4 } = best;
    out = best.wgmem ? [...wgmem] : [
      { ...best, wg: 16 }, { ...best, wg: 32 }, { ...best, wg: 128 }, { ...best, wg: 256 },
      { tp, tc4, wg: 64, wgc: 4 }, { tp: Math.max(1, tp / 4), tc4, wg: 64, wgc: 4, shared: true, kch: 4 },
      { tp: 4, tc4: 1, wg: 64, wgc: 4, shared: true, kch: 8 }, { tp: 2, tc4: 1, wg: 128, wgc: 2, shared: true, kch: 4 },
      ...wgmem,
    ];
    if (f16) out.push({ ...best, half: true }, ...wgmem.map((t) => ({ ...t, half: true })));
  } else if (stage === 2) {
    out = best.wgmem ? (f16 && !best.half ? [{ ...best, half: true }] : []) : [flipOrder(best)];
  } else {
    return [];
  }
  const seen = new Set<string>([convTileName(best)]);
  return out.filter((t) => fits(t) && !seen.has(convTileName(t)) && seen.add(convTileName(t)));
}

/**
 * Items that read the same input image (the first layer: every mask of an example) get the
 * same conv sums; the kernel computes them once per image and writes each item's epilogue
 * (its mask, BatchNorm, activation) from them: the stem's multiply-adds fall by the masks per batch.
 */
export const perInput = (call: Pick<ConvCall, 'inputItems' | 'batch'>) => call.inputItems < call.batch && call.batch % call.inputItems === 0;

/** The items whose conv sums the kernel computes: the input images when perInput, else every item. */
export const computedItems = (call: Pick<ConvCall, 'inputItems' | 'batch'>) => (perInput(call) ? call.inputItems : call.batch);

export function conv2d(ctx: GpuContext, cw: ConvWeights, call: ConvCall): Dispatch {
  const o = convOutShape(cw, call.xShape);
  const cout4 = o.c / 4;
  const computed = computedItems(call);
  const pixels = computed * o.h * o.w;
  // a tile without an order (given, or cached before orders were tuned) takes the traffic rule's
  const ordered = (t: ConvTile): ConvTile => (t.channelsFirst === undefined && !t.wgmem ? { ...t, channelsFirst: channelsFirstByTraffic(cw, call.xShape, computed, t) } : t);
  const given = call.tile ?? ctx.forcedConvTile;
  if (given) return prepareConv(ctx, cw, call, ordered(given));
  const fallback = ordered(defaultTile(ctx, cout4, cw.f16));
  const tunable: Tunable = {
    key: convShapeClass(cw, call.xShape.c / 4, pixels, cw.f16),
    flops: 2 * pixels * cw.cout * cw.kh * cw.kw * cw.cin,
    defaultChoice: { ...fallback },
    candidates: (stage, best) => convCandidates(stage, ordered(best as unknown as ConvTile), cout4, pixels, cw.f16, ctx.profile, ctx.tuning.quick)
      .map(ordered) as unknown as Record<string, number | boolean>[],
    prepare: (choice) => prepareConv(ctx, cw, call, ordered(choice as unknown as ConvTile)),
  };
  const tuned = ctx.tuning.choose<Record<string, number | boolean>>(tunable) as unknown as ConvTile | undefined;
  // a cached tile is only ever measured on an adapter that runs it; guard anyway
  return prepareConv(ctx, cw, call, tuned && !tileUnfit(tuned, ctx.profile, cw.f16) ? ordered(tuned) : fallback);
}

function prepareConv(ctx: GpuContext, cw: ConvWeights, call: ConvCall, tile: ConvTile): Dispatch {
  const o = convOutShape(cw, call.xShape);
  const cout4 = o.c / 4;
  const params = [
    call.batch, call.xShape.h, call.xShape.w, call.xShape.c / 4,
    o.h, o.w, cout4,
    cw.kh, cw.kw, cw.stride, cw.pad,
    call.inputItems, call.mask?.itemsPerMask ?? 1, call.mask?.stride4 ?? 0, call.mask ? call.mask.start4(call.mask.offset) : 0,
  ];
  const { tp: TP, tc4: TC4, wg } = tile;
  const wgc = tile.wgc ?? 1;
  const f16 = cw.f16;
  if ((call.xF16 || call.yF16) && !f16) throw new Error('conv2d: f16 activations need f16 weights (GpuContext precision f16)');
  const unfit = tileUnfit(tile, ctx.profile, f16);
  if (unfit) throw new UserError(`tile ${convTileName(tile)} cannot run here: ${unfit}; choose another (\`coar bench tiles\` lists them)`);
  const shared = perInput(call);
  const rows = computedItems(call) * o.h * o.w;
  const epilogue = {
    PER_INPUT: shared, MASKED: !!call.mask, RESIDUAL: !!call.residual, RELU: call.act === 'relu', GELU: call.act === 'gelu',
    F16: f16, X_F16: !!call.xF16, Y_F16: !!call.yF16, HALF_MATH: !!tile.half && f16 && !!call.xF16, HALF_ACC: !!tile.acc16 && !!tile.half && f16 && !!call.xF16,
  };
  const bindings = [uniformBuffer(ctx.device, params, 'conv.params'), call.x, cw.w, cw.scaleShift, call.y, call.mask?.keep, call.residual];
  const label = `conv${cw.kh}x${cw.kw} ${convTileName(tile)}`;
  if (tile.wgmem) {
    const [gy, gz] = splitGroups(Math.ceil(rows / (TP * wg)));
    return ctx.prepare(
      { shader: 'conv2d_mm.wgsl', defines: { ...epilogue, MM_RM: TP, MM_RN4: TC4, MM_KT4: tile.kch ?? 8, MM_WGM: wg, MM_WGN: wgc } },
      bindings, [Math.ceil(cout4 / (TC4 * wgc)), gy, gz], label,
    );
  }
  const pixInv = Math.ceil(rows / TP);
  const [gx, gz] = splitGroups(Math.ceil(pixInv / wg));
  return ctx.prepare(
    {
      shader: 'conv2d.wgsl',
      defines: {
        ...epilogue,
        CHANNELS_FIRST: !!tile.channelsFirst,
        POINTWISE: cw.kh === 1 && cw.kw === 1 && cw.stride === 1 && cw.pad === 0 && call.inputItems === call.batch,
        TP, TC4,
        SHARED: !!tile.shared, ...(tile.shared ? { KCH: tile.kch ?? 4 } : {}), SUBGROUP: !!tile.subgroup,
        ...(tile.subgroup ? { SG_G: subgroupGroups(ctx.profile, TC4) } : {}),
      },
      constants: { WG: wg, WGC: wgc },
    },
    bindings,
    tile.channelsFirst ? [Math.ceil(cout4 / (TC4 * wgc)), gx, gz] : [gx, Math.ceil(cout4 / (TC4 * wgc)), gz],
    label,
  );
}
