/**
 * The estimators of issue 7 (src/coar/estimators): the network trained on the device equals
 * PyTorch's training of the same network (test/reference/net_torch.py), every estimator
 * recovers a planted linear model, the seed's extracted network recovers a linear teacher,
 * and `coar fit --method extracted|shared` writes attributions and rejects bad flags.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fitEstimator, ESTIMATORS } from '../src/coar/estimators/index.js';
import { epochOrder, initialWeights, trainNetwork, type NetworkSpec } from '../src/coar/estimators/network.js';
import { packMaskArray } from '../src/coar/fit_masks.js';
import { GpuContext } from '../src/gpu/context.js';
import { readNpy, writeNpy } from '../src/io/npy.js';
import { coar } from './support/cli.js';
import { runReference } from './support/python.js';
import { tempDir } from './support/tmp.js';

const dir = tempDir('coar-estimators-');
let ctx: GpuContext;

/** A small deterministic generator, so every run sees the same data. */
function generator(seed: number) {
  let s = seed >>> 0;
  const next = () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
  const normal = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  return { next, normal };
}

/** m masks over C components (alpha ablated), margins = b + masks . w + noise for n examples. */
function planted(m: number, C: number, n: number, alpha: number, noise: number, seed: number) {
  const g = generator(seed);
  const masks = new Uint8Array(m * C).map(() => (g.next() < alpha ? 0 : 1));
  const w = Float64Array.from({ length: C * n }, () => g.normal());
  const b = Float64Array.from({ length: n }, () => 3 * g.normal());
  const margins = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let e = 0; e < n; e++) {
      let v = b[e]!;
      for (let j = 0; j < C; j++) v += masks[i * C + j]! * w[j * n + e]!;
      margins[i * n + e] = v + noise * g.normal();
    }
  }
  return { masks, margins, w, b };
}

/**
 * Worst over examples of ||w_hat - w|| / ||w||, and of the RMS error of the predicted margins
 * (bias + mask . attributions) against the noise-free planted ones on 2,000 fresh masks, over
 * their standard deviation. (The bias alone is the prediction for the all-ablated mask, far
 * from every mask fitted on: predictions on masks like the fitted ones are what it is for.)
 */
function recoveryError(attributions: Float32Array, bias: Float32Array, w: Float64Array, b: Float64Array, C: number, n: number, alpha: number) {
  const g = generator(99);
  const k = 2000;
  const fresh = new Uint8Array(k * C).map(() => (g.next() < alpha ? 0 : 1));
  let weights = 0, predictions = 0;
  for (let e = 0; e < n; e++) {
    let d = 0, s = 0;
    for (let j = 0; j < C; j++) { d += (attributions[j * n + e]! - w[j * n + e]!) ** 2; s += w[j * n + e]! ** 2; }
    weights = Math.max(weights, Math.sqrt(d / s));
    let se = 0, sum = 0, sum2 = 0;
    for (let i = 0; i < k; i++) {
      let t = b[e]!, p = bias[e]!;
      for (let j = 0; j < C; j++) if (fresh[i * C + j]) { t += w[j * n + e]!; p += attributions[j * n + e]!; }
      se += (p - t) ** 2; sum += t; sum2 += t * t;
    }
    predictions = Math.max(predictions, Math.sqrt(se / k) / Math.sqrt(sum2 / k - (sum / k) ** 2));
  }
  return { weights, predictions };
}

test.before(async () => { ctx = await GpuContext.open(); });
test.after(() => ctx.destroy());

