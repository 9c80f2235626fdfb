/**
 * Kernel choices never change the numbers beyond their stated precision: the f16 path's
 * logits are within 1e-2 of PyTorch f32, and its margins rank masks as the f32 run does
 * (Spearman >= 0.999 by scipy); a tuned tile that is not the default (shared memory, subgroup
 * broadcast, channels-first workgroup order) still equals PyTorch;
 * the tuning cache is written, read back, and rebuilt with --retune; `coar bench ceiling`
 * and `coar bench --profile` print their columns. Sizes are tiny: speed lives in bench/.
 */
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { coar } from './support/cli.js';
import { loadF32, relError } from './support/compare.js';
import { runReference } from './support/python.js';
import { tempDir } from './support/tmp.js';

const dir = tempDir();
const cache = join(dir, 'tuning.json');
const env = { WEBCOAR_TUNING: cache };
const mini = join(dir, 'mini');
const vit = join(dir, 'vit');
runReference('resnet_reference.py', ['mini-resnet', mini, '--width', '8', '--blocks', '1', '--n', '2']);
runReference('vit_reference.py', [vit, '--n', '2']);

function ablateLogits(d: string, arch: string, extra: string[], out: string): { data: Float32Array; shape: number[] } {
  const r = coar(['ablate', '--arch', arch, '--weights', join(d, 'weights.safetensors'), '--inputs', join(d, 'inputs.npy'), '--labels', join(d, 'labels.npy'),
    '--masks', join(d, 'masks.npy'), '--out', out, '--output', 'logits', ...extra], { env });
  assert.is(r.code, 0, r.stderr);
  return loadF32(out);
}

function perMaskError(ours: { data: Float32Array; shape: number[] }, d: string): number {
  const ref = loadF32(join(d, 'logits.npy'));
  assert.equal(ours.shape, ref.shape);
  const [k, n, c] = ref.shape as [number, number, number];
  let worst = 0;
  for (let m = 0; m < k; m++) worst = Math.max(worst, relError(ours.data.subarray(m * n * c, (m + 1) * n * c), ref.data.subarray(m * n * c, (m + 1) * n * c)));
  return worst;
}

for (const [name, d, arch] of [['MiniResNet', mini, 'mini-resnet'], ['ViT', vit, 'vit']] as const) {
  test(`${name}: --precision f16 logits are within 1e-2 (relative) of PyTorch f32 under every mask`, () => {
    const err = perMaskError(ablateLogits(d, arch, ['--precision', 'f16'], join(d, 'f16.npy')), d);
    assert.ok(err <= 1e-2, `relative error ${err.toExponential(2)} > 1e-2`);
  });
}

test('f16 margins rank a sweep\'s masks as the f32 run does: Spearman >= 0.999 per example (scipy)', () => {
  const sweep = (out: string, extra: string[]) => {
    const r = coar(['sweep', '--arch', 'mini-resnet', '--weights', join(import.meta.dirname ?? 'test', '..', 'weights', 'fashion-cnn.safetensors'),
      '--data', 'fashion-mnist', '--examples', '6', '--masks', '96', '--alpha', '0.05', '--seed', '5', '--out', out, '--quiet', ...extra], { env });
    assert.is(r.code, 0, r.stderr);
  };
  sweep(join(dir, 's32'), []);
  sweep(join(dir, 's16'), ['--precision', 'f16']);
  const split = readdirMargins(join(dir, 's32'));
  copyFileSync(join(dir, 's32', split), join(dir, 'eval_0_true.npy'));
  copyFileSync(join(dir, 's16', split), join(dir, 'eval_0_predicted.npy'));
  const [r] = JSON.parse(runReference('eval_reference.py', [dir, '1'])) as { spearman: number[] }[];
  const worst = Math.min(...r!.spearman);
  assert.ok(worst >= 0.999, `Spearman per example ${r!.spearman.map((x) => x.toFixed(4)).join(', ')}`);
});

function readdirMargins(store: string): string {
  const m = JSON.parse(readFileSync(join(store, 'manifest.json'), 'utf8')) as { split: string };
  return `${m.split}_margins.npy`;
}

const miniArgs = ['--arch', 'mini-resnet', '--weights', join(mini, 'weights.safetensors'), '--masks', '4', '--examples', '2'];
type CacheFile = { adapters: Record<string, Record<string, { choice: Record<string, unknown>; date: string }>> };

test('bench tune writes the cache: one entry per conv shape class of the model, under the adapter', () => {
  const r = coar(['bench', 'tune', ...miniArgs, '--quick'], { env });
  assert.is(r.code, 0, r.stderr);
  assert.ok(existsSync(cache), 'no cache file');
  const c = JSON.parse(readFileSync(cache, 'utf8')) as CacheFile;
  const adapters = Object.keys(c.adapters);
  assert.is(adapters.length, 1);
  const keys = Object.keys(c.adapters[adapters[0]!]!);
  // stem 4->8, block convs 8->8 (masked), classifier 512->10: three conv shape classes
  assert.is(keys.filter((k) => k.startsWith('conv2d')).length, 3, keys.join('; '));
});

