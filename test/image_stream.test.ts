/**
 * Many images flow through every stage without being in memory at once (issue 17, item 5):
 * past COAR_INPUTS_IN_MEMORY_MB of float32 inputs, the resized and cropped uint8 pixels go
 * to a cache on disk and are turned into tensors a batch at a time. The streamed tensors
 * equal torchvision + PIL computed live, a sweep writes the same store either way, a killed
 * cache build resumes, and the streamed path's peak memory stays far below the whole tensor.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readNpy } from '../src/io/npy.js';
import { coar } from './support/cli.js';
import { runReference } from './support/python.js';
import { imageFolder } from './support/image_folders.js';
import { tempDir } from './support/tmp.js';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'coar.js');
const dir = tempDir();
const data = join(dir, 'data'), ref = join(dir, 'ref');
const made = JSON.parse(runReference('image_reference.py', ['make', data])) as { files: string[]; labels: number[]; classes: string[] };
mkdirSync(ref);
runReference('image_reference.py', ['torchvision', data, ref, '256', '224', 'bilinear', '0.485,0.456,0.406', '0.229,0.224,0.225']);
const torchX = readNpy(join(ref, 'tv_x.npy'));

/** Force the cache (0 MB in memory) into a cache folder of this test's own. */
const streamed = (cache: string) => ({ COAR_INPUTS_IN_MEMORY_MB: '0', COAR_CACHE_DIR: cache });

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

test('streamed through the pixel cache, coar preprocess equals torchvision + PIL (max abs err <= 1e-6); the cache is reused', () => {
  const cache = join(dir, 'cache1'), x = join(dir, 'x.npy'), y = join(dir, 'y.npy');
  const args = ['preprocess', '--data', `imagefolder:${data}`, '--preprocess', 'torchvision', '--out', x, '--labels-out', y];
  let r = coar(args, { env: streamed(cache) });
  assert.is(r.code, 0, r.stderr);
  const got = readNpy(x);
  assert.equal(got.shape, torchX.shape);
  assert.ok(maxAbs(got.data as Float32Array, torchX.data as Float32Array) <= 1e-6, `max abs err ${maxAbs(got.data as Float32Array, torchX.data as Float32Array)}`);
  const files = readdirSync(join(cache, 'pixels'));
  assert.equal(files.filter((f) => f.endsWith('.npy')).length, 1, files.join(', '));
  assert.not.ok(files.some((f) => f.includes('partial')), 'no partial build left');
  const pixels = readNpy(join(cache, 'pixels', files.find((f) => f.endsWith('.npy'))!));
  assert.equal([pixels.dtype, pixels.shape], ['u1', [made.files.length, 224, 224, 3]]);
  // a second run decodes nothing: the same tensor from the cache
  r = coar(args, { env: streamed(cache) });
  assert.is(r.code, 0, r.stderr);
  assert.is(maxAbs(readNpy(x).data as Float32Array, got.data as Float32Array), 0);
});

test('a sweep over an image folder writes the same store streamed as in memory (byte for byte)', () => {
  const d = imageFolder(made, join(dir, 'small'));
  const net = join(dir, 'net');
  runReference('resnet_reference.py', ['mini-resnet', net, '--width', '8', '--blocks', '1', '--classes', '3', '--no-forward']);
  const sweep = (out: string) => ['sweep', '--arch', 'mini-resnet', '--weights', join(net, 'weights.safetensors'), '--data', `imagefolder:${d}`,
    '--resize', '36', '--crop', '32', '--masks', '24', '--out', out, '--quiet'];
  const a = coar(sweep(join(dir, 'in-memory')));
  assert.is(a.code, 0, a.stderr);
  const b = coar(sweep(join(dir, 'streamed')), { env: streamed(join(dir, 'cache2')) });
  assert.is(b.code, 0, b.stderr);
  for (const f of ['masks.npy', 'examples_margins.npy', '_completed.npy']) {
    assert.ok(readFileSync(join(dir, 'in-memory', f)).equals(readFileSync(join(dir, 'streamed', f))), `${f} differs`);
  }
  // fit and eval read the streamed store's examples through the cache too
  assert.is(coar(['fit', join(dir, 'streamed'), '--method', 'ols', '--quiet']).code, 0);
  const e = coar(['eval', join(dir, 'streamed'), '--masks', '6', '--quiet', '--json'], { env: streamed(join(dir, 'cache2')) });
  assert.is(e.code, 0, e.stderr);
  assert.is((JSON.parse(e.stdout) as { eval: unknown[] }).eval.length, 3);
});

