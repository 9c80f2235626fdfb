/**
 * Kernels of the 2-layer network estimators (shaders/net_*.wgsl): shapes in, dispatches out.
 * The caller owns every buffer, the uniform parameter blocks included (one per batch shape).
 */
import { splitGroups, type Dispatch, type GpuContext } from '../gpu/context.js';

const WG = 64;

function groups(invocations: number): [number, number] { return splitGroups(Math.ceil(invocations / WG)); }

/** The shapes one dispatch of net_train.wgsl sees (the Params block). */
export interface NetShape {
  /** rows in this batch */
  rows: number;
  /** first entry of the row order for this batch */
  row0: number;
  components: number;
  /** u32 words per packed mask row */
  words: number;
  /** hidden units / 4, all groups */
  d4: number;
  /** hidden units one example reads / 4 */
  g4: number;
  examples: number;
  /** u32 words per component in the batch's transposed bits */
  bwords: number;
}

export function netParams(s: NetShape): ArrayBuffer {
  const w = new ArrayBuffer(48);
  new Uint32Array(w, 0, 8).set([s.rows, s.row0, s.components, s.words, s.d4, s.g4, s.examples, s.bwords]);
  new Float32Array(w, 32, 1)[0] = 1 / Math.max(1, s.rows);
  return w;
}

/** Buffers of one network and its training state, as net_train.wgsl binds them. */
export interface NetBuffers {
  bits: GPUBuffer; rowIdx: GPUBuffer; tbits: GPUBuffer; invStd: GPUBuffer; meanU: GPUBuffer;
  w1: GPUBuffer; b1: GPUBuffer; w2: GPUBuffer; b2: GPUBuffer;
  q: GPUBuffer; h: GPUBuffer; targets: GPUBuffer; dy: GPUBuffer; dpre: GPUBuffer;
  gw1: GPUBuffer; gb1: GPUBuffer; gw2: GPUBuffer; gb2: GPUBuffer;
}

export interface NetVariant { relu: boolean; grouped: boolean }

/** One entry point of net_train.wgsl with the buffers it binds. */
export function netDispatch(ctx: GpuContext, entry: string, v: NetVariant, uniform: GPUBuffer, b: Partial<NetBuffers>, invocations: number): Dispatch {
  return ctx.prepare({ shader: 'net_train.wgsl', entry, constants: { WG, RELU: v.relu ? 1 : 0, GROUPED: v.grouped ? 1 : 0 } },
    [uniform, b.bits, b.rowIdx, b.tbits, b.invStd, b.meanU, b.w1, b.b1, b.w2, b.b2, b.q, b.h, b.targets, b.dy, b.dpre, b.gw1, b.gb1, b.gw2, b.gb2],
    groups(invocations), `net ${entry}`);
}

/** The forward pass of the first layer: q (the layer's output for an all-zero bit row), then h for the batch rows. */
export function forwardHidden(ctx: GpuContext, v: NetVariant, s: NetShape, uniform: GPUBuffer, b: Pick<NetBuffers, 'bits' | 'rowIdx' | 'invStd' | 'meanU' | 'w1' | 'b1' | 'q' | 'h'>): Dispatch[] {
  return [
    netDispatch(ctx, 'shift', v, uniform, { invStd: b.invStd, meanU: b.meanU, w1: b.w1, b1: b.b1, q: b.q }, s.d4),
    netDispatch(ctx, 'hidden', v, uniform, { bits: b.bits, rowIdx: b.rowIdx, invStd: b.invStd, w1: b.w1, q: b.q, h: b.h }, s.rows * s.d4),
  ];
}

/** One minibatch's gradient of 0.5 * mean squared error (per example, summed over examples) into gw1, gb1, gw2, gb2. */
export function gradientStep(ctx: GpuContext, v: NetVariant, s: NetShape, uniform: GPUBuffer, b: NetBuffers): Dispatch[] {
  return [
    netDispatch(ctx, 'transpose_bits', v, uniform, { bits: b.bits, rowIdx: b.rowIdx, tbits: b.tbits }, s.components * s.bwords),
    ...forwardHidden(ctx, v, s, uniform, b),
    netDispatch(ctx, 'output', v, uniform, { rowIdx: b.rowIdx, w2: b.w2, b2: b.b2, h: b.h, targets: b.targets, dy: b.dy }, s.rows * s.examples),
    netDispatch(ctx, 'grad_w2', v, uniform, { h: b.h, dy: b.dy, gw2: b.gw2, gb2: b.gb2 }, s.examples * s.g4),
    netDispatch(ctx, 'grad_hidden', v, uniform, { w2: b.w2, h: b.h, dy: b.dy, dpre: b.dpre }, s.rows * s.d4),
    netDispatch(ctx, 'grad_b1', v, uniform, { dpre: b.dpre, gb1: b.gb1 }, s.d4),
    netDispatch(ctx, 'grad_w1', v, uniform, { tbits: b.tbits, invStd: b.invStd, meanU: b.meanU, dpre: b.dpre, gw1: b.gw1, gb1: b.gb1 }, s.components * s.d4),
  ];
}

