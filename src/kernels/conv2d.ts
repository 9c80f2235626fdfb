/**
 * conv2d.wgsl: convolution (any kernel, stride, padding) with the COAR epilogue fused:
 * component mask, eval-mode BatchNorm (or bias), residual add, ReLU. A linear layer is
 * the same kernel on a 1x1 map.
 */
import { uniformBuffer, uploadBuffer } from '../gpu/buffers.js';
import { splitGroups, type Dispatch, type GpuContext } from '../gpu/context.js';
import type { Tunable } from '../gpu/tuning.js';
import { floatToHalf } from '../io/f16.js';

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

/**
 * Work of one invocation (tp output pixels x 4*tc4 output channels) and of one workgroup
 * (wg invocations along pixels x wgc along channel groups); `shared` stages kch input
 * channel groups of weights in workgroup memory; `half` multiplies in f16 (f16 storage only);
 * `subgroup` shares weight loads among the 8 invocations of a subgroup by broadcast
 * (subgroups of exactly 8, wgc 1, even tc4; see conv2d.wgsl).
 */
export interface ConvTile { tp: number; tc4: number; wg: number; wgc?: number; shared?: boolean; kch?: number; half?: boolean; subgroup?: boolean; channelsFirst?: boolean }
/**
 * The tile used when none is cached, on adapters without subgroups of 8: 16 pixels x 8
 * channels per invocation, 64 invocations. (16 x 16 runs faster on lavapipe but its unrolled
 * loops take about twice as long to compile, and every test process compiles afresh.)
 */
export const DEFAULT_TILE: ConvTile = { tp: 16, tc4: 2, wg: 64 };
/**
 * The default where subgroups are exactly 8 wide (lavapipe's 256-bit build): 4 pixels x 16
 * channels, weights shared by subgroup broadcast. The tuner chose it for every full-token
 * ViT-B/16 linear, 22 of ResNet-50's 24 conv shape classes and both of the bundled CNN's convs,
 * at 1.85-3.3x DEFAULT_TILE per class, and a cold-cache CNN profile compiled and ran in half
 * the time (BENCHMARKS.md, issue 6). Used where the output channels are a multiple of 16 and
 * storage is f32.
 */
export const SUBGROUP_DEFAULT_TILE: ConvTile = { tp: 4, tc4: 4, wg: 64, subgroup: true };

