/**
 * conv2d.wgsl: convolution (any kernel, stride, padding) with the COAR epilogue fused:
 * component mask, eval-mode BatchNorm (or bias), residual add, ReLU. A linear layer is
 * the same kernel on a 1x1 map.
 */
import { uniformBuffer, uploadBuffer } from '../gpu/buffers.js';
import { splitGroups, type Dispatch, type GpuContext } from '../gpu/context.js';

export const ceil4 = (n: number) => Math.ceil(n / 4) * 4;

/** A convolution's weights on the device, in the layout the kernel reads. */
export interface ConvWeights {
  w: GPUBuffer;          // [KH, KW, Cin4*4, Cout4*4], zero-padded
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
  return {
    w: uploadBuffer(ctx.device, t, `${label}.w`),
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
  tile?: ConvTile;
}

export function convOutShape(cw: ConvWeights, s: MapShape): MapShape {
  return {
    h: Math.floor((s.h + 2 * cw.pad - cw.kh) / cw.stride) + 1,
    w: Math.floor((s.w + 2 * cw.pad - cw.kw) / cw.stride) + 1,
    c: ceil4(cw.cout),
  };
}

/** Work of one invocation (TP output pixels x 4*TC4 output channels) and of one workgroup. */
export interface ConvTile { tp: number; tc4: number; wg: number }
export const DEFAULT_TILE: ConvTile = { tp: 16, tc4: 2, wg: 64 };

export function conv2d(ctx: GpuContext, cw: ConvWeights, call: ConvCall): Dispatch {
  const o = convOutShape(cw, call.xShape);
  const cout4 = o.c / 4;
  const params = [
    call.batch, call.xShape.h, call.xShape.w, call.xShape.c / 4,
    o.h, o.w, cout4,
    cw.kh, cw.kw, cw.stride, cw.pad,
    call.inputItems, call.mask?.itemsPerMask ?? 1, call.mask?.stride4 ?? 0, call.mask ? call.mask.start4(call.mask.offset) : 0,
  ];
  const { tp: TP, tc4: TC4, wg } = call.tile ?? DEFAULT_TILE;
  const pixInv = Math.ceil((call.batch * o.h * o.w) / TP);
  const [gx, gz] = splitGroups(Math.ceil(pixInv / wg));
  return ctx.prepare(
    {
      shader: 'conv2d.wgsl',
      defines: { MASKED: !!call.mask, RESIDUAL: !!call.residual, RELU: call.act === 'relu', GELU: call.act === 'gelu', TP, TC4 },
      constants: { WG: wg },
    },
    [uniformBuffer(ctx.device, params, 'conv.params'), call.x, cw.w, cw.scaleShift, call.y, call.mask?.keep, call.residual],
    [gx, Math.ceil(cout4 / TC4), gz],
    `conv${cw.kh}x${cw.kw}`,
  );
}