export interface AdamConfig { lr: number; beta1: number; beta2: number; eps: number }

export function adamParams(count4: number, c: AdamConfig, weightDecay: number): ArrayBuffer {
  const w = new ArrayBuffer(32);
  new Uint32Array(w, 0, 1)[0] = count4;
  new Float32Array(w, 4, 5).set([c.lr, c.beta1, c.beta2, c.eps, weightDecay]);
  return w;
}

/** Advance the step counter that adamUpdate reads (once per step, before the updates). */
export function adamTick(ctx: GpuContext, counter: GPUBuffer): Dispatch {
  return ctx.prepare({ shader: 'net_adam.wgsl', entry: 'tick' }, [undefined, undefined, undefined, undefined, undefined, undefined, counter], [1], 'net adam tick');
}

/** One AdamW update of a parameter tensor of count4 vec4s from its gradient. */
export function adamUpdate(ctx: GpuContext, count4: number, uniform: GPUBuffer, t: { param: GPUBuffer; grad: GPUBuffer; m1: GPUBuffer; m2: GPUBuffer; counter: GPUBuffer }): Dispatch {
  return ctx.prepare({ shader: 'net_adam.wgsl', entry: 'adam', constants: { WG } }, [uniform, t.param, t.grad, t.m1, t.m2, t.counter], groups(count4), 'net adam');
}

/** The shapes net_linear.wgsl sees. */
export interface LinearShape { components: number; d4: number; g4: number; examples: number; n4: number; rows: number; row0: number }

export function linearParams(s: LinearShape): ArrayBuffer {
  return new Uint32Array([s.components, s.d4, s.g4, s.examples, s.n4, s.rows, s.row0, 0]).buffer;
}

function linear(ctx: GpuContext, entry: string, grouped: boolean, uniform: GPUBuffer, b: (GPUBuffer | undefined)[], invocations: number): Dispatch {
  return ctx.prepare({ shader: 'net_linear.wgsl', entry, constants: { WG, GROUPED: grouped ? 1 : 0 } }, [uniform, ...b], groups(invocations), `net ${entry}`);
}

/** The linear model of the network without its ReLU: linW [C x n4] = W2 W1 per example, linB [n4] = W2 b1 + b2. */
export function extractLinear(ctx: GpuContext, grouped: boolean, s: LinearShape, uniform: GPUBuffer,
  b: { w1: GPUBuffer; b1: GPUBuffer; w2: GPUBuffer; b2: GPUBuffer; linW: GPUBuffer; linB: GPUBuffer }): Dispatch {
  return linear(ctx, 'extract', grouped, uniform, [b.w1, b.b1, b.w2, b.b2, b.linW, b.linB], (s.components + 1) * s.n4);
}

/** Per example over `rows` rows (through rowIdx from row0): sums of p, t, p^2, t^2, p t into out [5 x n4]. */
export function predictionMoments(ctx: GpuContext, s: LinearShape, uniform: GPUBuffer, b: { pred: GPUBuffer; targets: GPUBuffer; rowIdx: GPUBuffer; out: GPUBuffer }): Dispatch {
  return linear(ctx, 'moments', true, uniform, [undefined, undefined, undefined, undefined, undefined, undefined, b.pred, b.targets, b.rowIdx, b.out], s.n4);
}

/** best <- current for the examples whose flag is 1. */
export function keepFlagged(ctx: GpuContext, s: LinearShape, uniform: GPUBuffer, b: { flags: GPUBuffer; curW: GPUBuffer; curB: GPUBuffer; bestW: GPUBuffer; bestB: GPUBuffer }): Dispatch {
  return linear(ctx, 'keep', true, uniform, [undefined, undefined, undefined, undefined, b.bestW, b.bestB, undefined, undefined, undefined, undefined, b.flags, b.curW, b.curB], (s.components + 1) * s.n4);
}

/** out = a + d x elementwise on [rows x n4] (shared_prior.wgsl). */
export function addPenalty(ctx: GpuContext, uniform: GPUBuffer, rows: number, n4: number, b: { a: GPUBuffer; x: GPUBuffer; d: GPUBuffer; out: GPUBuffer }): Dispatch {
  return ctx.prepare({ shader: 'shared_prior.wgsl', constants: { WG } }, [uniform, b.a, b.x, b.d, b.out], groups(rows * n4), 'shared prior term');
}
