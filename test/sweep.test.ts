/**
 * The sweep store: numpy opens it in the reference layout; a sweep killed with SIGKILL and
 * started again finishes without recomputing completed rows and equals an uninterrupted
 * run exactly; shards merge into the same store; margins equal PyTorch's for the same masks;
 * evaluation correlations equal scipy's.
 */
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generateMasks } from '../src/coar/masks.js';
import { readNpy, writeNpy } from '../src/io/npy.js';
import { coar } from './support/cli.js';
import { loadF32, relError } from './support/compare.js';
import { runReference } from './support/python.js';
import { tempDir } from './support/tmp.js';

const dir = tempDir();
const ref = join(dir, 'ref');
runReference('resnet_reference.py', ['mini-resnet', ref, '--width', '8', '--blocks', '2', '--n', '6']);
const model = ['--arch', 'mini-resnet', '--weights', join(ref, 'weights.safetensors'), '--inputs', join(ref, 'inputs.npy'), '--labels', join(ref, 'labels.npy')];
const M = 240;
const sweepArgs = (out: string, extra: string[] = []) => ['sweep', ...model, '--masks', String(M), '--alpha', '0.1', '--seed', '3', '--out', out, '--quiet', ...extra];
const store = (d: string) => JSON.parse(runReference('store_reference.py', [d, 'examples'])) as { masks: [string, number[]]; margins: [string, number[]]; completed: [string, number]; keep_rate: number; digest: string };

test('numpy opens the store: bool masks [m, |C|], float32 margins [m, n], bool completed [m]', () => {
  const r = coar(sweepArgs(join(dir, 'full')));
  assert.is(r.code, 0, r.stderr);
  const s = store(join(dir, 'full'));
  assert.equal(s.masks, ['bool', [M, 40]]);
  assert.equal(s.margins, ['float32', [M, 6]]);
  assert.equal(s.completed, ['bool', M]);
  assert.ok(Math.abs(s.keep_rate - 0.9) < 0.02, `keep rate ${s.keep_rate} for alpha 0.1`);
  const manifest = JSON.parse(readFileSync(join(dir, 'full', 'manifest.json'), 'utf8'));
  assert.is(manifest.components.length, 40);
  assert.is(manifest.components[8], 'layer.0.conv1.weight[0]');
  assert.is(manifest.alpha, 0.1);
  assert.match(manifest.model.sha256, /^[0-9a-f]{64}$/);
});

test('stored margins equal PyTorch zeroing the same masks', () => {
  const masks = readNpy(join(dir, 'full', 'masks.npy')).data as Uint8Array;
  writeNpy(join(dir, 'some_masks.npy'), 'b1', [5, 40], masks.subarray(0, 5 * 40));
  runReference('resnet_reference.py', ['mini-resnet', join(dir, 'ref5'), '--width', '8', '--blocks', '2', '--n', '6', '--masks-from', join(dir, 'some_masks.npy')]);
  const torch = loadF32(join(dir, 'ref5', 'margins.npy')).data;
  const ours = loadF32(join(dir, 'full', 'examples_margins.npy')).data.subarray(0, 5 * 6);
  const err = relError(ours, torch);
  assert.ok(err < 1e-4, `relative error ${err}`);
});

test('a mask can be regenerated alone: rows of the stream do not depend on where it starts', () => {
  const all = generateMasks(3, 0.1, 0, 50, 40);
  const part = generateMasks(3, 0.1, 17, 5, 40);
  assert.equal([...part], [...all.subarray(17 * 40, 22 * 40)]);
});

test('a sweep killed with SIGKILL resumes, recomputes no completed row, and equals the uninterrupted run', async () => {
  const out = join(dir, 'killed');
  const bin = join(import.meta.dirname ?? 'test', '..', 'bin', 'coar.js');
  // small chunks so that the kill lands mid-sweep
  const child = spawn(process.execPath, [bin, ...sweepArgs(out, ['--chunk', '8'])], { stdio: 'ignore' });
  const completedPath = join(out, '_completed.npy');
  const started = Date.now();
  let before = 0;
  while (Date.now() - started < 120_000) {
    await new Promise((r) => setTimeout(r, 50));
    if (!existsSync(completedPath) || !existsSync(join(out, 'manifest.json'))) continue;
    before = (readNpy(completedPath).data as Uint8Array).reduce((a, b) => a + b, 0);
    if (before >= 24) break;
  }
  child.kill('SIGKILL');
  await new Promise((r) => child.on('exit', r));
  before = (readNpy(completedPath).data as Uint8Array).reduce((a, b) => a + b, 0);
  assert.ok(before > 0 && before < M, `killed mid-sweep with ${before}/${M} rows done`);
  const r = coar(sweepArgs(out).filter((a) => a !== '--quiet'));
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`${before} already completed, ${M - before} to do`));
  assert.is(store(out).digest, store(join(dir, 'full')).digest);
});

