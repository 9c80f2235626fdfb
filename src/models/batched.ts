/**
 * A network laid out on the device for a fixed batch: `masks` ablation masks times
 * `examples` examples, one item per (mask, example) pair, mask-major. Buffers are
 * assigned by liveness (a tensor's buffer returns to the pool after its last reader)
 * and every dispatch is prepared once, then replayed for each batch.
 */
import { readBuffer, uploadBuffer } from '../gpu/buffers.js';
import { encodeDispatches, type Dispatch, type GpuContext } from '../gpu/context.js';
import { margin } from '../kernels/margin.js';
import { expandedLayout, maskExpand, uploadComponentMap } from '../kernels/mask_expand.js';
import { tunePending } from '../kernels/tune.js';
import { INPUT, inputShape, type Network, type Op, type OpEnv } from './network.js';

export interface BatchShape { masks: number; examples: number }

/** u32 words per bit-packed mask row. */
export const maskWords = (components: number) => Math.max(1, Math.ceil(components / 32));

export class BatchedNetwork {
  readonly items: number;
  readonly words: number;
  private dispatches: Dispatch[] = [];
  private owned: GPUBuffer[] = [];
  private pooled: GPUBuffer[] = [];
  private input: GPUBuffer;
  private bits: GPUBuffer;
  private labels: GPUBuffer;
  private margins: GPUBuffer;
  private logits: GPUBuffer;
  private logitStride: number;
  private env: OpEnv;
  private first: Dispatch;
  private last: Dispatch;
  private opDispatches: Dispatch[][] = [];
  private tuned = false;

  constructor(private ctx: GpuContext, readonly net: Network, readonly shape: BatchShape) {
    const { device, pool } = ctx;
    this.items = shape.masks * shape.examples;
    this.words = maskWords(net.components.size);
    const inElems = inputShapeElems(net);
    this.input = device.createBuffer({ size: inElems * shape.examples * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST, label: 'input' });
    this.bits = device.createBuffer({ size: this.words * shape.masks * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST, label: 'maskBits' });
    this.labels = device.createBuffer({ size: Math.max(16, shape.examples * 4), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST, label: 'labels' });
    this.margins = device.createBuffer({ size: Math.max(16, this.items * 4), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC, label: 'margins' });
    this.owned.push(this.input, this.bits, this.labels, this.margins);
    const layout = expandedLayout(net.components.groups);
    const componentMap = uploadComponentMap(ctx, layout.component);
    const keep = device.createBuffer({ size: layout.width * shape.masks * 4, usage: GPUBufferUsage.STORAGE, label: 'maskKeep' });
    this.owned.push(componentMap, keep);
    this.first = maskExpand(ctx, this.bits, this.words, shape.masks, componentMap, layout.width, keep);
    const start4 = (offset: number) => {
      const s = layout.starts.get(offset);
      if (s === undefined) throw new Error(`no component group starts at ${offset}`);
      return s / 4;
    };

    // liveness: last op index reading each tensor
    const lastUse = new Map<string, number>();
    net.ops.forEach((op, i) => op.inputs.forEach((t) => lastUse.set(t, i)));
    lastUse.set(net.logits, Infinity);
    const buffers = new Map<string, GPUBuffer>([[INPUT, this.input]]);
    const sizes = new Map<string, number>();
    const half = ctx.precision === 'f16';
    const f16 = (name: string) => half && name !== INPUT && name !== net.logits;
    const env: OpEnv = {
      ctx, batch: this.items, inputItems: shape.examples,
      mask: { keep, stride4: layout.width / 4, itemsPerMask: shape.examples, start4 },
      buf: (name: string) => {
        const b = buffers.get(name);
        if (!b) throw new Error(`tensor ${name} used before it is written`);
        return b;
      },
      f16,
    };
    this.env = env;
    net.ops.forEach((op, i) => {
      const bytes = op.outElems * this.items * (f16(op.output) ? 2 : 4);
      if (bytes > ctx.maxBinding) throw new Error(`${op.label}: ${bytes} bytes exceed the binding limit; use a smaller batch`);
      const out = pool.acquire(bytes, op.output);
      this.pooled.push(out);
      buffers.set(op.output, out);
      sizes.set(op.output, op.outElems);
      this.opDispatches.push(op.encode(env));
      for (const t of new Set(op.inputs)) {
        if (t !== INPUT && lastUse.get(t) === i) pool.release(buffers.get(t)!);
      }
    });
    this.logits = buffers.get(net.logits)!;
    this.logitStride = sizes.get(net.logits)!;
    this.last = margin(ctx, this.logits, net.classes, this.logitStride, this.labels, shape.examples, this.margins, this.items);
    this.dispatches = [this.first, ...this.opDispatches.flat(), this.last];
  }

