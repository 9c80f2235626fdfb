/**
 * A 2-layer ReLU network on ablation masks, trained on the device by minibatch AdamW, and
 * the linear model read off its weights (seed 004, Karchmer): drop the ReLU and take
 *   w = W2 W1,  b = W2 b1 + b2.
 * One output per example. `grouped`: each example has its own hidden units (its own
 * network, the seed's estimator); otherwise all examples read one shared hidden layer
 * (the `shared` estimator). Inputs are the standardized masks (REFERENCE.md, "Regression"),
 * visited as bits (shaders/net_train.wgsl); targets are given already standardized.
 *
 * Early stopping is per example and on the extracted linear model, the thing we keep: after
 * each epoch the linear model is read off, scored on held-out rows, and each example keeps
 * its best so far. A refit on all rows keeps each example's model at a given epoch instead.
 */
import type { Dispatch, GpuContext } from '../../gpu/context.js';
import { uniformBuffer } from '../../gpu/buffers.js';
import {
  adamParams, adamTick, adamUpdate, extractLinear, forwardHidden, gradientStep, keepFlagged, linearParams, netParams, predictionMoments,
  type LinearShape, type NetBuffers, type NetShape, type NetVariant,
} from '../../kernels/net.js';
import { transposeMasks, type PackedMasks } from '../fit_masks.js';
import { lowbias32 } from '../masks.js';
import { Arena, readF32, run } from '../fit/arena.js';
import { checkBitsFit, checkedOnDevice } from './common.js';

export interface NetworkSpec {
  /** hidden units: per example when grouped, in all otherwise (rounded up to a multiple of 4) */
  hidden: number;
  grouped: boolean;
  relu: boolean;
}

export interface TrainSpec {
  lr: number;
  weightDecay: number;
  batch: number;
  /** most epochs */
  epochs: number;
  /** stop when no example's validation error improved for this many epochs */
  patience: number;
  seed: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
}

/** Network weights in host memory: w1 component-major [C x D] (PyTorch's W1 transposed), b1 [D], w2 [n x G], b2 [n]. */
export interface NetworkWeights { w1: Float32Array; b1: Float32Array; w2: Float32Array; b2: Float32Array }

export interface TrainInput {
  masks: PackedMasks;
  /** [rows x n], standardized per example */
  targets: Float32Array;
  examples: number;
  /** rows [start, end) trained on; the masks are standardized with these rows' statistics */
  train: [number, number];
  /** rows [start, end) that choose each example's epoch */
  validate?: [number, number];
  /** instead of validation: per example, the epoch whose linear model to keep */
  keepAt?: Int32Array;
  /** start from these weights (default: PyTorch-style uniform initialisation from spec.seed) */
  init?: NetworkWeights;
  /** the row order of each epoch, as indices into the train range (default: epochOrder) */
  order?: (epoch: number) => Uint32Array;
  progress?: (message: string) => void;
}

export interface TrainOutput {
  /** the kept linear models in standardized units: w [C x n] row-major, b [n] */
  linW: Float32Array;
  linB: Float32Array;
  /** statistics of the packed bits over the train rows */
  meanU: Float64Array;
  invStd: Float64Array;
  /** per example: the least-squares factor applied to the read-off model */
  scale: Float64Array;
  /** per example: the epoch kept, and 1 - its validation Pearson correlation (Infinity without validation) */
  epoch: Int32Array;
  error: Float64Array;
  epochs: number;
  steps: number;
  weights: NetworkWeights;
}

export const ceil4 = (x: number) => Math.ceil(x / 4) * 4;

/** Training steps between two validation reads (at least one epoch). */
const CHECK_STEPS = 16;

/** A uniform number in [0, 1) from (seed, stream, index): counter-based, so any value can be regenerated alone. */
function uniform01(seed: number, stream: number, i: number): number {
  return lowbias32(lowbias32(lowbias32(seed >>> 0 ^ 0x243f6a88) ^ stream) ^ i) / 2 ** 32;
}

/** The row order of an epoch: a Fisher-Yates shuffle of 0..rows-1 driven by (seed, epoch). */
export function epochOrder(seed: number, epoch: number, rows: number): Uint32Array {
  const order = Uint32Array.from({ length: rows }, (_, i) => i);
  for (let i = rows - 1; i > 0; i--) {
    const j = Math.floor(uniform01(seed, 0x10000 + epoch, i) * (i + 1));
    const t = order[i]!; order[i] = order[j]!; order[j] = t;
  }
  return order;
}

