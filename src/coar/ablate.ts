/**
 * Batched ablation: k masks x n examples through the engine, many masks per dispatch.
 * The batch shape is chosen from the network's memory needs and the device's limits.
 */
import { UserError } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import { BatchedNetwork, inputShapeElems, memoryPerItem, toDeviceLayout, type BatchShape } from '../models/batched.js';
import type { Network } from '../models/network.js';
import { memoryInputs, type ExampleInputs } from './example_inputs.js';
import { packMasks } from './masks.js';

export interface AblateOptions {
  /** also return logits [k, n, classes] */
  logits?: boolean;
  /** device memory for activations, bytes (default 1 GiB) */
  memoryBudget?: number;
  /** most items (mask x example pairs) per batch */
  maxItems?: number;
  onProgress?: (passesDone: number, passesTotal: number) => void;
}

export function planBatch(ctx: GpuContext, net: Network, n: number, k: number, opts: AblateOptions = {}): BatchShape {
  const mem = memoryPerItem(net);
  const budget = opts.memoryBudget ?? 1 << 30;
  const maxItems = Math.max(1, Math.min(
    Math.floor(ctx.maxBinding / mem.largest),
    Math.floor(budget / mem.peak),
    opts.maxItems ?? 1024,
  ));
  // the examples' inputs are one binding too: a cheap model on large images (a one-layer ViT on
  // 224 x 224) would otherwise take 1024 examples, 822 MB of input, past a 128 MiB binding limit
  const inBytes = inputShapeElems(net) * 4;
  if (inBytes > ctx.maxBinding) throw new UserError(`one example's input (${net.input.c} x ${net.input.h} x ${net.input.w}) is ${inBytes} bytes on the device, over the adapter's binding limit of ${ctx.maxBinding}`);
  const examples = Math.min(n, maxItems, Math.floor(ctx.maxBinding / inBytes));
  const masks = Math.max(1, Math.min(k, Math.floor(maxItems / examples)));
  return { masks, examples };
}

/**
 * A network and a fixed set of examples on the device, ready to evaluate any number of
 * masks: the sweep keeps one for its whole run.
 */
export class Ablator {
  readonly shape: BatchShape;
  private batched: BatchedNetwork;
  private inputs: ExampleInputs;
  private n: number;

  /** inputs: float32 NCHW [n, c, h, w] (in memory or streamed); labels [n]; `maxMasks`: most masks per call */
  constructor(private ctx: GpuContext, readonly net: Network, inputs: Float32Array | ExampleInputs, private labels: ArrayLike<number>, maxMasks: number, private opts: AblateOptions = {}) {
    this.n = labels.length;
    const { c, h, w } = net.input;
    this.inputs = inputs instanceof Float32Array ? memoryInputs(inputs, c * h * w) : inputs;
    this.shape = planBatch(ctx, net, this.n, maxMasks, opts);
    this.batched = new BatchedNetwork(ctx, net, this.shape);
  }

  /** masks: bool/uint8 [k, |C|], 1 = kept. Returns margins [k, n] (and logits [k, n, classes] if asked). */
  async run(masks: Uint8Array, k: number, onProgress?: (done: number, total: number) => void): Promise<{ margins: Float32Array; logits?: Float32Array }> {
    const { n, shape, net } = this;
    const C = net.components.size;
    const classes = net.classes;
    const margins = new Float32Array(k * n);
    const logits = this.opts.logits ? new Float32Array(k * n * classes) : undefined;
    const input = new Float32Array(inputShapeElems(net) * shape.examples);
    const lab = new Uint32Array(shape.examples);
    const bits = new Uint32Array(this.batched.words * shape.masks);
    let done = 0;
    for (let e0 = 0; e0 < n; e0 += shape.examples) {
      const ne = Math.min(shape.examples, n - e0);
      // a streamed set is read here, one batch of examples at a time
      toDeviceLayout(net, this.inputs.chunk(e0, ne), 0, ne, input);
      lab.fill(0);
      for (let i = 0; i < ne; i++) lab[i] = this.labels[e0 + i]!;
      for (let m0 = 0; m0 < k; m0 += shape.masks) {
        const nm = Math.min(shape.masks, k - m0);
        packMasks(masks, C, m0, nm, bits);
        const r = await this.batched.run(input, lab, bits, !!logits);
        for (let m = 0; m < nm; m++) {
          for (let e = 0; e < ne; e++) {
            const item = m * shape.examples + e;
            const out = (m0 + m) * n + e0 + e;
            margins[out] = r.margins[item]!;
            if (logits) logits.set(r.logits!.subarray(item * classes, (item + 1) * classes), out * classes);
          }
        }
        done += nm * ne;
        onProgress?.(done, k * n);
      }
    }
    return { margins, logits };
  }

  destroy(): void {
    this.batched.destroy();
  }
}

/** One-off: evaluate k masks on n examples. */
export async function ablate(ctx: GpuContext, net: Network, inputs: Float32Array | ExampleInputs, labels: ArrayLike<number>, masks: Uint8Array, k: number, opts: AblateOptions = {}): Promise<{ margins: Float32Array; logits?: Float32Array }> {
  const a = new Ablator(ctx, net, inputs, labels, k, opts);
  try {
    return await a.run(masks, k, opts.onProgress);
  } finally {
    a.destroy();
  }
}
