/**
 * COAR-Edit: the component scores are Welch's t as numpy computes it; the edited weights
 * load in PyTorch by their original names and equal PyTorch zeroing the same rows; the
 * accuracies and margins `coar edit` reports are what PyTorch computes with the edited
 * file; the case studies' edited models (case-studies/results.json) are rebuilt byte for
 * byte and PyTorch reproduces their reported accuracies; bad input gets one line.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Ablator } from '../src/coar/ablate.js';
import { ablationMasks, ablationOrder, chooseK, validationCurve, welchScores, type CurvePoint } from '../src/coar/edit.js';
import { editedSafetensors, editMetadata } from '../src/coar/edit_export.js';
import { writeNpy } from '../src/io/npy.js';
import { loadModel } from '../src/models/index.js';
import type { EditRecord } from '../src/report/edit.js';
import { coar } from './support/cli.js';
import { runReference } from './support/python.js';
import { tempDir } from './support/tmp.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CNN = join(ROOT, 'weights', 'fashion-cnn.safetensors');
const VIT = join(ROOT, 'weights', 'fashion-vit.safetensors');
const dir = tempDir('coar-edit-');
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

test('component scores are Welch\'s t (population variances) as numpy computes it; top-k and bottom-k orders', () => {
  const C = 40, nT = 7, nR = 23;
  let s = 12345;
  const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) - 0.5;
  const target = Float32Array.from({ length: C * nT }, rand);
  const reference = Float32Array.from({ length: C * nR }, rand);
  writeNpy(join(dir, 'target.npy'), 'f4', [C, nT], target);
  writeNpy(join(dir, 'reference.npy'), 'f4', [C, nR], reference);
  const numpy = JSON.parse(runReference('edit_reference.py', ['welch', join(dir, 'target.npy'), join(dir, 'reference.npy')])) as number[];
  const ours = welchScores(target, nT, reference, nR);
  for (let j = 0; j < C; j++) assert.ok(Math.abs(ours[j]! - numpy[j]!) <= 1e-9 * Math.max(1, Math.abs(numpy[j]!)), `component ${j}: ${ours[j]} vs numpy ${numpy[j]}`);
  const top = ablationOrder(ours, 'lower'), bottom = ablationOrder(ours, 'raise');
  for (let i = 1; i < C; i++) {
    assert.ok(ours[top[i - 1]!]! >= ours[top[i]!]!, 'top-k: decreasing t');
    assert.ok(ours[bottom[i - 1]!]! <= ours[bottom[i]!]!, 'bottom-k: increasing t');
  }
});

test('a component that separates the sets with zero variance ranks first (t = ±Infinity)', () => {
  // one target example, a reference whose attribution of component 1 is constant
  const t = welchScores(Float32Array.from([0.5, 2]), 1, Float32Array.from([0.1, 0.3, 1, 1]), 2);
  assert.is(t[1], Infinity);
  assert.equal(ablationOrder(t, 'lower'), [1, 0]);
  assert.equal(ablationOrder(t, 'raise'), [0, 1]);
});

test('candidate masks ablate exactly the components of each set', () => {
  const m = ablationMasks([[], [2], [2, 0, 1]], 4);
  assert.equal([...m], [1, 1, 1, 1, 1, 1, 0, 1, 0, 0, 0, 1]);
});

test('k is the best validation target accuracy whose reference drop is within the budget; ties go to the smaller k', () => {
  const point = (k: number, target: number, reference: number): CurvePoint => ({ k, target: { accuracy: target, meanMargin: 0 }, reference: { accuracy: reference, meanMargin: 0 }, margins: new Float32Array() });
  const curve = [point(0, 0.2, 0.9), point(1, 0.5, 0.9), point(2, 0.5, 0.89), point(3, 0.9, 0.86), point(4, 0.7, 0.87)];
  assert.is(chooseK(curve, 'raise', 0.02).k, 1, '3 is over the budget, 1 and 2 tie');
  assert.is(chooseK(curve, 'raise', 0.05).k, 3);
  assert.is(chooseK(curve, 'lower', 0.05).k, 0, 'nothing lowers the target below k = 0');
  assert.is(chooseK([point(0, 1, 0.9), point(1, 0.4, 0.85), point(2, 0.1, 0.7)], 'lower', 0.05).k, 1);
});

/** An ablator whose margins are linear in the mask: margin_i = base_i − Σ_j ablated effect[j][i]. */
function linearAblator(base: number[], effect: number[][]): Ablator {
  const C = effect.length, n = base.length;
  return {
    net: { components: { size: C } },
    async run(masks: Uint8Array, k: number) {
      const margins = new Float32Array(k * n);
      for (let r = 0; r < k; r++) {
        for (let i = 0; i < n; i++) {
          let m = base[i]!;
          for (let j = 0; j < C; j++) if (!masks[r * C + j]) m -= effect[j]![i]!;
          margins[r * n + i] = m;
        }
      }
      return { margins };
    },
  } as unknown as Ablator;
}

