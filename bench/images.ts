/**
 * Images decoded + preprocessed per second: our loader (sharp decode, Pillow-equal resample in
 * TypeScript, worker threads) against torchvision's DataLoader (PIL, 2 workers) on the same
 * files, same machine, same run. The files: the JPEG photos test/reference/image_reference.py
 * makes from python3-skimage (7 photos, 400x266 to 1000x872), each copied --copies times.
 *
 * usage: node --import tsx bench/images.ts [--copies 25]   (prints a markdown table)
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { loadImages } from '../src/data/image_pool.js';
import { listImageFolder } from '../src/data/imagefolder.js';
import { IMAGENET_MEAN, IMAGENET_STD, type Preprocessing } from '../src/data/preprocess.js';
import { PYTHON, REFERENCE_DIR, runReference } from '../test/support/python.js';
import { tempDir } from '../test/support/tmp.js';

const at = process.argv.indexOf('--copies');
const copies = at > 0 ? Number(process.argv[at + 1]) : 25;
const root = tempDir('coar-bench-images-');
runReference('image_reference.py', ['make', join(root, 'photos')]);
const src = join(root, 'photos', 'jpeg');
const folder = join(root, 'folder');
for (let c = 0; c < copies; c++) {
  const cls = join(folder, `class${String(c).padStart(3, '0')}`);
  mkdirSync(cls, { recursive: true });
  // the one photo under 256 on its short side is left out: FFCV's pipeline would have to enlarge it
  for (const f of readdirSync(src).filter((n) => !n.includes('small'))) copyFileSync(join(src, f), join(cls, f));
}
const files = listImageFolder(folder).files;

const torchvision: Preprocessing = { kind: 'torchvision', resize: 256, crop: 224, interpolation: 'bilinear', mean: IMAGENET_MEAN, std: IMAGENET_STD };
async function ours(p: Preprocessing, threads: number): Promise<number> {
  let best = Infinity;
  for (let r = 0; r < 2; r++) {
    const t0 = performance.now();
    await loadImages(files, p, { badImages: 'fail', threads });
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return files.length / best;
}

const torch = JSON.parse(execFileSync(PYTHON, [join(REFERENCE_DIR, '..', '..', 'bench', 'images_torch.py'), folder], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } })) as { images: number; seconds: number };
const rows = [
  ['torchvision DataLoader (PIL), 2 workers', torch.images / torch.seconds],
  ['coar, torchvision preprocessing, 2 threads', await ours(torchvision, 2)],
  ['coar, ffcv preprocessing, 2 threads', await ours({ ...torchvision, kind: 'ffcv' }, 2)],
] as [string, number][];
console.log(`${files.length} JPEGs, ${cpus().length} x ${cpus()[0]?.model.trim()}, ${new Date().toISOString().slice(0, 10)}\n`);
console.log('| loader | images/s | vs torchvision |\n|---|---:|---:|');
for (const [name, v] of rows) console.log(`| ${name} | ${v.toFixed(1)} | ${(v / rows[0]![1]).toFixed(2)}x |`);