  get dispatchCount(): number { return this.dispatches.length; }

  /** Every op with its dispatches (for the profiler), after the mask expansion; the margin last. */
  get schedule(): { op: Op | undefined; label: string; dispatches: Dispatch[] }[] {
    return [
      { op: undefined, label: 'mask_expand', dispatches: [this.first] },
      ...this.net.ops.map((op, i) => ({ op, label: op.label, dispatches: this.opDispatches[i]! })),
      { op: undefined, label: 'margin', dispatches: [this.last] },
    ];
  }

  /**
   * Measure the tiles of shape classes the tuning cache lacks (only when the context was
   * opened with tune or retune), then prepare every dispatch again with the tuned tiles.
   * Runs once; `run` calls it.
   */
  async tune(onDone?: Parameters<typeof tunePending>[1], onCandidate?: Parameters<typeof tunePending>[2]): Promise<void> {
    if (this.tuned) return;
    this.tuned = true;
    if (this.ctx.tuning.mode === 'cached') return;
    const done = await tunePending(this.ctx, onDone, onCandidate);
    if (!done.length) return;
    this.opDispatches = this.net.ops.map((op) => op.encode(this.env));
    this.dispatches = [this.first, ...this.opDispatches.flat(), this.last];
  }

  /**
   * Run one batch. `input`: NHWC, channels padded, `shape.examples` images (pad with
   * zeros past the real ones); `labels`: one per example; `bits`: `shape.masks` packed
   * rows. Returns margins [masks, examples] and, if asked, logits [masks, examples, classes].
   */
  async run(input: Float32Array, labels: Uint32Array, bits: Uint32Array, wantLogits = false): Promise<{ margins: Float32Array; logits?: Float32Array }> {
    await this.tune();
    const q = this.ctx.device.queue;
    q.writeBuffer(this.input, 0, input);
    q.writeBuffer(this.labels, 0, labels);
    q.writeBuffer(this.bits, 0, bits);
    const enc = this.ctx.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    encodeDispatches(pass, this.dispatches);
    pass.end();
    q.submit([enc.finish()]);
    const margins = new Float32Array(await readBuffer(this.ctx.device, this.margins, this.items * 4));
    if (!wantLogits) return { margins };
    const raw = new Float32Array(await readBuffer(this.ctx.device, this.logits, this.items * this.logitStride * 4));
    const c = this.net.classes;
    const logits = new Float32Array(this.items * c);
    for (let i = 0; i < this.items; i++) logits.set(raw.subarray(i * this.logitStride, i * this.logitStride + c), i * c);
    return { margins, logits };
  }

  destroy(): void {
    this.owned.forEach((b) => b.destroy());
    this.pooled.forEach((b) => this.ctx.pool.release(b));
  }
}

export function inputShapeElems(net: Network): number {
  const s = inputShape(net);
  return s.h * s.w * s.c;
}

/** Bytes per item at the peak of the liveness schedule, and the largest single tensor. */
export function memoryPerItem(net: Network): { peak: number; largest: number } {
  const lastUse = new Map<string, number>();
  net.ops.forEach((op, i) => op.inputs.forEach((t) => lastUse.set(t, i)));
  const live = new Map<string, number>();
  let peak = 0, largest = 0;
  net.ops.forEach((op, i) => {
    live.set(op.output, op.outElems * 4);
    largest = Math.max(largest, op.outElems * 4);
    peak = Math.max(peak, [...live.values()].reduce((a, b) => a + b, 0));
    for (const t of op.inputs) if (lastUse.get(t) === i && t !== net.logits) live.delete(t);
  });
  return { peak, largest };
}

/** Convert NCHW float32 images to the device layout (NHWC, channels padded to 4). */
export function toDeviceLayout(net: Network, nchw: Float32Array, first: number, count: number, out: Float32Array): void {
  const { c, h, w } = net.input;
  const s = inputShape(net);
  const per = c * h * w;
  out.fill(0);
  for (let n = 0; n < count; n++) {
    const src = (first + n) * per;
    const dst = n * s.h * s.w * s.c;
    for (let ch = 0; ch < c; ch++) {
      for (let p = 0; p < h * w; p++) out[dst + p * s.c + ch] = nchw[src + ch * h * w + p]!;
    }
  }
}