test('a cache build killed midway resumes where it stopped and gives the same tensor', async () => {
  const cache = join(dir, 'cache3'), x = join(dir, 'x3.npy');
  // 600 images (the photographs, repeated), so the build outlasts the first run of 256
  const big = join(dir, 'big');
  for (let k = 0; k < 600; k++) {
    const i = k % made.files.length;
    const cls = join(big, made.classes[made.labels[i]!]!);
    mkdirSync(cls, { recursive: true });
    copyFileSync(made.files[i]!, join(cls, `${String(k).padStart(4, '0')}.${made.files[i]!.split('.').pop()}`));
  }
  const args = ['preprocess', '--data', `imagefolder:${big}`, '--preprocess', 'torchvision', '--out', x, '--labels-out', join(dir, 'y3.npy')];
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...streamed(cache) }, stdio: 'ignore' });
  const exited = new Promise((r) => child.on('exit', r));
  const pixels = join(cache, 'pixels');
  // kill once the first run of images is recorded
  for (let t = 0; t < 600 && !(existsSync(pixels) && readdirSync(pixels).some((f) => f.endsWith('.partial.json'))); t++) await new Promise((r) => setTimeout(r, 100));
  child.kill('SIGKILL');
  await exited;
  const record = readdirSync(pixels).find((f) => f.endsWith('.partial.json'));
  assert.ok(record, 'the build was killed midway');
  const done = (JSON.parse(readFileSync(join(pixels, record!), 'utf8')) as { done: number }).done;
  assert.ok(done > 0 && done < 600, `killed after ${done} images`);
  assert.not.ok(existsSync(x), 'no output from the killed run');
  const r = coar(args, { env: streamed(cache), peakRss: true });
  assert.is(r.code, 0, r.stderr);
  const got = readNpy(x).data as Float32Array;
  // image k of the big folder is photograph k % n; the big folder's listing order is by class, then name
  const per = 3 * 224 * 224;
  const order = readdirSync(big).sort().flatMap((c) => readdirSync(join(big, c)).sort().map((f) => Number(f.split('.')[0]) % made.files.length));
  const torch = torchX.data as Float32Array;
  let worst = 0;
  // made.files is in torchvision's sample order (images.test.ts checks it), as tv_x's rows are
  order.forEach((photo, k) => { worst = Math.max(worst, maxAbs(got.subarray(k * per, (k + 1) * per), torch.subarray(photo * per, (photo + 1) * per))); });
  assert.ok(worst <= 1e-6, `max abs err ${worst} against torchvision`);
  // the whole tensor is 600 x 588 KiB = 344 MiB as float32: held in memory it shows in the
  // peak; streamed, only a batch of it is (the baseline, node and the decoders, is the same)
  const inMemory = coar([...args.slice(0, -4), '--out', join(dir, 'x3m.npy'), '--labels-out', join(dir, 'y3m.npy')], { peakRss: true });
  assert.is(inMemory.code, 0, inMemory.stderr);
  assert.is(maxAbs(readNpy(join(dir, 'x3m.npy')).data as Float32Array, got), 0);
  if (process.env.COAR_TEST_SHOW_RSS) console.log(`peak RSS streamed ${r.peakRssMiB?.toFixed(0)} MiB, in memory ${inMemory.peakRssMiB?.toFixed(0)} MiB`);
  assert.ok(r.peakRssMiB! < inMemory.peakRssMiB! - 344 / 2, `peak RSS streamed ${r.peakRssMiB} MiB, in memory ${inMemory.peakRssMiB} MiB`);
});

test('a damaged pixel cache (truncated, not a .npy, a broken record) is refused in one line naming it; deleted, it is rebuilt the same', () => {
  const cache = join(dir, 'cache4'), x = join(dir, 'x4.npy');
  const args = ['preprocess', '--data', `imagefolder:${data}`, '--preprocess', 'torchvision', '--out', x, '--labels-out', join(dir, 'y4.npy')];
  assert.is(coar(args, { env: streamed(cache) }).code, 0);
  const good = readFileSync(x);
  const pixels = join(cache, 'pixels');
  const npy = join(pixels, readdirSync(pixels).find((f) => f.endsWith('.npy'))!), meta = npy.replace(/\.npy$/, '.json');
  const whole = readFileSync(npy), wholeMeta = readFileSync(meta);
  const damages: [string, () => void, RegExp][] = [
    ['truncated', () => truncateSync(npy, 5000), /truncated/],
    ['not a .npy', () => writeFileSync(npy, Buffer.alloc(300, 7)), /not a valid \.npy/],
    ['a broken record', () => writeFileSync(meta, '{bad'), /JSON/],
  ];
  for (const [what, damage, why] of damages) {
    writeFileSync(npy, whole);
    writeFileSync(meta, wholeMeta);
    damage();
    const r = coar(args, { env: streamed(cache) });
    assert.is(r.code, 1, `${what}: ${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.is(lines.length, 1, `${what}: ${r.stderr}`);
    assert.match(lines[0]!, `pixel cache ${npy} is damaged`);
    assert.match(lines[0]!, why);
    assert.match(lines[0]!, `delete ${npy} and ${meta} and run again`);
  }
  rmSync(npy); rmSync(meta);
  assert.is(coar(args, { env: streamed(cache) }).code, 0);
  assert.ok(readFileSync(x).equals(good), 'rebuilt, the same tensor');
});

test.run();
