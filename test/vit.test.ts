/**
 * Vision Transformers equal PyTorch when the same components are ablated by zeroing weight
 * rows (REFERENCE.md, "Components" and "Ablation"). The reference runs live: random
 * torchvision ViTs with every bias, LayerNorm, token and head parameter made non-trivial,
 * built, ablated and run by Debian's PyTorch; the same weights renamed to timm's layout
 * must give the same numbers. The flash attention tile (attention_flash.wgsl, what GPU-class
 * profiles default to) is forced with --tile and held to the same tolerances.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeNpy } from '../src/io/npy.js';
import { readSafetensors, writeSafetensors } from '../src/io/safetensors.js';
import { coar } from './support/cli.js';
import { assertComponentTable } from './support/components.js';
import { loadF32, relError } from './support/compare.js';
import { runReference } from './support/python.js';
import { tempDir } from './support/tmp.js';

const root = tempDir('coar-vit-');
const TOL = 1e-4;

interface Case {
  name: string;
  args: string[];
  components: number;
  /** also written in timm's layout */
  timm?: boolean;
  /** heads given by flag instead of metadata */
  headsFlag?: number;
  arch?: string;
}

// per block: 3D (q, k, v) + D (out_proj) + M (fc1) + D (fc2)
const cases: Case[] = [
  { name: 'tiny: 2 blocks, width 32, 4 heads, patch 8, 32x32', args: ['--layers', '2', '--width', '32', '--heads', '4', '--mlp', '64', '--patch', '8', '--size', '32', '--n', '3'],
    components: 2 * (5 * 32 + 64), timm: true },
  { name: 'tiny: 1 block, width 24, 2 heads of 12, patch 4, 16x16, 7 classes', args: ['--layers', '1', '--width', '24', '--heads', '2', '--mlp', '40', '--patch', '4', '--size', '16', '--classes', '7'],
    components: 5 * 24 + 40 },
  { name: 'tiny: 3 blocks, width 18, 3 heads of 6 (scalar path, padded width), patch 7, 28x28, heads by --heads', args: ['--layers', '3', '--width', '18', '--heads', '3', '--mlp', '30', '--patch', '7', '--size', '28', '--classes', '5', '--no-metadata'],
    components: 3 * (5 * 18 + 30), headsFlag: 3 },
  { name: 'tiny: 4 blocks, width 16, 1 head, patch 16, 32x32', args: ['--layers', '4', '--width', '16', '--heads', '1', '--mlp', '32', '--patch', '16', '--size', '32', '--n', '2', '--whole-block', '0'],
    components: 4 * (5 * 16 + 32) },
  // torchvision ViT-B/16: 12 x (2304 + 768 + 3072 + 768) = 82,944 (REFERENCE.md)
  { name: 'vit_b_16 at 224x224, 2 images', args: ['--arch', 'vit_b_16', '--classes', '1000', '--n', '2'], components: 82944, arch: 'vit_b_16' },
];

const ablateArgs = (dir: string, weights: string, c: Case, out: string, extra: string[] = []) => [
  'ablate', '--arch', c.arch ?? 'vit', '--weights', weights, ...(c.headsFlag ? ['--heads', String(c.headsFlag)] : []),
  '--inputs', join(dir, 'inputs.npy'), '--labels', join(dir, 'labels.npy'), '--masks', join(dir, 'masks.npy'), '--out', out, ...extra,
];

function assertLogitsMatch(out: string, dir: string): void {
  const ours = loadF32(out), ref = loadF32(join(dir, 'logits.npy'));
  assert.equal(ours.shape, ref.shape);
  const [k, n, classes] = ref.shape as [number, number, number];
  const per = n * classes;
  const errs: string[] = [];
  for (let m = 0; m < k; m++) {
    const err = relError(ours.data.subarray(m * per, (m + 1) * per), ref.data.subarray(m * per, (m + 1) * per));
    errs.push(err.toExponential(2));
    assert.ok(err <= TOL, `mask ${m}: relative error ${err.toExponential(2)} > ${TOL}`);
  }
  console.log(`    relative errors per mask (alpha 0, 5%, 50%, whole block): ${errs.join(', ')}`);
}