/** Hidden units in all and per example, each a multiple of 4. */
export function networkSize(spec: NetworkSpec, examples: number): { hidden: number; perExample: number } {
  const g = ceil4(spec.hidden);
  return { hidden: spec.grouped ? g * examples : g, perExample: g };
}

/** PyTorch's nn.Linear initialisation: every weight and bias uniform in +-1/sqrt(fan in). */
export function initialWeights(spec: NetworkSpec, components: number, examples: number, seed: number): NetworkWeights {
  const { hidden: D, perExample: G } = networkSize(spec, examples);
  const fill = (count: number, stream: number, bound: number) =>
    Float32Array.from({ length: count }, (_, i) => (2 * uniform01(seed, stream, i) - 1) * bound);
  return {
    w1: fill(components * D, 1, 1 / Math.sqrt(components)),
    b1: fill(D, 2, 1 / Math.sqrt(components)),
    w2: fill(examples * G, 3, 1 / Math.sqrt(G)),
    b2: fill(examples, 4, 1 / Math.sqrt(G)),
  };
}

/** Mean and 1/std of each component's packed bit over rows [start, end) (0 for a constant column, as the regression's design, fit/design.ts). */
export function bitStatistics(masks: PackedMasks, start: number, end: number): { meanU: Float64Array; invStd: Float64Array } {
  const rows = end - start;
  const meanU = transposeMasks(masks, start, end).counts.map((c) => c / rows);
  const invStd = meanU.map((mu) => { const sd = Math.sqrt(mu * (1 - mu)); return sd > 1e-12 ? 1 / sd : 0; });
  return { meanU, invStd };
}

/** Per example, from sums of p, t, p^2, t^2, p t over `rows` rows: Pearson r, and the least-squares t ~ scale p + intercept. */
function momentsOf(sums: Float32Array, n: number, n4: number, rows: number) {
  const pearson = new Float64Array(n), scale = new Float64Array(n), intercept = new Float64Array(n);
  for (let c = 0; c < n; c++) {
    const [sp, st, spp, stt, spt] = [0, 1, 2, 3, 4].map((k) => sums[k * n4 * 4 + c]!) as [number, number, number, number, number];
    const vp = spp - (sp * sp) / rows, vt = stt - (st * st) / rows, cpt = spt - (sp * st) / rows;
    pearson[c] = vp > 0 && vt > 0 ? cpt / Math.sqrt(vp * vt) : NaN;
    scale[c] = vp > 0 ? cpt / vp : 0;
    intercept[c] = (st - scale[c]! * sp) / rows;
  }
  return { pearson, scale, intercept };
}

