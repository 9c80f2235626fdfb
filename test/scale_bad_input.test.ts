/**
 * Bad input at the reference's scale (issue 18.5): a store larger than the disk's free space
 * is refused before anything is made, naming both sizes; a multi-GB store file cut short is
 * found from its size and header alone, never read through. The truncated files are sparse
 * (they cost no disk), written by numpy and cut with os.truncate.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { coar } from './support/cli.js';
import { PYTHON } from './support/python.js';
import { tempDir } from './support/tmp.js';

const dir = tempDir('coar-scale-bad-');
const weights = join(import.meta.dirname, '..', 'weights', 'fashion-cnn.safetensors');

test('a sweep whose store exceeds the free space of the real temp folder: one line naming both sizes, no folder made', () => {
  const s = statfsSync(dir);
  const free = s.bavail * s.bsize;
  // free / 2 masks: _completed.npy alone takes half the free space, masks.npy |C| / 2 times it
  const masks = Math.ceil(free / 2);
  const out = join(dir, 'store', 'deeper');
  const t0 = performance.now();
  const r = coar(['sweep', '--arch', 'mini-resnet', '--weights', weights, '--data', 'fashion-mnist:test', '--examples', '4', '--masks', String(masks), '--out', out, '--quiet']);
  const seconds = (performance.now() - t0) / 1000;
  assert.is(r.code, 1, r.stderr);
  assert.is(r.stderr.split('\n').length, 1, r.stderr);
  const m = /not enough disk space: the store needs [\d.]+ [GMk]B \((\d+) bytes: .*masks\.npy .*\), the file system has [\d.]+ [GMk]B \((\d+) bytes\) free$/.exec(r.stderr);
  assert.ok(m, r.stderr);
  const need = Number(m![1]), said = Number(m![2]);
  assert.ok(need > said, `needs ${need} bytes, ${said} free`);
  // other sessions write to this disk meanwhile: the free space it names is the disk's, within 1 GB
  assert.ok(Math.abs(said - free) < 2 ** 30, `said ${said} bytes free, statfs ${free}`);
  assert.not.ok(existsSync(join(dir, 'store')), 'nothing is made, not even the folder');
  assert.ok(seconds < 30, `refused after ${seconds.toFixed(1)} s`);
});

/** A store whose masks.npy claims [rows, components] bool but is cut to `keep` bytes; margins whole (sparse). */
function truncatedStore(d: string, rows: number, components: number, examples: number, keep: number): void {
  execFileSync(PYTHON, ['-c', `
import numpy as np, os, sys
d, m, c, n, keep = sys.argv[1], *map(int, sys.argv[2:])
os.makedirs(d)
for name, dt, shape in [('masks.npy', np.bool_, (m, c)), ('test_margins.npy', np.float16, (m, n))]:
    a = np.lib.format.open_memmap(os.path.join(d, name), mode='w+', dtype=dt, shape=shape)
    del a
os.truncate(os.path.join(d, 'masks.npy'), keep)
`, d, String(rows), String(components), String(examples), String(keep)]);
}

// the reference's ResNet-50 store: 100,000 masks x 22,720 components (2.27 GB), cut to 1 GB
const big = join(dir, 'cut');
truncatedStore(big, 100_000, 22_720, 1_000, 1_000_000_000);
const need = 128 + 100_000 * 22_720;

for (const [name, args] of [
  ['fit', ['fit', big, '--method', 'ols', '--quiet']],
  ['eval --heldout', ['eval', join(dir, 'attr'), '--heldout', big, '--quiet']],
  ['curve', ['curve', '--store', big, '--heldout', big + '-other', '--quiet']],
] as const) {
  test(`coar ${name} on a sparse 2.27 GB masks.npy cut to 1 GB: refused at once naming the sizes`, () => {
    if (name === 'curve') execFileSync('cp', ['-r', '--sparse=always', big, big + '-other']);
    const t0 = performance.now();
    const r = coar([...args]);
    const seconds = (performance.now() - t0) / 1000;
    assert.is(r.code, 1, r.stderr);
    assert.is(r.stderr.split('\n').length, 1, r.stderr);
    assert.ok(r.stderr.includes(`${join(big, 'masks.npy')}: truncated .npy file: shape [100000, 22720] of |b1 needs ${need} bytes, file has 1000000000`), r.stderr);
    assert.ok(seconds < 20, `refused after ${seconds.toFixed(1)} s`);
  });
}

test.run();
