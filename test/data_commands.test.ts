/**
 * `--data imagefolder:DIR | list:FILE` for `coar ablate` and for `coar curve`'s own-model
 * sweeps (issue 17, item 1): the same data flags and code as the sweep. Margins of real
 * photographs under masks equal PyTorch's on torchvision's tensors of the same folder (ImageFolder
 * + Resize + CenterCrop + Normalize, computed live), and equal the sweep's on the same examples.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { listImageFolder } from '../src/data/imagefolder.js';
import { readNpy } from '../src/io/npy.js';
import { coar } from './support/cli.js';
import { loadF32 } from './support/compare.js';
import { imageFolder } from './support/image_folders.js';
import { PYTHON, runReference } from './support/python.js';
import { tempDir } from './support/tmp.js';

const dir = tempDir('coar-data-');
const made = JSON.parse(runReference('image_reference.py', ['make', join(dir, 'photos')])) as { files: string[]; labels: number[]; classes: string[] };
const folder = imageFolder(made, join(dir, 'folder'));
const ref = join(dir, 'ref');
runReference('image_reference.py', ['torchvision', folder, dir, '36', '32', 'bilinear', '0.485,0.456,0.406', '0.229,0.224,0.225']);
// the MiniResNet and its margins under the reference's test masks, on torchvision's tensors
runReference('resnet_reference.py', ['mini-resnet', ref, '--width', '8', '--blocks', '1', '--classes', '3',
  '--inputs-from', join(dir, 'tv_x.npy'), '--labels-from', join(dir, 'tv_y.npy')]);
const weights = join(ref, 'weights.safetensors');
const model = ['--arch', 'mini-resnet', '--weights', weights];
const images = ['--resize', '36', '--crop', '32'];
const torchMargins = loadF32(join(ref, 'margins.npy'));
const n = 6;

function ablate(data: string, out: string, ...extra: string[]): Float32Array {
  const r = coar(['ablate', ...model, '--data', data, ...images, '--masks', join(ref, 'masks.npy'), '--out', out, ...extra]);
  assert.is(r.code, 0, r.stderr);
  return readNpy(out).data as Float32Array;
}

function close(ours: ArrayLike<number>, torch: ArrayLike<number>, what: string): void {
  assert.is(ours.length, torch.length, what);
  for (let i = 0; i < torch.length; i++) {
    assert.ok(Math.abs(ours[i]! - torch[i]!) <= 1e-3 * Math.max(1, Math.abs(torch[i]!)) + 2e-3, `${what}: margin ${i}: ${ours[i]} vs PyTorch ${torch[i]}`);
  }
}

test('coar ablate --data imagefolder:DIR gives PyTorch\'s margins on torchvision\'s tensors of the folder', () => {
  const ours = ablate(`imagefolder:${folder}`, join(dir, 'folder.npy'));
  assert.equal(torchMargins.shape[1], n);
  assert.ok(torchMargins.data.some((v) => Math.abs(v) > 0.05), 'margins of a random net that are all about 0 would prove little');
  close(ours, torchMargins.data, 'imagefolder');
});

test('coar ablate --data list:FILE --indices: the listed images, in the order written', () => {
  // the folder's images listed in reverse ImageFolder order, paths relative to the list
  const listing = listImageFolder(folder);
  const list = join(dir, 'list.txt');
  writeFileSync(list, listing.files.map((p, i) => `${relative(dir, p)}\t${listing.labels[i]}`).reverse().join('\n') + '\n');
  const ours = ablate(`list:${list}`, join(dir, 'list.npy'), '--indices', '1+4');
  const k = torchMargins.shape[0]!;
  // list position 1 is folder example n-2, position 4 is example 1
  const want = Array.from({ length: k }, (_, m) => [torchMargins.data[m * n + n - 2]!, torchMargins.data[m * n + 1]!]).flat();
  close(ours, want, 'list');
});

test('coar ablate --inputs --indices: the chosen rows of a .npy, in the order given, and only they are read', () => {
  // 4 alone, then the run 1-2: both the one-row read and a run read, answered in the order asked
  const r = coar(['ablate', ...model, '--inputs', join(dir, 'tv_x.npy'), '--labels', join(dir, 'tv_y.npy'), '--indices', '4+1+2',
    '--masks', join(ref, 'masks.npy'), '--out', join(dir, 'npy_idx.npy')]);
  assert.is(r.code, 0, r.stderr);
  const k = torchMargins.shape[0]!;
  const want = Array.from({ length: k }, (_, m) => [4, 1, 2].map((i) => torchMargins.data[m * n + i]!)).flat();
  close(readNpy(join(dir, 'npy_idx.npy')).data as Float32Array, want, 'npy --indices');
  // 20,000 examples of 3 x 32 x 32 (234 MiB, made by numpy): two chosen ones cost their own bytes, not the file's
  const big = join(dir, 'big_x.npy'), bigY = join(dir, 'big_y.npy');
  execFileSync(PYTHON, ['-c', 'import numpy as np, sys; x = np.lib.format.open_memmap(sys.argv[1], "w+", np.float32, (20000, 3, 32, 32)); x[:] = 0.5; x.flush(); np.save(sys.argv[2], np.zeros(20000, np.int64))', big, bigY]);
  // rows both files have (the small one has n = 6): both runs do the same work on the device
  const run = (inputs: string, labels: string) => coar(['ablate', ...model, '--inputs', inputs, '--labels', labels, '--indices', '3+5',
    '--masks', join(ref, 'masks.npy'), '--out', join(dir, `rss_${labels === bigY ? 'big' : 'small'}.npy`)], { peakRss: true });
  const small = run(join(dir, 'tv_x.npy'), join(dir, 'tv_y.npy')), large = run(big, bigY);
  assert.is(small.code, 0, small.stderr);
  assert.is(large.code, 0, large.stderr);
  assert.ok(large.peakRssMiB! < small.peakRssMiB! + 234 / 2, `peak RSS ${large.peakRssMiB} MiB with the 234 MiB file, ${small.peakRssMiB} MiB with the small one`);
});

test('a .npy past COAR_INPUTS_IN_MEMORY_MB is read a batch at a time: the same sweep store byte for byte, --indices, and a non-finite value still refused', () => {
  const sweep = (out: string, env: Record<string, string>, ...extra: string[]) => coar(['sweep', ...model, '--inputs', join(dir, 'tv_x.npy'), '--labels', join(dir, 'tv_y.npy'),
    '--masks', '12', '--out', out, '--quiet', ...extra], { env });
  assert.is(sweep(join(dir, 'npy_mem'), {}).code, 0);
  const r = sweep(join(dir, 'npy_streamed'), { COAR_INPUTS_IN_MEMORY_MB: '0' });
  assert.is(r.code, 0, r.stderr);
  for (const f of ['masks.npy', 'examples_margins.npy']) {
    assert.ok(readFileSync(join(dir, 'npy_mem', f)).equals(readFileSync(join(dir, 'npy_streamed', f))), `${f} differs streamed`);
  }
  // chosen rows, out of order and with a run, streamed: PyTorch's margins of those rows
  const a = coar(['ablate', ...model, '--inputs', join(dir, 'tv_x.npy'), '--labels', join(dir, 'tv_y.npy'), '--indices', '4+1+2',
    '--masks', join(ref, 'masks.npy'), '--out', join(dir, 'npy_idx_streamed.npy')], { env: { COAR_INPUTS_IN_MEMORY_MB: '0' } });
  assert.is(a.code, 0, a.stderr);
  const k = torchMargins.shape[0]!;
  close(readNpy(join(dir, 'npy_idx_streamed.npy')).data as Float32Array, Array.from({ length: k }, (_, m) => [4, 1, 2].map((i) => torchMargins.data[m * n + i]!)).flat(), 'streamed --indices');
  // a NaN in the last example is found before any pass runs
  const bad = join(dir, 'nan_x.npy');
  execFileSync(PYTHON, ['-c', 'import numpy as np, sys; x = np.load(sys.argv[1]); x[-1, 2, 5, 7] = np.nan; np.save(sys.argv[2], x)', join(dir, 'tv_x.npy'), bad]);
  const nan = coar(['ablate', ...model, '--inputs', bad, '--labels', join(dir, 'tv_y.npy'), '--masks', join(ref, 'masks.npy'), '--out', join(dir, 'nan.npy')], { env: { COAR_INPUTS_IN_MEMORY_MB: '0' } });
  assert.is(nan.code, 1, nan.stderr);
  assert.match(nan.stderr, `${bad}: non-finite value NaN in example ${n - 1}`);
});

test('coar ablate --data on a sweep\'s masks gives the sweep\'s margins, bit for bit', () => {
  const store = join(dir, 'store');
  const r = coar(['sweep', ...model, '--data', `imagefolder:${folder}`, ...images, '--masks', '12', '--out', store, '--quiet']);
  assert.is(r.code, 0, r.stderr);
  const ours = coar(['ablate', ...model, '--data', `imagefolder:${folder}`, ...images, '--masks', join(store, 'masks.npy'), '--out', join(dir, 'again.npy')]);
  assert.is(ours.code, 0, ours.stderr);
  const stored = readNpy(join(store, 'examples_margins.npy')).data as Float32Array;
  assert.ok((readNpy(join(dir, 'again.npy')).data as Float32Array).every((v, i) => v === stored[i]), 'margins differ');
});

test('coar curve --arch --weights --data imagefolder:DIR sweeps both stores of your model, on your images', () => {
  const out = join(dir, 'curve');
  const r = coar(['curve', ...model, '--data', `imagefolder:${folder}`, ...images, '--heldout-masks', '8', '--min-masks', '8', '--max-masks', '16',
    '--estimators', 'ridge', '--out', out, '--quiet']);
  assert.is(r.code, 0, r.stderr);
  const curve = JSON.parse(readFileSync(join(out, 'curve.json'), 'utf8'));
  assert.equal([curve.examples, curve.heldoutMasks, curve.sizes.at(-1)], [n, 8, 16]);
  for (const s of ['train', 'heldout']) {
    const manifest = JSON.parse(readFileSync(join(out, s, 'manifest.json'), 'utf8'));
    assert.equal([manifest.data.source, manifest.data.preprocessing.crop, manifest.examples], ['imagefolder', 32, [0, 1, 2, 3, 4, 5]]);
    assert.is(manifest.seed, s === 'train' ? 0 : 1);
  }
  // the training store's margins are the images' margins under its masks
  const again = join(dir, 'curve-train.npy');
  const a = coar(['ablate', ...model, '--data', `imagefolder:${folder}`, ...images, '--masks', join(out, 'train', 'masks.npy'), '--out', again]);
  assert.is(a.code, 0, a.stderr);
  const stored = readNpy(join(out, 'train', 'examples_margins.npy')).data as Float32Array;
  assert.ok((readNpy(again).data as Float32Array).every((v, i) => v === stored[i]), 'margins differ');
  // a curve of your model needs its examples
  const bad = coar(['curve', ...model, '--out', join(dir, 'bad'), '--quiet']);
  assert.is.not(bad.code, 0);
  assert.match(bad.stderr, /--arch mini-resnet: give the examples with --data/);
});

test.run();