export async function trainNetwork(ctx: GpuContext, spec: NetworkSpec, train: TrainSpec, input: TrainInput): Promise<TrainOutput> {
  const { masks, examples: n } = input;
  const C = masks.components;
  const m = masks.rows;
  const [t0, t1] = input.train;
  const mt = t1 - t0;
  if (!(t0 >= 0 && t1 <= m && mt >= 1)) throw new Error(`train rows [${t0}, ${t1}) outside the ${m} mask rows`);
  if (input.targets.length !== m * n) throw new Error(`targets hold ${input.targets.length} values, expected ${m} x ${n}`);
  const { hidden: D, perExample: G } = networkSize(spec, n);
  const d4 = D / 4, g4 = G / 4, n4 = Math.ceil(n / 4);
  const B = Math.min(train.batch, mt);
  const bwords = Math.ceil(B / 32);
  const words = masks.wordsPerRow;
  const variant: NetVariant = { relu: spec.relu, grouped: spec.grouped };
  const init = input.init ?? initialWeights(spec, C, n, train.seed);
  const adam = { lr: train.lr, beta1: train.beta1 ?? 0.9, beta2: train.beta2 ?? 0.999, eps: train.eps ?? 1e-8 };
  const stats = bitStatistics(masks, t0, t1);

  checkBitsFit(ctx, masks, spec.grouped ? 'extracted' : 'shared');
  const arena = new Arena(ctx);
  const device = ctx.device;
  const uniform = (data: ArrayBuffer, label: string) => arena.uniform(uniformBuffer(device, new Uint32Array(data), label));
  return checkedOnDevice(ctx, 'training the network', async () => {
    try {
      const padded = (a: Float32Array, len: number) => { const p = new Float32Array(len); p.set(a); return p; };
      const b: NetBuffers = {
        bits: arena.upload(masks.bits.subarray(0, m * words), 'net mask bits'),
        rowIdx: arena.create(m * 4, 'net row order'),
        tbits: arena.create(C * bwords * 4, 'net batch bits by component'),
        invStd: arena.upload(Float32Array.from(stats.invStd), 'net inv std'),
        meanU: arena.upload(Float32Array.from(stats.meanU), 'net mean'),
        w1: arena.upload(init.w1, 'net w1'),
        b1: arena.upload(init.b1, 'net b1'),
        w2: arena.upload(init.w2, 'net w2'),
        b2: arena.upload(padded(init.b2, n4 * 4), 'net b2'),
        q: arena.create(D * 4, 'net q'),
        h: arena.create(B * D * 4, 'net h'),
        targets: arena.upload(input.targets, 'net targets'),
        dy: arena.create(B * n * 4, 'net dy'),
        dpre: arena.create(B * D * 4, 'net dpre'),
        gw1: arena.create(C * D * 4, 'net grad w1'),
        gb1: arena.create(D * 4, 'net grad b1'),
        gw2: arena.create(n * G * 4, 'net grad w2'),
        gb2: arena.create(n4 * 16, 'net grad b2'),
      };
      const counter = arena.create(16, 'net step');
      const tensors = [
        { param: b.w1, grad: b.gw1, count4: C * d4, wd: train.weightDecay },
        { param: b.b1, grad: b.gb1, count4: d4, wd: 0 },
        { param: b.w2, grad: b.gw2, count4: n * g4, wd: train.weightDecay },
        { param: b.b2, grad: b.gb2, count4: n4, wd: 0 },
      ];
      const updates: Dispatch[] = [adamTick(ctx, counter), ...tensors.map((t) => adamUpdate(ctx, t.count4, uniform(adamParams(t.count4, adam, t.wd), 'net adam params'), {
        param: t.param, grad: t.grad, m1: arena.create(t.count4 * 16, 'net adam m'), m2: arena.create(t.count4 * 16, 'net adam v'), counter,
      }))];
      // one list of dispatches per batch position, replayed every epoch over a new row order
      const shape = (rows: number, row0: number): NetShape => ({ rows, row0, components: C, words, d4, g4, examples: n, bwords });
      const steps: Dispatch[][] = [];
      for (let r = 0; r < mt; r += B) {
        const s = shape(Math.min(B, mt - r), r);
        steps.push([...gradientStep(ctx, variant, s, uniform(netParams(s), 'net batch params'), b), ...updates]);
      }

      // the linear model read off the weights, and each example's kept one
      const lin: LinearShape = { components: C, d4, g4, examples: n, n4, rows: 0, row0: 0 };
      const cur = { linW: arena.create(C * n4 * 16, 'net linear w'), linB: arena.create(n4 * 16, 'net linear b') };
      const best = { bestW: arena.create(C * n4 * 16, 'net kept w'), bestB: arena.create(n4 * 16, 'net kept b') };
      const flags = arena.create(n4 * 16, 'net keep flags');
      const linUniform = uniform(linearParams(lin), 'net linear params');
      const extract = extractLinear(ctx, spec.grouped, lin, linUniform, { w1: b.w1, b1: b.b1, w2: b.w2, b2: b.b2, ...cur });
      const keep = keepFlagged(ctx, lin, linUniform, { flags, curW: cur.linW, curB: cur.linB, ...best });
      // a linear model's predictions on a row range, and their moments against the targets
      const q = arena.create(n4 * 16, 'net linear q');
      const scorer = (r0: number, r1: number, w: GPUBuffer, bias: GPUBuffer) => {
        const rows = r1 - r0;
        const idx = arena.upload(Uint32Array.from({ length: rows }, (_, i) => r0 + i), 'net scored rows');
        const pred = arena.create(rows * n4 * 16, 'net predictions');
        const out = arena.create(5 * n4 * 16, 'net prediction moments');
        const vs: NetShape = { rows, row0: 0, components: C, words, d4: n4, g4: n4, examples: n, bwords };
        const dispatches = [
          ...forwardHidden(ctx, { relu: false, grouped: false }, vs, uniform(netParams(vs), 'net scoring params'),
            { bits: b.bits, rowIdx: idx, invStd: b.invStd, meanU: b.meanU, w1: w, b1: bias, q, h: pred }),
          predictionMoments(ctx, { ...lin, rows }, uniform(linearParams({ ...lin, rows }), 'net moments params'), { pred, targets: b.targets, rowIdx: idx, out }),
        ];
        return { dispatches, read: async () => momentsOf(await readF32(ctx, out, 5 * n4 * 4), n, n4, rows) };
      };
      const validation = input.validate ? scorer(input.validate[0], input.validate[1], cur.linW, cur.linB) : undefined;

      const epochOf = new Int32Array(n);
      const error = new Float64Array(n).fill(Infinity);
      const lastKeep = input.keepAt ? Math.max(0, ...input.keepAt) : 0;
      const cap = input.keepAt ? Math.min(train.epochs, lastKeep) : train.epochs;
      const flagWords = new Float32Array(n4 * 4);
      // a validation read stalls the queue: with few steps per epoch, read every few epochs
      const checkEvery = Math.max(1, Math.ceil(CHECK_STEPS / steps.length));
      let stale = 0;
      let epoch = 0;
      const started = Date.now();
      while (epoch < cap) {
        epoch++;
        const order = input.order?.(epoch) ?? epochOrder(train.seed, epoch, mt);
        device.queue.writeBuffer(b.rowIdx, 0, order.map((i) => i + t0));
        run(ctx, steps.flat());
        const check = !validation || epoch % checkEvery === 0 || epoch === cap;
        if (!check) continue;
        run(ctx, [extract, ...(validation?.dispatches ?? [])]);
        flagWords.fill(0);
        let improved = false;
        if (validation) {
          const mo = await validation.read();
          for (let c = 0; c < n; c++) {
            const v = 1 - (Number.isFinite(mo.pearson[c]!) ? mo.pearson[c]! : 0);
            if (v < error[c]!) { error[c] = v; epochOf[c] = epoch; flagWords[c] = 1; improved = true; }
          }
        } else if (input.keepAt) {
          for (let c = 0; c < n; c++) if (input.keepAt[c] === epoch) { epochOf[c] = epoch; flagWords[c] = 1; improved = true; }
        } else if (epoch === cap) {
          for (let c = 0; c < n; c++) { epochOf[c] = epoch; flagWords[c] = 1; }
          improved = true;
        }
        if (improved) {
          device.queue.writeBuffer(flags, 0, flagWords);
          run(ctx, [keep]);
        }
        stale = improved ? 0 : stale + (validation ? checkEvery : 1);
        if (epoch % (10 * checkEvery) === 0 || epoch === cap) {
          const meanR = 1 - error.reduce((a, x) => a + x, 0) / n;
          input.progress?.(`epoch ${epoch}: ${validation ? `best validation correlation, mean over examples ${meanR.toFixed(4)}` : 'trained'} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
        }
        if (validation && stale >= train.patience) break;
      }
      // least-squares scale and intercept of each kept model on the train rows: the read-off
      // model predicts margins up to a factor (about 1 / the share of active ReLUs), the fit fixes it
      const fitRows = scorer(t0, t1, best.bestW, best.bestB);
      run(ctx, fitRows.dispatches);
      const cal = await fitRows.read();
      const [w, bias, w1, b1, w2, b2] = await Promise.all([
        readF32(ctx, best.bestW, C * n4 * 4), readF32(ctx, best.bestB, n4 * 4),
        readF32(ctx, b.w1, C * D), readF32(ctx, b.b1, D), readF32(ctx, b.w2, n * G), readF32(ctx, b.b2, n),
      ]);
      const linW = new Float32Array(C * n);
      const linB = new Float32Array(n);
      for (let c = 0; c < n; c++) {
        const scale = cal.scale[c]!;
        for (let j = 0; j < C; j++) linW[j * n + c] = scale * w[j * n4 * 4 + c]!;
        linB[c] = scale * bias[c]! + cal.intercept[c]!;
      }
      return {
        linW, linB, scale: cal.scale, meanU: stats.meanU, invStd: stats.invStd, epoch: epochOf, error, epochs: epoch,
        steps: epoch * steps.length, weights: { w1, b1, w2, b2 },
      };
    } finally {
      arena.destroy();
    }
  });
}
