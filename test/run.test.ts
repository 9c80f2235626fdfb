/**
 * The main job end to end, on both bundled models at small sizes: `coar run` leaves a
 * complete store in the reference layout, attributions, an evaluation and the report; the
 * store's margins are the ones PyTorch gives for the bundled weights on the same
 * Fashion-MNIST test images under the same masks; run again, it resumes instead of
 * recomputing.
 */
import { copyFileSync, existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readNpy, writeNpy } from '../src/io/npy.js';
import { coar } from './support/cli.js';
import { loadF32, relError } from './support/compare.js';
import { runReference } from './support/python.js';
import { tempDir } from './support/tmp.js';

const WEIGHTS = join(dirname(fileURLToPath(import.meta.url)), '..', 'weights');
const dir = tempDir();
const N = 6, M = 48, EVAL = 8;

const MODELS = [
  { model: 'cnn', weights: 'fashion-cnn.safetensors', components: 112 },
  { model: 'vit', weights: 'fashion-vit.safetensors', components: 1792 },
];

for (const { model, weights, components } of MODELS) {
  const out = join(dir, model);
  const args = ['run', '--model', model, '--examples', String(N), '--masks', String(M), '--eval-masks', String(EVAL), '--out', out, '--quiet'];

  test(`coar run --model ${model}: store, attributions, evaluation at three alphas and the report`, () => {
    const r = coar(args);
    assert.is(r.code, 0, r.stderr);
    assert.match(r.stdout, /alpha\s+masks\s+pearson mean/);
    assert.match(r.stdout, `report: ${join(out, 'report.html')}`);
    const masks = readNpy(join(out, 'masks.npy'));
    assert.equal([masks.dtype, masks.shape], ['b1', [M, components]]);
    const margins = readNpy(join(out, 'test_margins.npy'));
    assert.equal([margins.dtype, margins.shape], ['f4', [M, N]]);
    assert.ok((readNpy(join(out, '_completed.npy')).data as Uint8Array).every((v) => v === 1), 'every row completed');
    assert.equal(readNpy(join(out, 'attributions.npy')).shape, [components, N]);
    const evals = JSON.parse(readFileSync(join(out, 'eval.json'), 'utf8')) as { alpha: number; masks: number; pearson: number[] }[];
    assert.equal(evals.map((e) => e.alpha), [0.025, 0.05, 0.1]);
    assert.ok(evals.every((e) => e.masks === EVAL && e.pearson.length === N));
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    assert.ok(/^<!doctype html>/i.test(html) && html.includes('<svg'), 'a report with plots');
  });

  test(`coar run --model ${model}: stored margins equal PyTorch zeroing the same rows of the bundled weights`, () => {
    const masks = readNpy(join(out, 'masks.npy')).data as Uint8Array;
    const first = join(dir, `${model}-masks.npy`);
    writeNpy(first, 'b1', [4, components], masks.subarray(0, 4 * components));
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { examples: number[] };
    assert.equal(manifest.examples, [0, 1, 2, 3, 4, 5]);
    const torchOut = join(dir, `${model}-torch.npy`);
    runReference('fashion_reference.py', ['ablate', join(WEIGHTS, weights), first, manifest.examples.join(','), torchOut]);
    const ours = loadF32(join(out, 'test_margins.npy')).data.subarray(0, 4 * N);
    const err = relError(ours, loadF32(torchOut).data);
    assert.ok(err < 1e-4, `relative error ${err}`);
  });

  test(`coar run --model ${model} again: the sweep resumes with nothing to do and the store is unchanged`, () => {
    const before = statSync(join(out, 'test_margins.npy')).mtimeMs;
    const stored = loadF32(join(out, 'test_margins.npy')).data;
    const r = coar(args.filter((a) => a !== '--quiet'));
    assert.is(r.code, 0, r.stderr);
    assert.match(r.stderr, `${M} already completed, 0 to do`);
    // the console: a few lines, each naming its stage; no Dawn notice, no solver iteration
    const lines = r.stderr.split('\n');
    assert.ok(lines.length <= 8, `${lines.length} lines on stderr:\n${r.stderr}`);
    for (const l of lines) assert.match(l, /^(sweep|fit|eval|report): /, `a line that names no stage: ${l}`);
    assert.is(lines.filter((l) => l.startsWith('fit: ')).length, 2, `the fit: a start and an end line\n${r.stderr}`);
    assert.is(statSync(join(out, 'test_margins.npy')).mtimeMs, before);
    assert.equal([...loadF32(join(out, 'test_margins.npy')).data], [...stored]);
    assert.ok(existsSync(join(out, 'report.html')));
  });
}