/** The untuned tile for a conv with `cout4` vec4 output channels on this adapter. */
export function defaultTile(ctx: GpuContext, cout4: number, f16: boolean): ConvTile {
  return !f16 && cout4 % SUBGROUP_DEFAULT_TILE.tc4 === 0 && ctx.subgroupsOf8 ? SUBGROUP_DEFAULT_TILE : DEFAULT_TILE;
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
  `${t.tp}x${t.tc4 * 4}/${t.wg}x${t.wgc ?? 1}${t.shared ? `/shared${t.kch ?? 4}` : ''}${t.half ? '/half' : ''}${t.subgroup ? '/sg' : ''}${t.channelsFirst ? '/cf' : ''}`;

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
 * The tiles the tuner tries, in two stages: register tiles in a workgroup of 64 along
 * pixels (what CPU adapters want), with weights shared by subgroup broadcast where the
 * adapter's subgroups are 8 wide (`subgroups`), then around the best of those, other
 * workgroup shapes, 2-D workgroups with shared-memory weight tiles and f16 arithmetic
 * (what GPUs want); last, the best in the other workgroup order (quick: stage 1).
 */
export function convCandidates(stage: number, best: ConvTile, cout4: number, pixels: number, f16: boolean, maxInvocations: number, quick = false, subgroups = false): ConvTile[] {
  const fits = (t: ConvTile) => t.tc4 <= Math.max(1, cout4) && t.tp <= Math.max(4, pixels) && t.wg * (t.wgc ?? 1) <= maxInvocations &&
    (t.wgc ?? 1) * t.tc4 <= Math.max(1, cout4) * 2 &&
    (!t.subgroup || (subgroups && (t.wgc ?? 1) === 1 && t.tc4 % 2 === 0 && t.wg % 8 === 0 && !t.shared && !t.half));
  let out: ConvTile[] = [];
  if (quick) {
    // a few candidates of every kind, for tests and a first look: the plain default (when the
    // subgroup one is the default), a smaller and a larger register tile (16 x 16 won on every
    // shape measured on lavapipe before the subgroup tiles, BENCHMARKS.md), and shared memory
    if (stage === 0) out = [{ ...DEFAULT_TILE }, { tp: 8, tc4: 1, wg: 64 }, { tp: 16, tc4: 4, wg: 64 }, { tp: 2, tc4: 1, wg: 64, wgc: 2, shared: true, kch: 4 }];
    if (stage === 0 && f16) out.push({ ...DEFAULT_TILE, half: true });
    // subgroup-shared weights, 4 or 8 pixels x 16 channels: 1.0-3.4x the 16 x 16 tile on ResNet-50 shapes on lavapipe (BENCHMARKS.md)
    if (stage === 0) out.push({ tp: 4, tc4: 4, wg: 64, subgroup: true }, { tp: 8, tc4: 4, wg: 64, subgroup: true });
    if (stage === 1) out = [flipOrder(best)];
  } else if (stage === 0) {
    // at most 64 vec4 accumulators: lavapipe took over 15 minutes (under load) to compile 32 x 16
    for (const tp of [4, 8, 16, 32]) for (const tc4 of [1, 2, 4]) if (tp * tc4 <= 64) out.push({ tp, tc4, wg: 64 });
    out.push({ tp: 8, tc4: 8, wg: 64 });
    // subgroup-shared weights: 16-32 vec4 accumulators win; 16 x 16 ran at a third of 8 x 16, 16 x 8 and 1 x 64 lost too
    for (const [tp, tc4] of [[4, 2], [8, 2], [2, 4], [4, 4], [8, 4], [2, 8], [4, 8]] as const) out.push({ tp, tc4, wg: 64, subgroup: true });
  } else if (stage === 1) {
    const { tp, tc4 } = best;
    out = [
      { ...best, wg: 16 }, { ...best, wg: 32 }, { ...best, wg: 128 }, { ...best, wg: 256 },
      { tp, tc4, wg: 64, wgc: 4 }, { tp: Math.max(1, tp / 4), tc4, wg: 64, wgc: 4, shared: true, kch: 4 },
      { tp: 4, tc4: 1, wg: 64, wgc: 4, shared: true, kch: 8 }, { tp: 2, tc4: 1, wg: 128, wgc: 2, shared: true, kch: 4 },
    ];
    if (f16) out.push({ ...best, half: true });
  } else if (stage === 2) {
    out = [flipOrder(best)];
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
  const ordered = (t: ConvTile): ConvTile => (t.channelsFirst === undefined ? { ...t, channelsFirst: channelsFirstByTraffic(cw, call.xShape, computed, t) } : t);
  if (call.tile) return prepareConv(ctx, cw, call, ordered(call.tile));
  const fallback = ordered(defaultTile(ctx, cout4, cw.f16));
  const tunable: Tunable = {
    key: convShapeClass(cw, call.xShape.c / 4, pixels, cw.f16),
    flops: 2 * pixels * cw.cout * cw.kh * cw.kw * cw.cin,
    defaultChoice: { ...fallback },
    candidates: (stage, best) => convCandidates(stage, ordered(best as unknown as ConvTile), cout4, pixels, cw.f16, ctx.gpu.limits.maxComputeInvocationsPerWorkgroup ?? 256, ctx.tuning.quick, ctx.subgroupsOf8)
      .map(ordered) as unknown as Record<string, number | boolean>[],
    prepare: (choice) => prepareConv(ctx, cw, call, ordered(choice as unknown as ConvTile)),
  };
  const tuned = ctx.tuning.choose<Record<string, number | boolean>>(tunable) as unknown as ConvTile | undefined;
  // a cached subgroup tile is only ever measured on an adapter that runs it; guard anyway
  return prepareConv(ctx, cw, call, tuned && (!tuned.subgroup || ctx.subgroupsOf8) ? ordered(tuned) : fallback);
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
  if (tile.subgroup && (wgc !== 1 || TC4 % 2 !== 0 || tile.shared || tile.half || !ctx.subgroupsOf8)) {
    throw new Error(`conv2d: tile ${convTileName(tile)} needs subgroups of 8, wgc 1, an even tc4 and neither shared nor half`);
  }
  const shared = perInput(call);
  const pixInv = Math.ceil((computedItems(call) * o.h * o.w) / TP);
  const [gx, gz] = splitGroups(Math.ceil(pixInv / wg));
  return ctx.prepare(
    {
      shader: 'conv2d.wgsl',
      defines: {
        CHANNELS_FIRST: !!tile.channelsFirst,
        PER_INPUT: shared,
        POINTWISE: cw.kh === 1 && cw.kw === 1 && cw.stride === 1 && cw.pad === 0 && call.inputItems === call.batch,
        MASKED: !!call.mask, RESIDUAL: !!call.residual, RELU: call.act === 'relu', GELU: call.act === 'gelu', TP, TC4,
        SHARED: !!tile.shared, ...(tile.shared ? { KCH: tile.kch ?? 4 } : {}), SUBGROUP: !!tile.subgroup,
        F16: f16, X_F16: !!call.xF16, Y_F16: !!call.yF16, HALF_MATH: !!tile.half && f16 && !!call.xF16,
      },
      constants: { WG: wg, WGC: wgc },
    },
    [uniformBuffer(ctx.device, params, 'conv.params'), call.x, cw.w, cw.scaleShift, call.y, call.mask?.keep, call.residual],
    tile.channelsFirst ? [Math.ceil(cout4 / (TC4 * wgc)), gx, gz] : [gx, Math.ceil(cout4 / (TC4 * wgc)), gz],
    `conv${cw.kh}x${cw.kw} ${convTileName(tile)}`,
  );
}
