/**
 * Images in: real photographs from Debian's python3-skimage, re-encoded by PIL (qualities,
 * subsamplings, progressive, gray, CMYK; PNG with alpha, palette, 16 bits), listed as
 * torchvision's ImageFolder lists them, decoded as PIL decodes them, and preprocessed as
 * torchvision + PIL and FFCV (OpenCV INTER_AREA) do — each compared with the library itself, live.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { imageSpec, loadImageExamples } from '../src/coar/examples.js';
import { decodeRgb } from '../src/data/decode.js';
import { listImageList } from '../src/data/image_list.js';
import { listImageFolder } from '../src/data/imagefolder.js';
import { IMAGENET_MEAN, IMAGENET_STD, preprocessPixels, toTensor, type Preprocessing } from '../src/data/preprocess.js';
import { cropRgb, type RgbImage } from '../src/data/rgb.js';
import { readNpy, writeNpy } from '../src/io/npy.js';
import { coar } from './support/cli.js';
import { runReference } from './support/python.js';
import { imageFolder } from './support/image_folders.js';
import { tempDir } from './support/tmp.js';

const dir = tempDir();
const data = join(dir, 'data'), out = join(dir, 'ref');
mkdirSync(out);
const made = JSON.parse(runReference('image_reference.py', ['make', data])) as { files: string[]; labels: number[]; classes: string[] };
runReference('image_reference.py', ['decode', data, out]);
const n = made.files.length;
const name = (i: number) => relative(data, made.files[i]!);
const MEAN = IMAGENET_MEAN.join(','), STD = IMAGENET_STD.join(',');
const torchvision: Preprocessing = { kind: 'torchvision', resize: 256, crop: 224, interpolation: 'bilinear', mean: IMAGENET_MEAN, std: IMAGENET_STD };

const decoded: RgbImage[] = [];
async function decodeAll(): Promise<RgbImage[]> {
  if (decoded.length === 0) for (const f of made.files) decoded.push(await decodeRgb(readFileSync(f), f));
  return decoded;
}

function u8(path: string): { data: Uint8Array; shape: number[] } {
  const a = readNpy(path);
  assert.is(a.dtype, 'u1', path);
  return { data: a.data as Uint8Array, shape: a.shape };
}

function f32(path: string): { data: Float32Array; shape: number[] } {
  const a = readNpy(path);
  assert.is(a.dtype, 'f4', path);
  return { data: a.data as Float32Array, shape: a.shape };
}

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

test('the folder holds a few dozen real photographs of every kind the issue names', () => {
  assert.ok(n >= 20 && n <= 40, `${n} images`);
  for (const kind of ['progressive', 'gray', 'cmyk', 'rgba', '_la', 'palette', 'gray16', 'rgb16', '420', '422', '444']) {
    assert.ok(made.files.some((f) => f.includes(kind)), kind);
  }
});

test("ImageFolder: classes, sample order and labels are torchvision's (extensions any case, other files ignored)", () => {
  const l = listImageFolder(data);
  assert.equal(l.classNames, made.classes);
  assert.equal(l.files, made.files);
  assert.equal(l.labels, made.labels);
});

test('list:FILE: paths relative to the list file, labels as written, in the order written', () => {
  const order = [5, 0, 17, 3];
  const file = join(data, 'subset.txt');
  writeFileSync(file, order.map((i) => `${relative(data, made.files[i]!)}\t${made.labels[i]}`).join('\n') + '\n\n');
  const l = listImageList(file);
  assert.equal(l.files, order.map((i) => made.files[i]));
  assert.equal(l.labels, order.map((i) => made.labels[i]));
});

test("decoded pixels equal PIL's Image.open(p).convert('RGB') exactly, for every file", async () => {
  const ims = await decodeAll();
  ims.forEach((im, i) => {
    const ref = u8(join(out, `decoded_${i}.npy`));
    assert.equal([im.height, im.width, 3], ref.shape, name(i));
    assert.is(maxAbs(im.data, ref.data), 0, name(i));
  });
});

for (const [label, p] of [
  ['Resize(256, bilinear) + CenterCrop(224)', torchvision],
  ["timm's eval variant: Resize(248, bicubic) + CenterCrop(224)", { ...torchvision, resize: 248, interpolation: 'bicubic' }],
  ['Resize(300) + CenterCrop(320): padding where the crop is larger', { ...torchvision, resize: 300, crop: 320 }],
] as [string, Preprocessing][]) {
  test(`torchvision ${label}: uint8 pixels identical to torchvision + PIL`, async () => {
    const ims = await decodeAll();
    const o = join(out, `tv_${p.resize}_${p.crop}_${p.interpolation}`);
    mkdirSync(o, { recursive: true });
    runReference('image_reference.py', ['torchvision', data, o, String(p.resize), String(p.crop), p.interpolation, MEAN, STD]);
    ims.forEach((im, i) => {
      const got = preprocessPixels(im, p, made.files[i]!);
      const ref = u8(join(o, `tv_${i}.npy`));
      assert.equal([got.height, got.width, 3], ref.shape, name(i));
      assert.is(maxAbs(got.data, ref.data), 0, name(i));
    });
    // ToTensor + Normalize on top, against the reference's own tensor
    const x = f32(join(o, 'tv_x.npy'));
    const mine = new Float32Array(x.data.length);
    ims.forEach((im, i) => toTensor(preprocessPixels(im, p, made.files[i]!), p, mine, i * 3 * p.crop * p.crop));
    assert.ok(maxAbs(mine, x.data) <= 1e-6, `max abs err ${maxAbs(mine, x.data)}`);
  });
}

test('coar preprocess --preprocess torchvision writes the tensor and int64 labels of ImageFolder + transforms (max abs err <= 1e-6)', () => {
  const o = join(out, 'tv_cli');
  mkdirSync(o);
  const mean = '0.5,0.5,0.5', std = '0.5,0.5,0.5';
  runReference('image_reference.py', ['torchvision', data, o, '256', '224', 'bicubic', mean, std]);
  const r = coar(['preprocess', '--data', `imagefolder:${data}`, '--preprocess', 'torchvision', '--interpolation', 'bicubic', '--mean', mean, '--std', std, '--out', join(o, 'x.npy'), '--labels-out', join(o, 'y.npy')]);
  assert.is(r.code, 0, r.stderr);
  const x = f32(join(o, 'x.npy')), ref = f32(join(o, 'tv_x.npy'));
  assert.equal(x.shape, [n, 3, 224, 224]);
  assert.ok(maxAbs(x.data, ref.data) <= 1e-6, `max abs err ${maxAbs(x.data, ref.data)}`);
  const y = readNpy(join(o, 'y.npy')), yr = readNpy(join(o, 'tv_y.npy'));
  assert.is(y.dtype, 'i8');
  assert.equal(Array.from(y.data as BigInt64Array, Number), Array.from(yr.data as BigInt64Array, Number));
});

test('coar preprocess --data list:FILE --indices: the listed files, as torchvision makes them', () => {
  const o = join(out, 'tv_256_224_bilinear');
  const order = [5, 0, 17, 3];
  const file = join(dir, 'subset.txt');
  writeFileSync(file, order.map((i) => `${relative(dir, made.files[i]!)}\t${made.labels[i]}`).join('\n') + '\n');
  const r = coar(['preprocess', '--data', `list:${file}`, '--indices', '1+3', '--out', join(dir, 'lx.npy'), '--labels-out', join(dir, 'ly.npy')]);
  assert.is(r.code, 0, r.stderr);
  const x = f32(join(dir, 'lx.npy')), ref = f32(join(o, 'tv_x.npy'));
  const per = 3 * 224 * 224;
  [order[1]!, order[3]!].forEach((src, k) => {
    assert.ok(maxAbs(x.data.subarray(k * per, (k + 1) * per), ref.data.subarray(src * per, (src + 1) * per)) <= 1e-6, name(src));
  });
  assert.equal(Array.from(readNpy(join(dir, 'ly.npy')).data as BigInt64Array, Number), [made.labels[order[1]!], made.labels[order[3]!]]);
});

test('ffcv: centre crop 224/256 + INTER_AREA equals OpenCV on the same decoded pixels to 1/255 on >= 99.9% of values', async () => {
  const ims = await decodeAll();
  runReference('image_reference.py', ['ffcv', out, String(n), '256', '224', MEAN, STD]);
  const p: Preprocessing = { ...torchvision, kind: 'ffcv' };
  const r = compareFfcv(ims, out, p);
  assert.is(r.checked, n);
  assert.ok(r.within / r.total >= 0.999, `${r.within}/${r.total} within 1/255`);
  console.log(`  ffcv vs OpenCV: ${r.exact}/${r.total} values identical, ${r.within}/${r.total} within 1/255, ${r.checked} images (${r.enlarged} enlarged)`);
});

/** Our ffcv pixels and tensors against OpenCV's files ffcv_<i>.npy / ffcv_x_<i>.npy in `ref`. */
function compareFfcv(ims: RgbImage[], ref: string, p: Preprocessing) {
  let total = 0, within = 0, exact = 0, checked = 0, enlarged = 0;
  ims.forEach((im, i) => {
    checked++;
    if (Math.trunc((p.crop / p.resize) * Math.min(im.width, im.height)) < p.crop) enlarged++;
    const got = preprocessPixels(im, p, `image ${i}`);
    const want = u8(join(ref, `ffcv_${i}.npy`));
    assert.equal([got.height, got.width, 3], want.shape, `image ${i}`);
    for (let k = 0; k < want.data.length; k++) {
      const d = Math.abs(got.data[k]! - want.data[k]!);
      total++; if (d <= 1) within++; if (d === 0) exact++;
    }
    const x = new Float32Array(3 * p.crop * p.crop);
    toTensor(got, p, x, 0);
    const xr = f32(join(ref, `ffcv_x_${i}.npy`));
    // one level of 255 after dividing by the smallest std (0.224 * 255)
    assert.ok(maxAbs(x, xr.data) <= 1 / (0.224 * 255) + 1e-6, `image ${i}: ${maxAbs(x, xr.data)}`);
  });
  return { total, within, exact, checked, enlarged };
}