test('shards computed separately merge into a store equal to the single run', () => {
  const parts = [0, 1, 2].map((i) => join(dir, `shard${i}`));
  parts.forEach((p, i) => {
    const r = coar(sweepArgs(p, ['--shard', `${i}/3`]));
    assert.is(r.code, 0, r.stderr);
    assert.is(store(p).completed[1], 80);
  });
  const r = coar(['merge', join(dir, 'merged'), ...parts]);
  assert.is(r.code, 0, r.stderr);
  const s = store(join(dir, 'merged'));
  assert.is(s.completed[1], M);
  assert.is(s.digest, store(join(dir, 'full')).digest);
});

test('a store made for other weights is refused, and nothing in it changes', () => {
  const other = join(dir, 'other');
  runReference('resnet_reference.py', ['mini-resnet', other, '--width', '8', '--blocks', '2', '--n', '6', '--seed', '9']);
  const before = store(join(dir, 'full')).digest;
  const args = sweepArgs(join(dir, 'full'));
  args[args.indexOf('--weights') + 1] = join(other, 'weights.safetensors');
  const r = coar(args);
  assert.is(r.code, 1);
  assert.match(r.stderr, /holds a different sweep: it was made for other weights/);
  assert.is(store(join(dir, 'full')).digest, before);
});

test('alpha outside (0, 1) and a bad --shard are refused', () => {
  for (const a of ['0', '1', '-0.2', '1.5']) {
    const r = coar(sweepArgs(join(dir, 'bad'), ['--alpha', a]));
    assert.is(r.code, 1);
    assert.match(r.stderr, /--alpha must be in \(0, 1\)/);
  }
  const r = coar(sweepArgs(join(dir, 'bad'), ['--shard', '3/3']));
  assert.is(r.code, 1);
  assert.match(r.stderr, /--shard 3\/3/);
  assert.not.ok(existsSync(join(dir, 'bad', 'manifest.json')));
});

test('eval: per-example Pearson and Spearman equal scipy on the same margins', () => {
  const s = join(dir, 'full');
  let r = coar(['fit', s, '--method', 'ols', '--quiet']);
  assert.is(r.code, 0, r.stderr);
  r = coar(['eval', s, '--masks', '50', '--quiet']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /pearson mean/);
  const ours = JSON.parse(readFileSync(join(s, 'eval.json'), 'utf8')) as { alpha: number; pearson: number[]; spearman: number[] }[];
  assert.equal(ours.map((o) => o.alpha), [0.05, 0.1, 0.2]);
  const sc = JSON.parse(runReference('eval_reference.py', [s, '3'])) as { pearson: number[]; spearman: number[] }[];
  ours.forEach((o, i) => {
    o.pearson.forEach((v, e) => assert.ok(Math.abs(v - sc[i]!.pearson[e]!) < 1e-5, `pearson ${v} vs ${sc[i]!.pearson[e]}`));
    o.spearman.forEach((v, e) => assert.ok(Math.abs(v - sc[i]!.spearman[e]!) < 1e-5, `spearman ${v} vs ${sc[i]!.spearman[e]}`));
  });
});

test('a full disk: the sweep says so and leaves no store; the fit says so and the store stays whole', () => {
  const mnt = join(dir, 'tiny');
  mkdirSync(mnt);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=96k', 'tmpfs', mnt]);
  try {
    // a sweep too big for the disk fails at creation: nothing computed, nothing half-made
    const big = coar(['sweep', ...model, '--masks', '100000', '--out', join(mnt, 'big'), '--quiet']);
    assert.is(big.code, 1);
    assert.match(big.stderr, /not enough disk space: the store needs/);
    assert.not.ok(existsSync(join(mnt, 'big', 'manifest.json')));
    // a finished store fills the disk; the fit cannot write, and the store is unchanged
    cpSync(join(dir, 'full'), join(mnt, 'full'), { recursive: true });
    for (const f of ['attributions.npy', 'bias.npy', 'fit.json', 'eval.json', 'components.txt']) execFileSync('rm', ['-f', join(mnt, 'full', f)]);
    const before = store(join(mnt, 'full')).digest;
    try { writeFileSync(join(mnt, 'filler'), Buffer.alloc(96 * 1024)); } catch { /* filled */ }
    const r = coar(['fit', join(mnt, 'full'), '--method', 'ols', '--quiet']);
    assert.is(r.code, 1);
    assert.match(r.stderr, /disk full/);
    assert.not.ok(existsSync(join(mnt, 'full', 'attributions.npy')));
    assert.is(store(join(mnt, 'full')).digest, before);
  } finally {
    execFileSync('umount', [mnt]);
  }
});

test('an unwritable output folder is refused with its name', () => {
  const r = coar(sweepArgs('/etc/hostname/coar-store'));
  assert.is(r.code, 1);
  assert.match(r.stderr, /cannot write \/etc\/hostname\/coar-store/);
});

test.run();