test('k search: prefix stops where the top-ranked component spends the budget; skip passes over it and reaches the goal', async () => {
  // 2 target examples (margins 1), 4 reference examples (margins 1); lower the target margins.
  // Component 0 (ranked first) lowers the targets a little but breaks 2 of 4 reference examples;
  // components 1 and 2 each break one target example and leave the reference alone.
  const base = [1, 1, 1, 1, 1, 1];
  const effect = [[0.5, 0.5, 2, 2, 0, 0], [2, 0, 0, 0, 0, 0.1], [0, 2, 0.1, 0, 0, 0], [0, 0, 0, 0, 0, 0]];
  const order = [0, 1, 2, 3];
  const opts = { maxK: 4, maxDrop: 0.25, chunk: 2 };
  const prefix = await validationCurve(linearAblator(base, effect), 6, 2, order, 'lower', { ...opts, search: 'prefix' });
  assert.is(chooseK(prefix.curve, 'lower', 0.25).k, 0, 'k = 1 is over the budget (2 of 4 reference examples wrong), and so is every larger prefix');
  const skip = await validationCurve(linearAblator(base, effect), 6, 2, order, 'lower', { ...opts, search: 'skip' });
  assert.equal(skip.sequence, [1, 2], 'component 0 passed over, 1 and 2 accepted; the search stops once every target example is wrong');
  assert.equal(skip.skipped, [0]);
  const best = chooseK(skip.curve, 'lower', 0.25);
  assert.is(best.k, 2);
  assert.is(best.target.accuracy, 0);
  assert.is(best.reference.accuracy, 1);
  assert.equal([...ablationMasks([[], skip.sequence.slice(0, best.k)], 4)], [1, 1, 1, 1, 1, 0, 0, 1]);
});

test('per-class budget: a component that costs one reference class too much is passed over even when the pooled drop is within budget', async () => {
  // 1 target example, 8 reference examples in two classes (labels 0 x4, 1 x4); lower the target margin.
  // Component 0 breaks the target and 2 of the 4 class-1 references (pooled drop 25%, class 1 drop 50%);
  // component 1 breaks the target and one reference of each class (pooled 25%, each class 25%).
  const base = [1, 1, 1, 1, 1, 1, 1, 1, 1];
  const effect = [[2, 0, 0, 0, 0, 2, 2, 0, 0], [2, 2, 0, 0, 0, 2, 0, 0, 0]];
  const labels = [0, 0, 0, 0, 1, 1, 1, 1];
  const opts = { maxK: 2, maxDrop: 0.25, chunk: 4, search: 'skip' as const };
  const pooled = await validationCurve(linearAblator(base, effect), 9, 1, [0, 1], 'lower', opts);
  assert.equal(pooled.sequence, [0], 'pooled budget alone: component 0 is accepted');
  const perClass = await validationCurve(linearAblator(base, effect), 9, 1, [0, 1], 'lower', { ...opts, maxClassDrop: 0.3, labels });
  assert.equal(perClass.sequence, [1], 'with 30 points per class, component 0 (class 1 -50 points) is passed over');
  assert.equal(perClass.skipped, [0]);
  assert.is(chooseK(perClass.curve, 'lower', { maxDrop: 0.25, maxClassDrop: 0.3, labels }, 1).k, 1);
  assert.is(chooseK(pooled.curve, 'lower', { maxDrop: 0.25, maxClassDrop: 0.3, labels }, 1).k, 0, 'the pooled search\'s k = 1 breaks the class budget');
});

