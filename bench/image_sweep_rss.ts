/**
 * Issue 17.5's bound: a sweep over N synthetic 224 x 224 images (an ImageFolder of JPEGs
 * made by PIL) with a small model (a one-layer ViT), its peak RSS measured by the OS (getrusage of the coar
 * process, test/support/peak_rss.mjs), its wall time and the pixel cache's size on disk.
 * Past COAR_INPUTS_IN_MEMORY_MB (2048 by default: about 3,500 crops) the inputs go through
 * the uint8 pixel cache a batch at a time, so the peak should not grow with N.
 *
 *   nice -n 10 node --import tsx bench/image_sweep_rss.ts [--images 5000] [--masks 2]
 * (COAR_INPUTS_IN_MEMORY_MB=0 sends even a few images through the cache, as a quick check)
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { coar } from '../test/support/cli.js';
import { PYTHON, runReference } from '../test/support/python.js';
import { tempDir } from '../test/support/tmp.js';

const argv = process.argv.slice(2);
const flag = (name: string, d: string) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1]! : d; };
const images = Number(flag('--images', '5000')), masks = Number(flag('--masks', '2'));
const dir = tempDir('coar-bench-imgrss-');
const folder = join(dir, 'folder');

// N JPEGs of 320 x 256 in 10 class folders: smooth random colour fields plus noise, so every file differs
execFileSync(PYTHON, ['-c', `
import numpy as np, os, sys
from PIL import Image
root, n = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
yy, xx = np.mgrid[0:256, 0:320] / 256.0
for i in range(n):
    d = os.path.join(root, 'class%d' % (i % 10)); os.makedirs(d, exist_ok=True)
    a = rng.uniform(0, 255, (3, 3))
    img = np.stack([a[c, 0] * xx + a[c, 1] * yy + a[c, 2] for c in range(3)], -1) % 256
    img = np.clip(img + rng.normal(0, 12, img.shape), 0, 255).astype(np.uint8)
    Image.fromarray(img).save(os.path.join(d, '%05d.jpg' % i), quality=85)
`, folder, String(images)]);

const ref = join(dir, 'model');
// a one-layer ViT of width 32 on 16 x 16 patches (196 tokens): cheap per pass, so the run measures the data path
runReference('vit_reference.py', [ref, '--layers', '1', '--width', '32', '--heads', '2', '--mlp', '64', '--patch', '16', '--size', '224', '--n', '2', '--no-forward']);
const cache = join(dir, 'cache');
const t0 = performance.now();
const load0 = loadavg()[0]!;
const r = coar(['sweep', '--arch', 'vit', '--weights', join(ref, 'weights.safetensors'), '--data', `imagefolder:${folder}`,
  '--preprocess', 'torchvision', '--masks', String(masks), '--alpha', '0.05', '--out', join(dir, 'store'), '--quiet'],
{ env: { COAR_CACHE_DIR: cache, ...(process.env.COAR_INPUTS_IN_MEMORY_MB ? { COAR_INPUTS_IN_MEMORY_MB: process.env.COAR_INPUTS_IN_MEMORY_MB } : {}) }, peakRss: true, timeoutMs: 3 * 3600_000 });
const wall = (performance.now() - t0) / 1000;
if (r.code !== 0) throw new Error(`sweep failed: ${r.stderr}`);
const du = (p: string): number => !existsSync(p) ? 0 : statSync(p).isDirectory() ? readdirSync(p).reduce((a, f) => a + du(join(p, f)), 0) : statSync(p).size;
const float32GiB = (images * 3 * 224 * 224 * 4) / 2 ** 30;
console.log(`# ${new Date().toISOString()}, ${cpus().length} x ${cpus()[0]!.model.trim()}, load ${load0.toFixed(1)} at start, ${loadavg()[0]!.toFixed(1)} at end`);
console.log(`| images | masks | float32 inputs (GiB) | pixel cache (GiB) | sweep wall (s) | peak RSS (MiB) |`);
console.log(`|---|---|---|---|---|---|`);
console.log(`| ${images} | ${masks} | ${float32GiB.toFixed(2)} | ${(du(cache) / 2 ** 30).toFixed(2)} | ${wall.toFixed(0)} | ${r.peakRssMiB!.toFixed(0)} |`);