test('ffcv: a shorter side under 256 px (the crop is enlarged, where INTER_AREA is not INTER_LINEAR) equals OpenCV too', async () => {
  // centre regions of the real photographs, 87 to 255 px on the shorter side, as decoded pixels
  const ims = await decodeAll();
  const small = join(dir, 'ffcv-small');
  mkdirSync(small, { recursive: true });
  const sizes: [number, number][] = [[100, 150], [150, 100], [200, 180], [87, 87], [255, 300], [120, 121]];
  const crops = sizes.map(([h, w], i) => {
    const fits = ims.filter((m) => m.width >= w && m.height >= h);
    const im = fits[(3 * i) % fits.length]!;
    const c = cropRgb(im, Math.floor((im.height - h) / 2), Math.floor((im.width - w) / 2), h, w);
    writeNpy(join(small, `decoded_${i}.npy`), 'u1', [h, w, 3], c.data);
    return c;
  });
  const p: Preprocessing = { ...torchvision, kind: 'ffcv' };
  runReference('image_reference.py', ['ffcv', small, String(crops.length), '256', '224', MEAN, STD]);
  const r = compareFfcv(crops, small, p);
  assert.is(r.enlarged, crops.length);
  assert.ok(r.within / r.total >= 0.999, `${r.within}/${r.total} within 1/255`);
  // and at another crop (--crop 160 --resize 192): enlarged from 76 to 159 px
  const q: Preprocessing = { ...p, crop: 160, resize: 192 };
  runReference('image_reference.py', ['ffcv', small, String(crops.length), '192', '160', MEAN, STD]);
  const r2 = compareFfcv(crops, small, q);
  assert.ok(r2.within / r2.total >= 0.999, `${r2.within}/${r2.total} within 1/255`);
  console.log(`  ffcv enlarged vs OpenCV: ${r.exact}/${r.total} identical at 224, ${r2.exact}/${r2.total} at 160, ${crops.length} images`);
});

