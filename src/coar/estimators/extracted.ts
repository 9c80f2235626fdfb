/**
 * `extracted` (seed 004, Karchmer): per example, a 2-layer ReLU network
 *   phi(v) = W2 sigma(W1 v + b1) + b2
 * trained on its (mask, margin) pairs by minibatch gradient descent on the device
 * (network.ts), then read off as a linear model without the ReLU: w = W2 W1, b = W2 b1 + b2.
 * The read-off predicts margins up to a factor (about 1 / the share of active units), so a
 * least-squares scale and intercept per example are fitted on the training rows.
 *
 * Hyperparameters (learning rate, weight decay) are chosen on held-out training rows (the
 * last val-frac), by the mean over examples of the best validation Pearson correlation of
 * the read-off model; each example keeps its best epoch. The chosen setting is then
 * retrained on all rows, keeping each example's model at its chosen epoch.
 */
import type { GpuContext } from '../../gpu/context.js';
import type { PackedMasks } from '../fit_masks.js';
import type { Progress } from '../fit/solve.js';
import { standardizeTargets, toRawUnits, validationSplit, type EstimatorResult } from './common.js';
import { trainNetwork, type NetworkSpec, type TrainSpec } from './network.js';

export interface ExtractedOptions {
  /** hidden units per example */
  hidden?: number;
  /** settings tried on the validation rows */
  learningRates?: number[];
  weightDecays?: number[];
  batch?: number;
  epochs?: number;
  patience?: number;
  seed?: number;
  valFrac?: number;
  progress?: Progress;
}

export const EXTRACTED_DEFAULTS: Required<Omit<ExtractedOptions, 'progress'>> = {
  hidden: 16, learningRates: [1e-3, 1e-2], weightDecays: [0, 0.1], batch: 64, epochs: 300, patience: 30, seed: 0, valFrac: 0.2,
};

export async function fitExtracted(ctx: GpuContext, masks: PackedMasks, margins: Float32Array, n: number, opts: ExtractedOptions = {}): Promise<EstimatorResult> {
  const o = { ...EXTRACTED_DEFAULTS, ...opts };
  return fitNetworkEstimator(ctx, { hidden: o.hidden, grouped: true, relu: true }, masks, margins, n, o);
}

/** Choose a training setting on held-out rows, then retrain on all rows and read the linear model off. */
export async function fitNetworkEstimator(ctx: GpuContext, spec: NetworkSpec, masks: PackedMasks, margins: Float32Array, n: number,
  o: Required<Omit<ExtractedOptions, 'progress'>> & { progress?: Progress }): Promise<EstimatorResult> {
  const m = masks.rows;
  const split = validationSplit(m, o.valFrac);
  const mt = split.train;
  const held = standardizeTargets(margins, m, n, 0, mt);
  const base = { batch: o.batch, epochs: o.epochs, patience: o.patience, seed: o.seed };
  let best: { train: TrainSpec; score: number; epoch: Int32Array } | undefined;
  const tried: { lr: number; weightDecay: number; validationPearson: number; epochs: number }[] = [];
  for (const lr of o.learningRates) {
    for (const weightDecay of o.weightDecays) {
      const train: TrainSpec = { ...base, lr, weightDecay };
      const r = await trainNetwork(ctx, spec, train, {
        masks, targets: held.values, examples: n, train: [0, mt], validate: [mt, m],
        progress: (s) => o.progress?.(`lr ${lr} weight decay ${weightDecay}, ${s}`),
      });
      const score = r.error.reduce((a, v) => a + v, 0) / n;
      tried.push({ lr, weightDecay, validationPearson: 1 - score, epochs: r.epochs });
      o.progress?.(`lr ${lr} weight decay ${weightDecay}: mean validation Pearson ${(1 - score).toFixed(4)} after ${r.epochs} epochs`);
      if (!best || score < best.score) best = { train, score, epoch: r.epoch };
    }
  }
  const all = standardizeTargets(margins, m, n, 0, m);
  const final = await trainNetwork(ctx, spec, best!.train, {
    masks, targets: all.values, examples: n, train: [0, m], keepAt: best!.epoch,
    progress: (s) => o.progress?.(`refit on all ${m} rows, ${s}`),
  });
  const raw = toRawUnits(final.linW, n, final.linB, n, masks, final.meanU, final.invStd, all);
  const epochs = Array.from(best!.epoch).sort((a, b) => a - b);
  return {
    ...raw,
    details: {
      hidden: spec.hidden, lr: best!.train.lr, weightDecay: best!.train.weightDecay, batch: o.batch, validationRows: m - mt,
      validationPearson: 1 - best!.score, epochMedian: epochs[Math.floor(n / 2)], tried,
    },
  };
}