/** Put `tile` in the cache for every conv shape class; the ablated logits must equal PyTorch's and the profile name the tile. */
function checkCachedTile(tile: Record<string, number | boolean>, out: string, name: RegExp): void {
  const c = JSON.parse(readFileSync(cache, 'utf8')) as CacheFile;
  const entries = Object.values(c.adapters)[0]!;
  for (const e of Object.values(entries)) if ('tp' in e.choice) e.choice = { ...tile };
  writeFileSync(cache, JSON.stringify(c));
  const err = perMaskError(ablateLogits(mini, 'mini-resnet', [], join(mini, out)), mini);
  assert.ok(err <= 1e-4, `relative error ${err.toExponential(2)} > 1e-4`);
  const p = coar(['bench', '--profile', ...miniArgs, '--repeats', '1'], { env });
  assert.is(p.code, 0, p.stderr);
  assert.match(p.stdout, name);
}

test('a tuned tile that is not the default (2-D workgroup, shared-memory weights) still equals PyTorch, and is the one used', () => {
  checkCachedTile({ tp: 2, tc4: 1, wg: 16, wgc: 2, shared: true, kch: 2 }, 'tuned.npy', /conv3x3 2x4\/16x2\/shared2/);
});

test('a subgroup tile (weights shared by broadcast among the lanes of a subgroup, any width) still equals PyTorch, and is the one used', () => {
  checkCachedTile({ tp: 2, tc4: 2, wg: 64, subgroup: true }, 'subgroup.npy', /conv3x3 2x8\/64x1\/sg/);
});

test('channels-first workgroup order (subgroup and shared-memory tiles) still equals PyTorch, and is the one used', () => {
  checkCachedTile({ tp: 2, tc4: 2, wg: 64, subgroup: true, channelsFirst: true }, 'cf_subgroup.npy', /conv3x3 2x8\/64x1\/sg\/cf/);
  checkCachedTile({ tp: 2, tc4: 1, wg: 16, wgc: 2, shared: true, kch: 2, channelsFirst: true }, 'cf_shared.npy', /conv3x3 2x4\/16x2\/shared2\/cf/);
});

test('--retune measures every shape class again and replaces the cached choices', () => {
  const before = JSON.parse(readFileSync(cache, 'utf8')) as CacheFile;
  const r = coar(['bench', 'tune', ...miniArgs, '--quick', '--retune'], { env });
  assert.is(r.code, 0, r.stderr);
  const after = JSON.parse(readFileSync(cache, 'utf8')) as CacheFile;
  const a = Object.values(after.adapters)[0]!, b = Object.values(before.adapters)[0]!;
  for (const [k, e] of Object.entries(b)) {
    if (!k.startsWith('conv2d')) continue;
    assert.ok(a[k]!.date > e.date, `${k} not measured again`);
    assert.not.equal(a[k]!.choice, { tp: 2, tc4: 1, wg: 16, wgc: 2, shared: true, kch: 2 }, `${k} kept the hand-written choice`);
  }
});

test('bench ceiling prints the adapter, the GEMM ceiling and the copy bandwidth', () => {
  const r = coar(['bench', 'ceiling', '--quick', '--gemm-size', '128'], { env });
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /^adapter\s+\S/m);
  assert.match(r.stdout, /^GEMM ceiling\s+[\d.]+ GFLOP\/s/m);
  assert.match(r.stdout, /^copy bandwidth\s+[\d.]+ GB\/s/m);
});

test('bench --profile prints per kernel: time, FLOPs, bytes, GFLOP/s, GB/s, bound and % of ceiling', () => {
  const r = coar(['bench', '--profile', '--arch', 'vit', '--weights', join(vit, 'weights.safetensors'), '--masks', '2', '--repeats', '1'], { env });
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /kernel\s+op\s+ms\s+MFLOP\s+MB\s+GFLOP\/s\s+GB\/s\s+bound\s+% ceiling/);
  for (const k of ['conv1x1', 'attention', 'layernorm', 'total']) assert.match(r.stdout, new RegExp(`^${k}`, 'm'));
  assert.match(r.stdout, /passes\/s end to end/);
});

test('bench --profile warns when kernels beat the cached ceiling (a ceiling measured under load)', () => {
  const c = JSON.parse(readFileSync(cache, 'utf8')) as CacheFile;
  const entries = Object.values(c.adapters)[0]!;
  assert.ok(entries.ceiling, 'the ceiling test above caches a ceiling');
  entries.ceiling!.choice = { ...entries.ceiling!.choice, gflops: 1e-4 };
  writeFileSync(cache, JSON.stringify(c));
  const r = coar(['bench', '--profile', ...miniArgs, '--repeats', '1'], { env });
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, /warning: kernels run at up to [\d.]+x the cached ceiling .*coar bench ceiling/);
});

test('bad input: --precision f64 and bench without a subject each get one line and exit 1', () => {
  const a = coar(['bench', '--profile', '--precision', 'f64'], { env });
  assert.is(a.code, 1);
  assert.match(a.stderr, /precision/);
  const b = coar(['bench'], { env });
  assert.is(b.code, 1);
  assert.match(b.stderr, /name what to measure/);
});

test.run();