/** Margins: PyTorch's true-class logit minus its best other logit, per mask and example. */
function assertMarginsMatch(out: string, dir: string): void {
  const ours = loadF32(out), ref = loadF32(join(dir, 'logits.npy'));
  const labels = loadF32(join(dir, 'labels.npy')).data;
  const [k, n, classes] = ref.shape as [number, number, number];
  assert.equal(ours.shape, [k, n]);
  let worst = 0;
  for (let m = 0; m < k; m++) {
    for (let e = 0; e < n; e++) {
      const row = ref.data.subarray((m * n + e) * classes, (m * n + e + 1) * classes);
      let best = -Infinity;
      row.forEach((v, j) => { if (j !== labels[e]) best = Math.max(best, v); });
      const want = row[labels[e]!]! - best;
      const got = ours.data[m * n + e]!;
      worst = Math.max(worst, Math.abs(got - want) / Math.max(1, Math.abs(want)));
      assert.ok(Math.abs(got - want) <= TOL * 10 * Math.max(1, Math.abs(want)), `mask ${m} example ${e}: margin ${got} vs ${want}`);
    }
  }
  console.log(`    worst margin error (relative to max(1, |margin|)): ${worst.toExponential(2)}`);
}

for (const c of cases) {
  const dir = join(root, c.name.replace(/[^a-z0-9]+/gi, '_'));
  const weights = join(dir, 'weights.safetensors');
  const heads = c.headsFlag ? ['--heads', String(c.headsFlag)] : [];

  test(`${c.name}: component table has ${c.components} components named and ordered as PyTorch's named_modules`, () => {
    runReference('vit_reference.py', [dir, ...c.args, ...(c.timm ? ['--timm'] : [])]);
    assertComponentTable(['--arch', c.arch ?? 'vit', '--weights', weights, ...heads], dir, c.components);
  });

  test(`${c.name}: ablated logits equal PyTorch zeroing weight rows (alpha 0, 5%, 50%, whole block) to ${TOL}`, () => {
    const out = join(dir, 'ours_logits.npy');
    const r = coar(ablateArgs(dir, weights, c, out, ['--output', 'logits']));
    assert.is(r.code, 0, r.stderr);
    assertLogitsMatch(out, dir);
  });

  if (c.arch === 'vit_b_16') continue;

  test(`${c.name}: margins are the true-class logit minus the best other logit of PyTorch's logits`, () => {
    const out = join(dir, 'ours_margins.npy');
    const r = coar(ablateArgs(dir, weights, c, out));
    assert.is(r.code, 0, r.stderr);
    assertMarginsMatch(out, dir);
  });

  if (!c.timm) continue;

  test(`${c.name}: the same weights in timm's layout keep timm's names and give PyTorch's logits`, () => {
    const timm = join(dir, 'weights_timm.safetensors');
    const r = coar(['components', '--arch', 'vit', '--weights', timm, '--json']);
    assert.is(r.code, 0, r.stderr);
    const ref = JSON.parse(readFileSync(join(dir, 'components.json'), 'utf8')) as { timm_names: string[] };
    assert.equal((JSON.parse(r.stdout) as { name: string }[]).map((x) => x.name), ref.timm_names);
    assert.ok(ref.timm_names[0]!.startsWith('blocks.0.attn.qkv.weight['));
    const out = join(dir, 'ours_timm_logits.npy');
    const a = coar(ablateArgs(dir, timm, c, out, ['--output', 'logits']));
    assert.is(a.code, 0, a.stderr);
    assertLogitsMatch(out, dir);
    // and the same numbers as the torchvision file, not merely close to PyTorch
    assert.equal(loadF32(out).data, loadF32(join(dir, 'ours_logits.npy')).data);
  });
}

// ---- the flash attention tile forced (issue 21.3) ----
// GPU-class profiles run attention_flash.wgsl by default; lavapipe does not, so without --tile
// nothing here would run it. Each case forces it and compares with PyTorch as above: 197 tokens
// and heads of 64 (ViT-B/16's shapes: 6 full key blocks of 32 and a partial one of 5, a last
// block asking for the class token alone), 17 tokens in blocks of 8 (a partial block of 1), and
// heads of 6 (the scalar path, a padded width) in blocks of 16.