// ---- bad input -------------------------------------------------------------------------

const bad = join(dir, 'bad');
mkdirSync(join(bad, 'a'), { recursive: true });
mkdirSync(join(bad, 'b'), { recursive: true });
copyFileSync(made.files[1]!, join(bad, 'a', 'good1.jpg'));
copyFileSync(made.files[2]!, join(bad, 'b', 'good2.jpg'));
writeFileSync(join(bad, 'a', 'empty.jpg'), new Uint8Array(0));
const jpeg = readFileSync(made.files[1]!);
writeFileSync(join(bad, 'a', 'truncated.jpg'), jpeg.subarray(0, Math.floor(jpeg.length / 2)));
writeFileSync(join(bad, 'b', 'corrupt.png'), Uint8Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251));
copyFileSync('/usr/lib/python3/dist-packages/skimage/data/truncated.jpg', join(bad, 'b', 'skimage_truncated.jpg'));
const badFiles = ['a/empty.jpg', 'a/truncated.jpg', 'b/corrupt.png', 'b/skimage_truncated.jpg'].map((f) => join(bad, f));

function oneLineError(r: { code: number; stderr: string }, ...parts: string[]) {
  assert.is.not(r.code, 0, 'exit code');
  const lines = r.stderr.split('\n').filter((l) => l.trim());
  assert.is(lines.length, 1, `one line, got:\n${r.stderr}`);
  for (const p of parts) assert.ok(lines[0]!.includes(p), `"${lines[0]}" should mention ${p}`);
}

test('PIL refuses the same four bad files (the reference for what counts as unreadable)', () => {
  const pil = JSON.parse(runReference('image_reference.py', ['pilcheck', ...badFiles, join(bad, 'a', 'good1.jpg')])) as Record<string, string | null>;
  for (const f of badFiles) assert.ok(pil[f], `PIL accepts ${f}`);
  assert.is(pil[join(bad, 'a', 'good1.jpg')], null);
});

