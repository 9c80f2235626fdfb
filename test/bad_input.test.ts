/**
 * Bad input gets one clear line naming what was wrong, a non-zero exit, and no output
 * file: missing or misshaped tensors, masks of the wrong width, inputs of the wrong shape
 * or dtype, truncated or corrupt files, an unknown architecture.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeNpy } from '../src/io/npy.js';
import { coar } from './support/cli.js';
import { expectError, miniResnetCase } from './support/mini_resnet_case.js';
import { tempDir } from './support/tmp.js';

const dir = tempDir();
const { good, ablate, variant } = miniResnetCase(dir);

test('the good inputs work (the baseline for every case below)', () => {
  const r = ablate({});
  assert.is(r.code, 0, r.stderr);
  assert.ok(existsSync(r.out));
});

test('a missing weight tensor is named, with the shape it should have', () => {
  const w = variant('missing.safetensors', (f) => f.tensors.delete('layer.0.bn2.running_var'));
  expectError(ablate({ weights: w }), "'layer.0.bn2.running_var'", 'missing', '[8]');
});

test('a misshaped weight tensor is named with expected and found shapes', () => {
  const w = variant('misshaped.safetensors', (f) => {
    const t = f.tensors.get('layer.0.conv2.weight')!;
    f.tensors.set('layer.0.conv2.weight', { shape: [8, 8, 1, 9], data: t.data });
  });
  expectError(ablate({ weights: w }), "'layer.0.conv2.weight'", '[8, 8, 1, 9]', '[8, 8, 3, 3]');
});

test('masks of the wrong width say how many components the model has', () => {
  const m = join(dir, 'wide_masks.npy');
  writeNpy(m, 'b1', [2, 25], new Uint8Array(50).fill(1));
  expectError(ablate({ masks: m }), '24', '[2, 25]');
});

test('masks that are not 0/1 are refused', () => {
  const m = join(dir, 'float_masks.npy');
  writeNpy(m, 'f4', [2, 24], new Float32Array(48).fill(1));
  expectError(ablate({ masks: m }), 'bool or uint8');
});

test('inputs of the wrong rank, channel count or dtype are refused', () => {
  const rank3 = join(dir, 'rank3.npy');
  writeNpy(rank3, 'f4', [2, 3, 1024], new Float32Array(2 * 3 * 1024));
  expectError(ablate({ inputs: rank3 }), '[n, C, H, W]', '[2, 3, 1024]');
  const chans = join(dir, 'chans.npy');
  writeNpy(chans, 'f4', [2, 1, 32, 32], new Float32Array(2 * 1024));
  expectError(ablate({ inputs: chans }), '1 channels', 'expects 3');
  const f64 = join(dir, 'f64.npy');
  writeNpy(f64, 'f8', [2, 3, 32, 32], new Float64Array(2 * 3 * 1024));
  expectError(ablate({ inputs: f64 }), 'float32', 'f8');
});

test('inputs of a size the MiniResNet cannot pool to its linear layer are refused', () => {
  const small = join(dir, 'small.npy');
  writeNpy(small, 'f4', [2, 3, 16, 16], new Float32Array(2 * 3 * 256));
  expectError(ablate({ inputs: small }), '16x16', "'linear.weight'");
});

test('labels of the wrong length or out of range are refused', () => {
  const short = join(dir, 'short.npy');
  writeNpy(short, 'i8', [1], new BigInt64Array([1n]));
  expectError(ablate({ labels: short }), '[2]', '[1]');
  const big = join(dir, 'big.npy');
  writeNpy(big, 'i8', [2], new BigInt64Array([1n, 10n]));
  expectError(ablate({ labels: big }), 'label 10', '0..9');
});

test('a truncated safetensors file is reported as truncated', () => {
  const bytes = readFileSync(good.weights);
  const p = join(dir, 'truncated.safetensors');
  writeFileSync(p, bytes.subarray(0, bytes.length - 100));
  expectError(ablate({ weights: p }), 'truncated');
});

test('a corrupt safetensors file is reported as not a safetensors file', () => {
  const p = join(dir, 'corrupt.safetensors');
  writeFileSync(p, Buffer.from('this is not a tensor file at all, just text'));
  expectError(ablate({ weights: p }), 'not a valid safetensors file');
});

test('a truncated or corrupt .npy file is reported with its path', () => {
  const bytes = readFileSync(good.inputs);
  const t = join(dir, 'truncated.npy');
  writeFileSync(t, bytes.subarray(0, bytes.length - 7));
  expectError(ablate({ inputs: t }), 'truncated.npy', 'truncated');
  const c = join(dir, 'corrupt.npy');
  writeFileSync(c, Buffer.from('garbage garbage garbage'));
  expectError(ablate({ inputs: c }), 'corrupt.npy', 'not a valid .npy');
});

test('a tile over the adapter\'s workgroup memory is refused before anything runs', () => {
  // 64 staged channel groups of 16 x 4 weights: 65,536 bytes, over every adapter's limit (32,768 here)
  expectError(ablate({ extra: ['--tile', '4x64/64x1/shared64'] }), 'cannot run here', '65536 bytes of workgroup memory');
});

test('a missing file is named', () => {
  expectError(ablate({ masks: join(dir, 'nope.npy') }), 'nope.npy', 'no such file');
});

test('an unknown --arch lists the known ones', () => {
  expectError(ablate({ arch: 'resnet9000' }), 'resnet9000', 'mini-resnet', 'resnet50');
});

test('--arch resnet18 on other weights says what the weights are', () => {
  expectError(ablate({ arch: 'resnet18' }), "'layer1.0.conv1.weight'");
});

test('an unwritable output path is reported and nothing is left behind', () => {
  const r = coar(['ablate', '--arch', 'mini-resnet', '--weights', good.weights, '--inputs', good.inputs, '--labels', good.labels, '--masks', good.masks, '--out', join(dir, 'no', 'such', 'dir', 'o.npy')]);
  assert.is.not(r.code, 0);
  assert.match(r.stderr, /cannot write .*o\.npy/);
});

test.run();
