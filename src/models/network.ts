/**
 * A model as the engine runs it: a sequence of ops over named per-item tensors, the
 * component table, and the input and output it expects. Every op reads and writes
 * whole batches of items (an item = one example under one mask), so many ablated
 * copies of the model run in each dispatch.
 */
import type { Dispatch, GpuContext } from '../gpu/context.js';
import { ceil4, conv2d, convOutShape, type Activation, type ConvWeights, type MapShape, type MaskBinding } from '../kernels/conv2d.js';
import { pool, poolOutShape, type PoolSpec } from '../kernels/pool.js';
import type { ComponentTable } from './components.js';

/** The name of the model input tensor (it holds examples, not items: see `inputItems`). */
export const INPUT = 'input';

export interface OpEnv {
  ctx: GpuContext;
  /** the buffer of a tensor */
  buf(name: string): GPUBuffer;
  /** items in the batch (masks x examples) */
  batch: number;
  /** examples in the batch: items read example `item % inputItems` of INPUT */
  inputItems: number;
  mask: MaskBinding;
  /** whether a tensor is stored as f16 (precision f16: every activation but the input and the logits) */
  f16(name: string): boolean;
}

export interface Op {
  label: string;
  inputs: string[];
  output: string;
  /** floats per item of the output */
  outElems: number;
  /** floating-point operations per item, 2 per multiply-add */
  flops: number;
  /** the kernel does its multiply-adds once per input image, not per item (conv2d's perInput: the first conv) */
  perInput?: boolean;
  /** activation elements read per item (the least any kernel must read), and weight bytes read once per dispatch in f32 */
  readElems?: number;
  weightBytes?: number;
  /** for profiles and traces: what the kernel computes, and its dimensions (per item) */
  kind?: OpKind;
  shape?: Record<string, number>;
  encode(env: OpEnv): Dispatch[];
}

/** gemm: a linear layer (a 1x1 conv over a single row of tokens or one pixel); conv: a convolution over a map */
export type OpKind = 'conv' | 'gemm' | 'pool' | 'attention' | 'layernorm' | 'tokens' | 'copy';

export interface Network {
  arch: string;
  components: ComponentTable;
  /** the input as users give it: [channels, height, width]; on the device NHWC, channels padded to 4 */
  input: { c: number; h: number; w: number };
  classes: number;
  ops: Op[];
  /** the tensor holding logits, rows padded to a multiple of 4 */
  logits: string;
  /** release device buffers */
  destroy(): void;
}

export const elemsOf = (s: MapShape) => s.h * s.w * s.c;

export function inputShape(net: Network): MapShape {
  return { h: net.input.h, w: net.input.w, c: Math.ceil(net.input.c / 4) * 4 };
}

/** A convolution (or linear layer on a 1x1 map) with its fused epilogue. */
export function convOp(a: {
  label: string; cw: ConvWeights; input: string; inShape: MapShape; output: string;
  residual?: string; act: Activation; componentOffset?: number;
}): Op & { outShape: MapShape } {
  const outShape = convOutShape(a.cw, a.inShape);
  return {
    label: a.label,
    inputs: a.residual ? [a.input, a.residual] : [a.input],
    output: a.output,
    outShape,
    outElems: elemsOf(outShape),
    flops: 2 * outShape.h * outShape.w * a.cw.cout * a.cw.kh * a.cw.kw * a.cw.cin,
    perInput: a.input === INPUT,
    ...convKind(a.cw, a.inShape, outShape),
    readElems: elemsOf(a.inShape) + (a.residual ? elemsOf(outShape) : 0),
    weightBytes: a.cw.kh * a.cw.kw * ceil4(a.cw.cin) * outShape.c * 4,
    encode: (env) => [conv2d(env.ctx, a.cw, {
      xF16: env.f16(a.input), yF16: env.f16(a.output),
      x: env.buf(a.input), xShape: a.inShape, inputItems: a.input === INPUT ? env.inputItems : env.batch,
      y: env.buf(a.output), batch: env.batch,
      mask: a.componentOffset === undefined ? undefined : { ...env.mask, offset: a.componentOffset },
      residual: a.residual ? env.buf(a.residual) : undefined,
      act: a.act,
    })],
  };
}

/** A 1x1 conv over one row of tokens (or one pixel) is a GEMM: m rows (tokens) x n outputs x k inputs. */
function convKind(cw: ConvWeights, i: MapShape, o: MapShape): Pick<Op, 'kind' | 'shape'> {
  if (cw.kh === 1 && cw.kw === 1 && i.h === 1 && cw.stride === 1) return { kind: 'gemm', shape: { m: o.h * o.w, n: cw.cout, k: cw.cin } };
  return { kind: 'conv', shape: { h: i.h, w: i.w, cin: cw.cin, cout: cw.cout, kh: cw.kh, kw: cw.kw, stride: cw.stride, pad: cw.pad, oh: o.h, ow: o.w } };
}

export function poolOp(a: { label: string; spec: PoolSpec; input: string; inShape: MapShape; output: string }): Op & { outShape: MapShape } {
  const outShape = poolOutShape(a.spec, a.inShape);
  return {
    label: a.label,
    inputs: [a.input],
    output: a.output,
    outShape,
    outElems: elemsOf(outShape),
    flops: elemsOf(outShape) * a.spec.k * a.spec.k,
    kind: 'pool', shape: { h: a.inShape.h, w: a.inShape.w, c: a.inShape.c, k: a.spec.k, stride: a.spec.stride, oh: outShape.h, ow: outShape.w },
    readElems: elemsOf(a.inShape),
    encode: (env) => [pool(env.ctx, a.spec, env.buf(a.input), a.inShape, env.buf(a.output), env.batch, env.f16(a.input))],
  };
}

export function networkFlops(net: Network): number {
  return net.ops.reduce((s, o) => s + o.flops, 0);
}