test('each zero-byte, truncated or corrupt image fails the load with one line naming the file, the first in listing order (--bad-images fail, the default)', async () => {
  for (const f of badFiles) {
    await decodeRgb(readFileSync(f), f).then(() => assert.unreachable(`${f} decoded`), (e: Error) => {
      assert.is(e.name, 'UserError');
      assert.ok(e.message.includes(f) && e.message.includes('--bad-images skip'), e.message);
    });
  }
  const r = coar(['preprocess', '--data', `imagefolder:${bad}`, '--out', join(dir, 'bx.npy'), '--labels-out', join(dir, 'by.npy')]);
  oneLineError(r, join(bad, 'a', 'empty.jpg'), '0 bytes');
  assert.not.ok(existsSync(join(dir, 'bx.npy')));
});

test('--bad-images skip: the good images are kept (as torchvision makes them) and the bad ones are listed', async () => {
  const spec = imageSpec('imagefolder', bad, torchvision, 'skip');
  const ex = await loadImageExamples(spec, null, {});
  // listing order: a/empty, a/good1, a/truncated, b/corrupt, b/good2, b/skimage_truncated
  assert.equal(ex.indices, [1, 4]);
  assert.equal(Array.from(ex.labels), [0, 1]);
  const skipped = ex.spec.source === 'imagefolder' ? ex.spec.skipped!.map((s) => s.file) : [];
  assert.equal(skipped.sort(), [...badFiles].sort());
  const ref = f32(join(out, 'tv_256_224_bilinear', 'tv_x.npy'));
  const per = 3 * 224 * 224;
  assert.ok(maxAbs(ex.inputs.chunk(0, 1), ref.data.subarray(per, 2 * per)) <= 1e-6);
  assert.ok(maxAbs(ex.inputs.chunk(1, 1), ref.data.subarray(2 * per, 3 * per)) <= 1e-6);
});

test('an empty class folder is refused as torchvision refuses it, naming the class', () => {
  const d = join(dir, 'emptyclass');
  mkdirSync(join(d, 'cat'), { recursive: true });
  mkdirSync(join(d, 'dog'), { recursive: true });
  copyFileSync(made.files[0]!, join(d, 'cat', 'x.jpg'));
  writeFileSync(join(d, 'dog', 'notes.txt'), 'no images here');
  const r = coar(['preprocess', '--data', `imagefolder:${d}`, '--out', join(dir, 'ex.npy'), '--labels-out', join(dir, 'ey.npy')]);
  oneLineError(r, 'dog', 'no images');
});

test('a folder that changed since its listing was hashed is refused', async () => {
  const d = join(dir, 'changing');
  mkdirSync(join(d, 'c'), { recursive: true });
  copyFileSync(made.files[0]!, join(d, 'c', 'x.jpg'));
  const spec = imageSpec('imagefolder', d, torchvision, 'fail');
  copyFileSync(made.files[1]!, join(d, 'c', 'y.jpg'));
  try {
    await loadImageExamples(spec, null, {});
    assert.unreachable('loaded a changed folder');
  } catch (e) {
    assert.ok((e as Error).message.includes('changed since'), (e as Error).message);
  }
});

test('--preprocess none needs one size: a mixed folder is refused naming both sizes', () => {
  const r = coar(['preprocess', '--data', `imagefolder:${data}`, '--preprocess', 'none', '--indices', '0+1', '--out', join(dir, 'nx.npy'), '--labels-out', join(dir, 'ny.npy')]);
  oneLineError(r, '--preprocess none', '512x512', '1024x512');
});

test('coar run --arch --weights --data imagefolder: sweep, fit, eval (tensors rebuilt from the manifest) and report; a changed folder is refused on resume', () => {
  const d = imageFolder(made, join(dir, 'small'));
  const net = join(dir, 'net');
  runReference('resnet_reference.py', ['mini-resnet', net, '--width', '8', '--blocks', '1', '--classes', '3', '--no-forward']);
  const store = join(dir, 'run');
  const common = ['--arch', 'mini-resnet', '--weights', join(net, 'weights.safetensors'), '--data', `imagefolder:${d}`, '--resize', '36', '--crop', '32', '--masks', '40', '--out', store, '--quiet'];
  const r = coar(['run', ...common, '--eval-masks', '10']);
  assert.is(r.code, 0, r.stderr);
  assert.ok(existsSync(join(store, 'report.html')));
  const manifest = JSON.parse(readFileSync(join(store, 'manifest.json'), 'utf8'));
  assert.is(manifest.data.source, 'imagefolder');
  assert.is(manifest.data.preprocessing.crop, 32);
  assert.equal(manifest.examples, [0, 1, 2, 3, 4, 5]);
  copyFileSync(made.files[1]!, join(d, 'jpeg', 'extra.jpg'));
  const again = coar(['sweep', ...common.filter((a) => a !== '--quiet')]);
  assert.is.not(again.code, 0);
  assert.ok(/changed|different sweep/.test(again.stderr), again.stderr);
});

test.run();