interface FlashCase { name: string; dir: string; tile: string; heads?: number; reference?: string[] }
const caseDir = (c: Case) => join(root, c.name.replace(/[^a-z0-9]+/gi, '_'));
const flashCases: FlashCase[] = [
  { name: '197 tokens, 2 heads of 64 (2 blocks, width 128, patch 16, 224x224)', dir: join(root, 'flash_197'), tile: 'attn/flash64/kv32',
    reference: ['--layers', '2', '--width', '128', '--heads', '2', '--mlp', '256', '--patch', '16', '--size', '224'] },
  { name: `${cases[0]!.name} (17 tokens, heads of 8)`, dir: caseDir(cases[0]!), tile: 'attn/flash64/kv8' },
  { name: `${cases[2]!.name} (17 tokens, heads of 6)`, dir: caseDir(cases[2]!), tile: 'attn/flash64/kv16', heads: cases[2]!.headsFlag },
];

const flashArgs = (f: FlashCase, out: string, extra: string[] = []) => [
  'ablate', '--arch', 'vit', '--weights', join(f.dir, 'weights.safetensors'), ...(f.heads ? ['--heads', String(f.heads)] : []),
  '--inputs', join(f.dir, 'inputs.npy'), '--labels', join(f.dir, 'labels.npy'), '--masks', join(f.dir, 'masks.npy'), '--out', out, '--tile', f.tile, ...extra,
];

for (const f of flashCases) {
  test(`--tile ${f.tile}, ${f.name}: ablated logits equal PyTorch to ${TOL}`, () => {
    if (f.reference) runReference('vit_reference.py', [f.dir, ...f.reference]);
    const out = join(f.dir, `flash_logits_${f.tile.replace(/\W+/g, '_')}.npy`);
    const r = coar(flashArgs(f, out, ['--output', 'logits']));
    assert.is(r.code, 0, r.stderr);
    assertLogitsMatch(out, f.dir);
  });

  test(`--tile ${f.tile}, ${f.name}: margins equal PyTorch's`, () => {
    const out = join(f.dir, `flash_margins_${f.tile.replace(/\W+/g, '_')}.npy`);
    const r = coar(flashArgs(f, out));
    assert.is(r.code, 0, r.stderr);
    assertMarginsMatch(out, f.dir);
  });
}