test('skip search: any batch size gives what testing one candidate at a time gives', async () => {
  let seed = 7;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  for (let trial = 0; trial < 20; trial++) {
    const C = 30, n = 12, nTarget = 4;
    const base = Array.from({ length: n }, () => 0.5 + rand());
    const effect = Array.from({ length: C }, () => Array.from({ length: n }, () => (rand() - 0.3) * 0.6));
    const order = Array.from({ length: C }, (_, j) => j).sort(() => rand() - 0.5);
    const direction = trial % 2 ? 'raise' as const : 'lower' as const;
    if (direction === 'raise') for (let i = 0; i < nTarget; i++) base[i] = -base[i]!;
    // one candidate at a time, straight from the definition
    const margin = (set: number[], i: number) => set.reduce((m, j) => m - effect[j]![i]!, base[i]!);
    const score = (set: number[], from: number, to: number) => {
      let right = 0, sum = 0;
      for (let i = from; i < to; i++) { const m = margin(set, i); if (m > 0) right++; sum += m; }
      return { accuracy: right / (to - from), mean: sum / (to - from) };
    };
    const sign = direction === 'raise' ? 1 : -1, maxK = 8, maxDrop = 0.25;
    const ref0 = score([], nTarget, n).accuracy;
    const expected: number[] = [];
    for (const j of order) {
      const cur = score(expected, 0, nTarget);
      if (expected.length >= maxK || (direction === 'raise' ? cur.accuracy >= 1 : cur.accuracy <= 0)) break;
      const t = score([...expected, j], 0, nTarget), r = score([...expected, j], nTarget, n);
      if (ref0 - r.accuracy <= maxDrop + 1e-12 && sign * (t.accuracy - cur.accuracy) >= 0 && sign * (t.mean - cur.mean) > 1e-6) expected.push(j);
    }
    for (const chunk of [1, 3, 16]) {
      const got = await validationCurve(linearAblator(base, effect), n, nTarget, order, direction, { maxK, maxDrop, chunk, search: 'skip' });
      assert.equal(got.sequence, expected, `trial ${trial}, ${chunk} candidates per dispatch`);
      assert.equal(got.curve.map((p) => p.k), expected.map((_, i) => i).concat(expected.length));
    }
  }
});

for (const [arch, weights, picks] of [['mini-resnet', CNN, [0, 17, 18, 111]], ['vit', VIT, [0, 191, 192, 300, 1791]]] as const) {
  test(`the edited ${arch} safetensors loads in PyTorch by the original names and equals zeroing the same rows there`, () => {
    const model = loadModel(arch, weights);
    const bytes = editedSafetensors(weights, model.components, picks, { coar_edit: 'test' });
    const path = join(dir, `edited-${arch}.safetensors`);
    writeFileSync(path, bytes);
    const names = picks.map((j) => model.components.name(j));
    const r = JSON.parse(runReference('edit_reference.py', ['zeroed', weights, path, names.join(',')]));
    assert.equal(r.missing, [], 'no parameter missing');
    assert.equal(r.unexpected, [], 'no unexpected tensor');
    assert.is(r.max_difference, 0, 'every tensor equals the original with those rows zeroed');
    assert.is(r.zeroed_rows, picks.length);
  });
}

// ---------------------------------------------------------------- end to end

const store = join(dir, 'store');
const editDir = join(dir, 'edit');
const SETS = ['--target', `${store}#class=1`, '--reference', `${store}#class!=1`,
  '--val-target', 'fashion-mnist:test#index=0-299,class=1', '--val-reference', 'fashion-mnist:test#index=0-299,class!=1'];
const editArgs = (out: string, extra: string[] = []) => ['edit', '--arch', 'mini-resnet', '--weights', CNN, ...SETS, '--lower', '--max-drop', '5', '--max-k', '6', '--out', out, '--quiet', ...extra];

test('coar edit: PyTorch, loading edited.safetensors, reproduces every accuracy and margin it reports', () => {
  // 4 Trousers (class 1) and 8 others among the first test images; 64 masks
  const r0 = coar(['sweep', '--arch', 'mini-resnet', '--weights', CNN, '--data', 'fashion-mnist:test', '--indices', '2+3+15+16+0+1+4+5+6+7+8+9', '--masks', '64', '--out', store, '--quiet']);
  assert.is(r0.code, 0, r0.stderr);
  const r1 = coar(['fit', store, '--quiet']);
  assert.is(r1.code, 0, r1.stderr);
  const r = coar(editArgs(editDir));
  assert.is(r.code, 0, r.stderr);
  const record = JSON.parse(readFileSync(join(editDir, 'edit.json'), 'utf8')) as EditRecord;
  assert.equal(record.sets.target!.labels, [1, 1, 1, 1]);
  assert.ok(record.curve.length >= 2, 'at least one candidate k was tried');
  assert.is(record.chosen.components.length, record.chosen.k);
  assert.match(r.stdout, /valTarget/);
  const torch = JSON.parse(runReference('edit_reference.py', ['verify', editDir])) as Record<string, { n: number; labels_match: boolean; accuracy_before: number; accuracy_after: number; margin_error_before: number; margin_error_after: number; margin_scale: number }>;
  for (const [name, s] of Object.entries(record.sets)) {
    const t = torch[name]!;
    assert.ok(t.labels_match, `${name}: labels`);
    assert.is(t.n, s.indices.length, `${name}: examples`);
    assert.is(s.before.accuracy, t.accuracy_before, `${name}: accuracy before`);
    assert.is(s.after.accuracy, t.accuracy_after, `${name}: accuracy after`);
    const tol = 1e-4 * Math.max(1, t.margin_scale);
    assert.ok(t.margin_error_before <= tol && t.margin_error_after <= tol, `${name}: margins differ from PyTorch's by ${t.margin_error_before}, ${t.margin_error_after}`);
  }
  assert.ok(existsSync(join(editDir, 'edit.html')));
  const html = readFileSync(join(editDir, 'edit.html'), 'utf8');
  if (record.chosen.k) for (const c of record.chosen.components) assert.ok(html.includes(c.name), `edit.html names ${c.name}`);
  else assert.match(html, /No k within the budget/);
});