test('the network trained on the device equals PyTorch AdamW from the same weights on the same minibatches (1e-4)', async () => {
  const m = 200, C = 40, n = 5, mt = 160, epochs = 4;
  const g = generator(7);
  const masks = new Uint8Array(m * C).map(() => (g.next() < 0.1 ? 0 : 1));
  const targets = new Float32Array(m * n).map(() => 2 * g.next() - 1);
  const cases: NetworkSpec[] = [
    { hidden: 8, grouped: true, relu: true },    // extracted: one network per example
    { hidden: 8, grouped: false, relu: true },   // one hidden layer read by every example
    { hidden: 8, grouped: false, relu: false },  // its linear (low-rank) form
  ];
  for (const spec of cases) {
    const train = { lr: 1e-2, weightDecay: 1e-2, batch: 32, epochs, patience: epochs, seed: 3 };
    const init = initialWeights(spec, C, n, train.seed);
    const out = await trainNetwork(ctx, spec, train, { masks: packMaskArray(masks, m, C), targets, examples: n, train: [0, mt] });
    const d = join(dir, `torch-${spec.grouped}-${spec.relu}`);
    mkdirSync(d, { recursive: true });
    const D = init.b1.length, G = init.w2.length / n;
    writeNpy(join(d, 'masks.npy'), 'b1', [m, C], masks);
    writeNpy(join(d, 'targets.npy'), 'f4', [m, n], targets);
    writeNpy(join(d, 'w1.npy'), 'f4', [C, D], init.w1);
    writeNpy(join(d, 'b1.npy'), 'f4', [D], init.b1);
    writeNpy(join(d, 'w2.npy'), 'f4', [n, G], init.w2);
    writeNpy(join(d, 'b2.npy'), 'f4', [n], init.b2);
    const orders = new Int32Array(epochs * mt);
    for (let e = 1; e <= epochs; e++) orders.set(epochOrder(train.seed, e, mt), (e - 1) * mt);
    writeNpy(join(d, 'orders.npy'), 'i4', [epochs, mt], orders);
    writeFileSync(join(d, 'spec.json'), JSON.stringify({
      grouped: spec.grouped, relu: spec.relu, lr: train.lr, weight_decay: train.weightDecay, batch: train.batch,
      beta1: 0.9, beta2: 0.999, eps: 1e-8, train_rows: mt,
    }));
    const r = JSON.parse(runReference('net_torch.py', ['train', d]));
    assert.is(r.steps, epochs * Math.ceil(mt / train.batch));
    for (const k of ['w1', 'b1', 'w2', 'b2'] as const) {
      const ref = readNpy(join(d, `torch_${k}.npy`)).data as Float64Array;
      const ours = out.weights[k];
      let num = 0, den = 0, moved = 0;
      for (let i = 0; i < ref.length; i++) { num += (ours[i]! - ref[i]!) ** 2; den += ref[i]! ** 2; moved += (ref[i]! - init[k][i]!) ** 2; }
      const rel = Math.sqrt(num / den);
      assert.ok(rel < 1e-4, `${JSON.stringify(spec)} ${k}: relative difference ${rel.toExponential(2)} from PyTorch`);
      // and training moved the weights far beyond that difference
      assert.ok(Math.sqrt(moved / den) > 0.1, `${k} barely moved`);
    }
  }
});

test('every estimator recovers a planted linear model: attributions within 20% of ||w||, predictions within 15% of their spread', async () => {
  // 800 masks over 48 components at alpha 0.1, noise sd 0.5 against margins with sd ~2: least
  // squares is expected within ~10% of ||w|| here (sd 0.5 / sqrt(800 * 0.09) per weight), and
  // its predictions within ~6% of the margins' sd (RMS 0.5 sqrt(48 / 800))
  const m = 800, C = 48, n = 8;
  const p = planted(m, C, n, 0.1, 0.5, 11);
  const packed = packMaskArray(p.masks, m, C);
  for (const name of ESTIMATORS) {
    const r = await fitEstimator(ctx, name, packed, p.margins, n, {
      regression: { valFrac: 0.2 }, extracted: { learningRates: [1e-2], weightDecays: [0], epochs: 200 },
    });
    const err = recoveryError(r.attributions, r.bias, p.w, p.b, C, n, 0.1);
    assert.ok(err.weights < 0.2, `${name}: attributions off by ${(100 * err.weights).toFixed(1)}% of ||w||`);
    assert.ok(err.predictions < 0.15, `${name}: predictions off by ${(100 * err.predictions).toFixed(1)}% of the margins' sd`);
  }
});

test('extracted: the network read off without its ReLU recovers a linear teacher (within 5% after 1,000 epochs)', async () => {
  const m = 600, C = 32, n = 4;
  const p = planted(m, C, n, 0.1, 0, 5);
  const r = await fitEstimator(ctx, 'extracted', packMaskArray(p.masks, m, C), p.margins, n, { extracted: { learningRates: [1e-2], weightDecays: [0], epochs: 1000, patience: 1000 } });
  const err = recoveryError(r.attributions, r.bias, p.w, p.b, C, n, 0.1);
  assert.ok(err.weights < 0.05, `attributions off by ${(100 * err.weights).toFixed(2)}% of ||w||`);
  assert.ok(err.predictions < 0.05, `predictions off by ${(100 * err.predictions).toFixed(2)}% of the margins' sd`);
});

