/**
 * The reference's CIFAR ResNet (its `cifar_resnet` model, the paper's CIFAR-10 ResNet-18):
 * 3x3 stride-1 stem, no max pool, stride-2 blocks with a 1x1 conv + BN `shortcut`,
 * AvgPool2d(4), `linear`. It equals PyTorch ablated the reference way (REFERENCE.md,
 * "Components" and "Ablation"), its 3,904 components exclude the shortcut convs, and the
 * weights of the other ResNet layout fail naming the --arch that reads them.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readSafetensors } from '../src/io/safetensors.js';
import { coar } from './support/cli.js';
import { runReference } from './support/python.js';
import { resnetCases, type ResNetCase } from './support/resnet_cases.js';
import { tempDir } from './support/tmp.js';

const root = tempDir();
const cases: ResNetCase[] = [
  // ResNet18 at the reference's widths 64-128-256-512: 64 + 2 blocks x 2 convs x each width
  { arch: 'cifar-resnet18', args: ['--n', '3'], components: 64 + 4 * (64 + 128 + 256 + 512), forward: true },
  // Bottleneck blocks, a quarter of the width, 64x64 inputs (the reference's feat_scale 4:
  // `linear` reads 2x2 pooled pixels in PyTorch's channel-major flatten), any class count,
  // read by the generic arch: 16 + 3·96 + 4·192 + 6·384 + 3·768
  { arch: 'cifar-resnet', ref: 'cifar-resnet50', args: ['--wm', '0.25', '--size', '64', '--n', '2', '--classes', '7'], components: 5680, forward: true },
];
const [r18, r50] = resnetCases(root, cases) as [string, string];
const w18 = join(r18, 'weights.safetensors');

test('cifar-resnet18: the 1x1 shortcut convs are in the weights but are not components', () => {
  const tensors = readSafetensors(w18).tensors;
  const shortcuts = [...tensors.keys()].filter((k) => /^layer\d\.\d\.shortcut\.0\.weight$/.test(k)).sort();
  assert.equal(shortcuts, ['layer2.0.shortcut.0.weight', 'layer3.0.shortcut.0.weight', 'layer4.0.shortcut.0.weight']);
  assert.equal(tensors.get('layer2.0.shortcut.0.weight')!.shape, [128, 64, 1, 1]);
  const r = coar(['components', '--arch', 'cifar-resnet18', '--weights', w18, '--json']);
  assert.is(r.code, 0, r.stderr);
  const names = (JSON.parse(r.stdout) as { name: string }[]).map((x) => x.name);
  assert.is(names.length, 3904);
  assert.ok(!names.some((n) => n.includes('shortcut') || n.startsWith('linear')), 'a shortcut conv or the linear head listed as a component');
});

test('the other layout\'s weights, or the wrong depth, fail in one line naming the --arch to use', () => {
  const tv = join(root, 'torchvision-resnet18');
  runReference('resnet_reference.py', ['resnet18', tv, '--n', '1', '--no-forward']);
  const expect = [
    { arch: 'resnet18', weights: w18, says: '--arch cifar-resnet18' },
    { arch: 'resnet', weights: w18, says: '--arch cifar-resnet' },
    { arch: 'cifar-resnet18', weights: join(tv, 'weights.safetensors'), says: '--arch resnet18' },
    { arch: 'cifar-resnet34', weights: w18, says: 'expects BasicBlock blocks 3-4-6-3, the weights have BasicBlock blocks 2-2-2-2' },
  ];
  for (const e of expect) {
    const r = coar(['components', '--arch', e.arch, '--weights', e.weights]);
    assert.is.not(r.code, 0, `--arch ${e.arch} accepted`);
    assert.ok(r.stderr.includes(e.says), `--arch ${e.arch}: ${r.stderr}`);
    assert.is(r.stderr.split('\n').length, 1, r.stderr);
  }
});

test('cifar-resnet18 refuses 64x64 inputs, saying it is made for 32x32', () => {
  const r = coar(['ablate', '--arch', 'cifar-resnet18', '--weights', w18, '--inputs', join(r50, 'inputs.npy'), '--labels', join(r50, 'labels.npy'),
    '--masks', join(r18, 'masks.npy'), '--out', join(root, 'never.npy')]);
  assert.is.not(r.code, 0);
  assert.ok(r.stderr.includes('made for 32x32 inputs'), r.stderr);
  assert.ok(!existsSync(join(root, 'never.npy')), 'output written');
});

test.run();