test('--tile attn/flash64/kv32 is what every attention of the 197-token ViT runs (bench --profile names it)', () => {
  const f = flashCases[0]!;
  const r = coar(['bench', '--profile', '--arch', 'vit', '--weights', join(f.dir, 'weights.safetensors'), '--masks', '2', '--repeats', '1', '--tile', f.tile]);
  assert.is(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n').filter((l) => /^attention /.test(l));
  assert.is(lines.length, 2, r.stdout);
  // all 197 queries in workgroups of 64; the last block's class token alone in the smallest workgroup (32)
  assert.match(lines[0]!, /^attention flash64\/kv32 /);
  assert.match(lines[1]!, /^attention flash32\/kv32 /);
});

test('bad input: a flash tile whose key block does not fit the workgroup memory is refused in one line naming the tile', () => {
  const f = flashCases[0]!;
  // 2 x 1024 keys x 64 values x 4 bytes = 512 KiB: over any adapter's workgroup memory
  const out = join(f.dir, 'too_big.npy');
  const r = coar(flashArgs({ ...f, tile: 'attn/flash64/kv1024' }, out));
  assert.is.not(r.code, 0, 'expected a non-zero exit');
  const lines = r.stderr.split('\n').filter((l) => l.trim());
  assert.is(lines.length, 1, `expected one line, got:\n${r.stderr}`);
  assert.match(lines[0]!, /^coar: tile attn\/flash64\/kv1024 cannot run here: 524288 bytes of workgroup memory for heads of 64/);
  assert.ok(!existsSync(out), `${out} was written`);
});

// ---- bad input: one clear line, exit code != 0, no output file ----

const good = join(root, cases[0]!.name.replace(/[^a-z0-9]+/gi, '_'));

/** A copy of the first tiny model with tensors changed (or metadata replaced). */
function variant(name: string, edit: (t: Map<string, { shape: number[]; data: Float32Array }>) => void, metadata?: Record<string, string>): string {
  const f = readSafetensors(join(good, 'weights.safetensors'));
  edit(f.tensors);
  const path = join(root, `${name}.safetensors`);
  writeSafetensors(path, f.tensors, metadata ?? f.metadata);
  return path;
}

function assertRefused(args: string[], out: string, pattern: RegExp): void {
  const r = coar([...args, '--out', out]);
  assert.is.not(r.code, 0, 'expected a non-zero exit');
  const lines = r.stderr.split('\n').filter((l) => l.trim());
  assert.is(lines.length, 1, `expected one line, got:\n${r.stderr}`);
  assert.match(lines[0]!, pattern);
  assert.ok(!existsSync(out), `${out} was written`);
}

const goodArgs = (weights: string) => ['ablate', '--arch', 'vit', '--weights', weights,
  '--inputs', join(good, 'inputs.npy'), '--labels', join(good, 'labels.npy'), '--masks', join(good, 'masks.npy')];

test('bad input: misshaped q/k/v weights are refused naming the tensor and both shapes', () => {
  const w = variant('bad-qkv', (t) => {
    const name = 'encoder.layers.encoder_layer_1.self_attention.in_proj_weight';
    t.set(name, { shape: [64, 32], data: t.get(name)!.data.subarray(0, 64 * 32) });
  });
  assertRefused(goodArgs(w), join(root, 'bad-qkv.npy'), /in_proj_weight.*\[64, 32\].*\[96, 32\]/);
  const r = coar(['components', '--arch', 'vit', '--weights', w]);
  assert.is.not(r.code, 0);
  assert.match(r.stderr, /in_proj_weight/);
});

test('bad input: heads that do not divide the width are refused, from --heads and from metadata', () => {
  assertRefused([...goodArgs(join(good, 'weights.safetensors')), '--heads', '5'], join(root, 'bad-heads.npy'), /--heads = 5 does not divide the model width 32/);
  const w = variant('bad-heads-meta', () => {}, { num_heads: '3' });
  assertRefused(goodArgs(w), join(root, 'bad-heads-meta.npy'), /num_heads.* = 3 does not divide the model width 32/);
});

test('bad input: a model without num_heads metadata and no --heads asks for --heads', () => {
  const w = variant('no-heads', () => {}, {});
  assertRefused(goodArgs(w), join(root, 'no-heads.npy'), /attention heads.*--heads N/);
});

test('bad input: images of the wrong size for the position embedding are refused with the expected size', () => {
  const inputs = join(root, 'inputs40.npy');
  writeNpy(inputs, 'f4', [3, 3, 40, 40], new Float32Array(3 * 3 * 40 * 40).fill(0.5));
  const args = goodArgs(join(good, 'weights.safetensors'));
  args[args.indexOf('--inputs') + 1] = inputs;
  assertRefused(args, join(root, 'bad-size.npy'), /inputs of 40x40 .*position embedding.*17 tokens.*32x32/);
});

test('bad input: --arch vit_b_16 on weights of another shape names what differs', () => {
  const args = goodArgs(join(good, 'weights.safetensors'));
  args[args.indexOf('--arch') + 1] = 'vit_b_16';
  assertRefused(args, join(root, 'bad-arch.npy'), /vit_b_16 expects layers 12, width 768.*--arch vit/);
});

test('bad input: an unsupported ViT variant (extra tensors) is refused, not silently mis-computed', () => {
  const w = variant('pre-logits', (t) => t.set('heads.pre_logits.weight', { shape: [32, 32], data: new Float32Array(32 * 32) }));
  assertRefused(goodArgs(w), join(root, 'pre-logits.npy'), /unexpected tensor 'heads.pre_logits.weight'/);
});

test.run();