test('shared chooses nu on the last rows it is given, as scipy scores each candidate fitted on the first rows, and refits the choice on all rows', async () => {
  const m = 200, C = 24, n = 6, mt = 160;
  const p = planted(m, C, n, 0.1, 1.5, 13);
  const shared = { valFrac: 0.2, maxIter: 20 };
  const r = await fitEstimator(ctx, 'shared', packMaskArray(p.masks, m, C), p.margins, n, { shared });
  const validation = r.details.validation as { tail: number | null; validationPearson: number }[];
  assert.is(r.details.validationRows, m - mt);
  assert.equal(validation.map((v) => v.tail), [2, 4, null], 'the candidates 2, 4 and the Gaussian (null in JSON)');
  // the validation rows as a store scipy reads (curve_reference.py score)
  const held = join(dir, 'nu-validation');
  mkdirSync(held, { recursive: true });
  writeNpy(join(held, 'masks.npy'), 'b1', [m - mt, C], p.masks.subarray(mt * C));
  writeNpy(join(held, 'test_margins.npy'), 'f4', [m - mt, n], p.margins.subarray(mt * n));
  const head = packMaskArray(p.masks.subarray(0, mt * C), mt, C);
  for (const v of validation) {
    const tail = v.tail ?? Infinity;
    const f = await fitEstimator(ctx, 'shared', head, p.margins.subarray(0, mt * n), n, { shared: { ...shared, tail } });
    const d = join(dir, `nu-${tail}`);
    mkdirSync(join(d, 'points'), { recursive: true });
    writeNpy(join(d, 'points', `shared-${mt}.attributions.npy`), 'f4', [C, n], f.attributions);
    writeNpy(join(d, 'points', `shared-${mt}.bias.npy`), 'f4', [n], f.bias);
    const ref = JSON.parse(runReference('curve_reference.py', ['score', d, held, 'shared', String(mt)])) as { pearson: (number | null)[] };
    const mean = ref.pearson.reduce<number>((a, x) => a + (x ?? 0), 0) / n;
    assert.ok(Math.abs(v.validationPearson - mean) < 1e-5, `nu = ${tail}: validation Pearson ${v.validationPearson} vs scipy ${mean}`);
  }
  const best = validation.reduce((a, v) => (v.validationPearson > a.validationPearson ? v : a));
  assert.is(r.details.tail, best.tail);
  const fixed = await fitEstimator(ctx, 'shared', packMaskArray(p.masks, m, C), p.margins, n, { shared: { ...shared, tail: best.tail ?? Infinity } });
  // the same fit up to CG's stopping point (it checks convergence on a wall-clock schedule, fit/cg.ts)
  let d = 0, size = 0;
  for (let i = 0; i < r.attributions.length; i++) { d = Math.max(d, Math.abs(r.attributions[i]! - fixed.attributions[i]!)); size = Math.max(size, Math.abs(fixed.attributions[i]!)); }
  assert.ok(d <= 1e-4 * size, `the choice refitted on all rows: attributions differ by ${d} (largest ${size})`);
  for (let e = 0; e < n; e++) assert.ok(Math.abs(r.bias[e]! - fixed.bias[e]!) <= 1e-4 * (1 + Math.abs(fixed.bias[e]!)), `bias ${e}`);
  assert.is(fixed.details.validation, undefined, 'a fixed nu tries no candidates');
});

test('coar fit --method shared writes attributions in raw units; --method extracted rejects --lambda with one line', () => {
  const m = 300, C = 24, n = 4;
  const p = planted(m, C, n, 0.1, 0.3, 3);
  const store = join(dir, 'store');
  mkdirSync(store, { recursive: true });
  writeNpy(join(store, 'masks.npy'), 'b1', [m, C], p.masks);
  writeNpy(join(store, 'test_margins.npy'), 'f4', [m, n], p.margins);
  const out = join(dir, 'fit-shared');
  const r = coar(['fit', store, '--method', 'shared', '--out', out, '--quiet']);
  assert.is(r.code, 0, r.stderr);
  const a = readNpy(join(out, 'attributions.npy'));
  assert.equal(a.shape, [C, n]);
  const err = recoveryError(a.data as Float32Array, readNpy(join(out, 'bias.npy')).data as Float32Array, p.w, p.b, C, n, 0.1);
  assert.ok(err.weights < 0.2, `attributions off by ${(100 * err.weights).toFixed(1)}%`);
  const bad = coar(['fit', store, '--method', 'extracted', '--lambda', '1', '--out', join(dir, 'fit-bad')]);
  assert.is.not(bad.code, 0);
  assert.is(bad.stderr.split('\n').length, 1, bad.stderr);
  assert.match(bad.stderr, /--lambda applies to ridge and lasso/);
  assert.not.ok(existsSync(join(dir, 'fit-bad')), 'no output for a rejected command');
});

test.run();
