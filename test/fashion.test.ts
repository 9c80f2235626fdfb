/**
 * The bundled default data and models: Fashion-MNIST read from Debian's IDX files, the
 * models' preprocessing, and the two safetensors models in weights/. References: numpy's
 * own reading of the gzipped files, the training script's preprocess(), and PyTorch
 * rebuilding each model from its file.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CLASS_NAMES, FASHION_MNIST_DIR, inputShape, loadFashionMnist, preprocess } from '../src/data/fashion_mnist.js';
import { UserError } from '../src/errors.js';
import { readIdx } from '../src/io/idx.js';
import { readNpy } from '../src/io/npy.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { runReference } from './support/python.js';
import { tempDir } from './support/tmp.js';

const WEIGHTS = join(dirname(fileURLToPath(import.meta.url)), '..', 'weights');
const dir = tempDir('coar-fashion-');

/** The UserError message fn throws (fails the test if it throws anything else, or nothing). */
function userError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.instance(e, UserError, `expected a UserError, got ${String(e)}`);
    const message = (e as Error).message;
    assert.not.match(message, '\n', 'a UserError is one line');
    return message;
  }
  assert.unreachable('expected a UserError, nothing was thrown');
  return '';
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

test('the IDX reader returns exactly the pixels and labels numpy reads from the gzipped files', () => {
  runReference('fashion_reference.py', ['idx', dir]);
  for (const split of ['train', 'test'] as const) {
    const set = loadFashionMnist(split);
    const images = readNpy(join(dir, `${split}_images.npy`));
    const labels = readNpy(join(dir, `${split}_labels.npy`));
    assert.equal([set.count, 28, 28], images.shape, `${split} image shape`);
    assert.equal([set.count], labels.shape, `${split} label shape`);
    assert.ok(sameBytes(set.images, images.data as Uint8Array), `${split} pixels differ from numpy's`);
    assert.ok(sameBytes(set.labels, labels.data as Uint8Array), `${split} labels differ from numpy's`);
    assert.equal(set.classNames, [...CLASS_NAMES]);
  }
  assert.is(loadFashionMnist('train').count, 60_000);
  assert.is(loadFashionMnist('test').count, 10_000);
});

test('preprocess equals the training script\'s preprocessing (cnn padded to 32×32, vit 28×28)', () => {
  const indices = [0, 1, 42, 1234, 5000, 9999];
  runReference('fashion_reference.py', ['preprocess', dir, indices.join(',')]);
  const { images } = loadFashionMnist('test');
  for (const arch of ['cnn', 'vit'] as const) {
    const ref = readNpy(join(dir, `${arch}.npy`));
    assert.equal(ref.shape, [indices.length, ...inputShape(arch)], `${arch} shape`);
    const ours = preprocess(images, indices, arch);
    const theirs = ref.data as Float32Array;
    assert.is(ours.length, theirs.length);
    let worst = 0;
    for (let i = 0; i < ours.length; i++) worst = Math.max(worst, Math.abs(ours[i]! - theirs[i]!));
    assert.ok(worst <= 1e-6, `${arch}: max |difference| ${worst}`);
  }
  assert.match(userError(() => preprocess(images, [10_000], 'vit')), '10000');
});