test('coar run --json and coar eval --json print one JSON summary on stdout, equal to the eval.json they wrote', () => {
  const out = join(dir, 'cnn');
  const base = ['--model', 'cnn', '--examples', String(N), '--masks', String(M), '--eval-masks', String(EVAL), '--out', out, '--quiet'];
  const r = coar(['run', ...base, '--json']);
  assert.is(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout) as { command: string; components: number; masks: number; examples: number; stages: { name: string }[]; eval: { alpha: number; pearsonMean: number }[] };
  assert.equal([summary.command, summary.components, summary.masks, summary.examples], ['run', 112, M, N]);
  assert.equal(summary.stages.map((x) => x.name), ['sweep', 'fit', 'eval', 'report']);
  const written = JSON.parse(readFileSync(join(out, 'eval.json'), 'utf8')) as { alpha: number; pearsonMean: number }[];
  assert.equal(summary.eval.map((e) => [e.alpha, e.pearsonMean]), written.map((e) => [e.alpha, e.pearsonMean]));
  const e = coar(['eval', out, '--masks', String(EVAL), '--out', join(dir, 'eval-json'), '--json', '--quiet']);
  assert.is(e.code, 0, e.stderr);
  const ev = JSON.parse(e.stdout) as { command: string; eval: { alpha: number; masks: number; pearsonMean: number }[] };
  const again = JSON.parse(readFileSync(join(dir, 'eval-json', 'eval.json'), 'utf8')) as { alpha: number; pearsonMean: number }[];
  assert.is(ev.command, 'eval');
  assert.equal(ev.eval.map((x) => [x.alpha, x.masks, x.pearsonMean]), again.map((x) => [x.alpha, EVAL, x.pearsonMean]));
  // sweep and fit: a fresh store, then its fit, each one JSON line
  const store = join(dir, 'json-store');
  const sw = coar(['sweep', '--arch', 'mini-resnet', '--weights', join(WEIGHTS, 'fashion-cnn.safetensors'), '--data', 'fashion-mnist', '--examples', '3', '--masks', '40', '--out', store, '--quiet', '--json']);
  assert.is(sw.code, 0, sw.stderr);
  const s = JSON.parse(sw.stdout) as { command: string; computed: number; examples: number };
  assert.equal([s.command, s.computed, s.examples], ['sweep', 40, 3]);
  const ft = coar(['fit', store, '--method', 'ols', '--quiet', '--json']);
  assert.is(ft.code, 0, ft.stderr);
  const f = JSON.parse(ft.stdout) as Record<string, unknown>;
  assert.is(f.command, 'fit');
  const fitJson = JSON.parse(readFileSync(join(store, 'fit.json'), 'utf8')) as Record<string, unknown>;
  for (const [k, v] of Object.entries(fitJson)) assert.equal(f[k], v, `fit --json ${k} equals fit.json's`);
});

test('coar report renders the report again from the files alone, and says what is missing', () => {
  const out = join(dir, 'cnn');
  const again = join(dir, 'again.html');
  const r = coar(['report', out, '--out', again]);
  assert.is(r.code, 0, r.stderr);
  const html = readFileSync(again, 'utf8');
  assert.ok((html.match(/<svg/g) ?? []).length >= 5, 'the plots are there');
  assert.match(html, 'layer.2.conv2.weight[');
  const bare = join(dir, 'bare');
  const s = coar(['sweep', '--arch', 'mini-resnet', '--weights', join(WEIGHTS, 'fashion-cnn.safetensors'), '--data', 'fashion-mnist', '--examples', '2', '--masks', '4', '--out', bare, '--quiet']);
  assert.is(s.code, 0, s.stderr);
  const missing = coar(['report', bare]);
  assert.is(missing.code, 1);
  assert.match(missing.stderr, `${bare} has no attributions.npy: run coar fit ${bare} first`);
  assert.not.ok(existsSync(join(bare, 'report.html')));
  // a store whose weights are gone still reports: the report reads the store's files alone
  const weights = join(dir, 'moved.safetensors');
  copyFileSync(join(WEIGHTS, 'fashion-cnn.safetensors'), weights);
  const moved = join(dir, 'moved');
  assert.is(coar(['sweep', '--arch', 'mini-resnet', '--weights', weights, '--data', 'fashion-mnist', '--examples', '3', '--masks', '40', '--out', moved, '--quiet']).code, 0);
  assert.is(coar(['fit', moved, '--method', 'ols', '--quiet']).code, 0);
  rmSync(weights);
  const page = coar(['report', moved]);
  assert.is(page.code, 0, page.stderr);
  const text = readFileSync(join(moved, 'report.html'), 'utf8');
  assert.match(text, 'layer.2.conv2.weight[');
  // the class names come from the manifest (Fashion-MNIST's test images 0-2: ankle boot, pullover, trouser)
  for (const c of ['Ankle boot', 'Pullover', 'Trouser']) assert.match(text, c);
});

test.run();