test('bad input: one line naming the problem, a non-zero exit, no output folder', () => {
  const cases: [string[], RegExp][] = [
    [editArgs(join(dir, 'bad1')).filter((a) => a !== '--lower'), /--lower .* or --raise/],
    [[...editArgs(join(dir, 'bad2')), '--raise'], /--lower .* or --raise/],
    [editArgs(join(dir, 'bad3')).map((a) => (a === `${store}#class=1` ? 'fashion-mnist:test#class=1' : a)), /needs attributions/],
    [editArgs(join(dir, 'bad4')).map((a) => (a === `${store}#class=1` ? `${store}#index=9999` : a)), /no examples are left/],
    [editArgs(join(dir, 'bad5')).map((a) => (a === `${store}#class=1` ? `${store}#colour=1` : a)), /unknown filter 'colour=1'/],
    [editArgs(join(dir, 'bad6')).map((a) => (a === CNN ? VIT : a === 'mini-resnet' ? 'vit' : a)), /other weights/],
    [editArgs(join(dir, 'bad7'), ['--max-drop', '-1']), /--max-drop/],
    [editArgs(join(dir, 'bad8')).map((a) => (a === `${store}#class=1` ? `${dir}/nowhere#class=1` : a)), /not a store folder/],
    [editArgs(join(dir, 'bad9'), ['--search', 'greedy']), /--search must be one of prefix, skip/],
    [editArgs(join(dir, 'bad10'), ['--each']), /--each .* leave out --val-target/],
  ];
  for (const [args, message] of cases) {
    const r = coar(args);
    const out = args[args.indexOf('--out') + 1]!;
    assert.is.not(r.code, 0, `${args.join(' ')} should fail`);
    const lines = r.stderr.split('\n').filter((l) => l.trim());
    assert.is(lines.length, 1, `one line, got:\n${r.stderr}`);
    assert.match(lines[0]!, message);
    assert.not.ok(existsSync(out), `no ${out}`);
  }
});

// ---------------------------------------------------------------- the case studies

const RESULTS = join(ROOT, 'case-studies', 'results.json');

interface CaseResults {
  studies: {
    study: string; weights: string; arch?: string; direction: string;
    edits: { id: string; components: string[]; edited_sha256: string; held_out: Record<string, unknown>; sets: Record<string, { set: string; accuracy_before: number; accuracy_after: number }> }[];
  }[];
}

test('case studies: each edited model is rebuilt byte for byte, and PyTorch reproduces the accuracies reported for it', () => {
  assert.ok(existsSync(RESULTS), 'case-studies/results.json (written by case-studies/reproduce.sh)');
  const results = JSON.parse(readFileSync(RESULTS, 'utf8')) as CaseResults;
  const edited = join(dir, 'cases');
  mkdirSync(edited);
  for (const s of results.studies) {
    const weights = join(ROOT, s.weights);
    const model = loadModel(s.arch === 'vit' ? 'vit' : 'mini-resnet', weights);
    const index = new Map(model.components.names().map((n, i) => [n, i]));
    const source = sha256(readFileSync(weights));
    for (const e of s.edits) {
      const ablated = e.components.map((n) => index.get(n)!);
      const bytes = editedSafetensors(weights, model.components, ablated, editMetadata(s.direction, e.components, source));
      assert.is(sha256(bytes), e.edited_sha256, `${e.id}: the edited file differs from the one coar edit wrote`);
      writeFileSync(join(edited, `${e.id}.safetensors`), bytes);
    }
  }
  const torch = JSON.parse(runReference('edit_reference.py', ['cases', RESULTS, edited])) as Record<string, { sets: Record<string, { before: number; after: number }>; held_out?: Record<string, unknown> }>;
  for (const s of results.studies) {
    for (const e of s.edits) {
      for (const [role, r] of Object.entries(e.sets)) {
        assert.is(torch[e.id]!.sets[role]!.before, r.accuracy_before, `${e.id} ${role}: accuracy before the edit`);
        assert.is(torch[e.id]!.sets[role]!.after, r.accuracy_after, `${e.id} ${role}: accuracy after the edit`);
      }
      if (torch[e.id]!.held_out) assert.equal(torch[e.id]!.held_out, e.held_out, `${e.id}: held-out metrics`);
    }
  }
});

test.run();