test('a missing, truncated or corrupt IDX file is a one-line UserError naming the file', () => {
  const labelsGz = join(FASHION_MNIST_DIR, 't10k-labels-idx1-ubyte.gz');
  const gz = readFileSync(labelsGz);

  const missing = join(dir, 'nope-idx1-ubyte.gz');
  assert.match(userError(() => readIdx(missing)), `${missing}: no such file`);

  const cutGzip = join(dir, 'cut-gzip.gz');
  writeFileSync(cutGzip, gz.subarray(0, gz.length >> 1));
  assert.match(userError(() => readIdx(cutGzip)), `${cutGzip}: corrupt or truncated gzip`);

  // a complete gzip stream whose IDX data stops short of its declared shape
  const header = Buffer.from([0, 0, 0x08, 1, 0, 0, 0x27, 0x10]); // uint8, 1 dim, 10000
  const shortIdx = join(dir, 'short-idx1-ubyte.gz');
  writeFileSync(shortIdx, gzipSync(Buffer.concat([header, Buffer.alloc(1000)])));
  assert.match(userError(() => readIdx(shortIdx)), `${shortIdx}: truncated: shape [10000] expects 10000 data bytes, found 1000`);

  const notGzip = join(dir, 'not-gzip.gz');
  writeFileSync(notGzip, 'hello, this is not an IDX file');
  assert.match(userError(() => readIdx(notGzip)), `${notGzip}: not a valid IDX file (magic starts 0x68 0x65`);

  const wrongMagic = join(dir, 'wrong-magic.gz');
  writeFileSync(wrongMagic, gzipSync(Buffer.from([0x50, 0x4b, 3, 4, 0, 0, 0, 0])));
  assert.match(userError(() => readIdx(wrongMagic)), `${wrongMagic}: not a valid IDX file`);

  const floats = join(dir, 'floats-idx1');
  writeFileSync(floats, Buffer.from([0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0]));
  assert.match(userError(() => readIdx(floats)), `${floats}: IDX dtype float32 is not supported`);

  // a plain (unzipped) copy reads the same as the gzipped original
  const plain = join(dir, 'plain-idx1-ubyte');
  writeFileSync(plain, Buffer.concat([header, Buffer.alloc(10_000, 7)]));
  const read = readIdx(plain);
  assert.equal(read.shape, [10_000]);
  assert.ok(read.data.every((v) => v === 7));

  const noFolder = join(dir, 'no-such-folder');
  const message = userError(() => loadFashionMnist('test', noFolder));
  assert.match(message, noFolder);
  assert.match(message, 'scripts/setup.sh');
});

// One number per CNN conv filter and per ViT linear row (REFERENCE.md's component rules).
function componentCount(tensors: Map<string, { shape: number[] }>, arch: 'cnn' | 'vit'): number {
  let count = 0;
  for (const [name, t] of tensors) {
    const isComponent = arch === 'cnn'
      ? /(^|\.)conv\d*\.weight$/.test(name) && t.shape.length === 4
      : /\.(self_attention\.in_proj_weight|self_attention\.out_proj\.weight|mlp\.0\.weight|mlp\.3\.weight)$/.test(name);
    if (isComponent) count += t.shape[0]!;
  }
  return count;
}

const MODELS = [
  { arch: 'cnn' as const, file: 'fashion-cnn.safetensors', target: 0.9, components: 7 * 16 },
  { arch: 'vit' as const, file: 'fashion-vit.safetensors', target: 0.85, components: 4 * (3 * 64 + 64 + 128 + 64) },
];

for (const { arch, file, target, components } of MODELS) {
  test(`${file}: PyTorch rebuilds it from the file and measures the accuracy its metadata claims`, () => {
    const path = join(WEIGHTS, file);
    const ours = readSafetensors(path);
    assert.is(ours.metadata.arch, arch);
    if (arch === 'vit') assert.is(ours.metadata.num_heads, '4');
    assert.ok(ours.metadata.preprocessing?.includes('0.2860'), 'preprocessing is described');
    assert.ok(ours.metadata.seed !== undefined, 'the seed is recorded');
    assert.is(componentCount(ours.tensors, arch), components, 'component count');

    const claimed = Number(ours.metadata.test_accuracy);
    assert.ok(claimed >= target, `claimed test accuracy ${claimed} is below the ${target} target`);
    const n = 2000;
    const ref = JSON.parse(runReference('fashion_reference.py', ['evaluate', path, String(n)])) as
      { accuracy: number; metadata: Record<string, string> };
    assert.equal(ref.metadata, ours.metadata, 'metadata as PyTorch\'s side reads it');
    // the first 2000 of the 10,000 test images: a sample, so allow a few points either way
    assert.ok(Math.abs(ref.accuracy - claimed) <= 0.03, `accuracy on the first ${n} test images ${ref.accuracy}, metadata claims ${claimed}`);
    assert.ok(ref.accuracy >= target - 0.02, `accuracy on the first ${n} test images ${ref.accuracy}`);
  });
}

test.run();
