/**
 * `coar convert`: a torchvision state dict becomes safetensors whose tensors equal
 * PyTorch's, and runs as --arch resnet18; checkpoints that are not plain state dicts are
 * refused and no pickle code runs (issue 17, item 6).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readSafetensors } from '../src/io/safetensors.js';
import { coar } from './support/cli.js';
import { runReference } from './support/python.js';
import { tempDir } from './support/tmp.js';

const dir = tempDir();
const sums = JSON.parse(runReference('pth_checkpoints.py', [dir])) as Record<string, [number[], number]>;

function checkAgainstTorch(path: string) {
  const f = readSafetensors(path);
  const names = [...f.tensors.keys()];
  assert.equal(names.sort(), Object.keys(sums).sort());
  for (const [name, [shape, sum]] of Object.entries(sums)) {
    const t = f.tensors.get(name)!;
    assert.equal(t.shape, shape, name);
    let s = 0;
    for (const v of t.data) s += v;
    assert.ok(Math.abs(s - sum) <= 1e-4 * Math.max(1, Math.abs(sum)), `${name}: sum ${s} vs PyTorch ${sum}`);
  }
}

test('a plain state dict converts: every float tensor equal to PyTorch, num_batches_tracked left out, and it runs as resnet18', () => {
  const out = join(dir, 'plain.safetensors');
  const r = coar(['convert', join(dir, 'plain.pth'), out]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, /left out: .*num_batches_tracked/);
  checkAgainstTorch(out);
  const c = coar(['components', '--arch', 'resnet18', '--weights', out]);
  assert.is(c.code, 0, c.stderr);
});

test("a {'state_dict': ...} wrapper and DataParallel's 'module.' prefix (with --strip-prefix) convert to the same tensors", () => {
  let r = coar(['convert', join(dir, 'wrapped.pth'), join(dir, 'wrapped.safetensors')]);
  assert.is(r.code, 0, r.stderr);
  checkAgainstTorch(join(dir, 'wrapped.safetensors'));
  r = coar(['convert', join(dir, 'dataparallel.pth'), join(dir, 'dp.safetensors'), '--strip-prefix', 'module.']);
  assert.is(r.code, 0, r.stderr);
  checkAgainstTorch(join(dir, 'dp.safetensors'));
});

test('a pickled model and a pickle that would run code are refused, the code never runs, nothing is written', () => {
  for (const f of ['whole_model', 'evil']) {
    const out = join(dir, `${f}.safetensors`);
    const r = coar(['convert', join(dir, `${f}.pth`), out]);
    assert.is(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`${f}\\.pth: not a plain state dict: the safe loader refused it`));
    assert.not.ok(existsSync(out));
  }
  assert.not.ok(existsSync(join(dir, 'PWNED')), 'pickle code ran');
});

test('an existing output is never overwritten; a missing input is named', () => {
  let r = coar(['convert', join(dir, 'plain.pth'), join(dir, 'plain.pth')]);
  assert.is(r.code, 1);
  assert.match(r.stderr, /plain\.pth already exists; choose another name/);
  r = coar(['convert', join(dir, 'nope.pth'), join(dir, 'nope.safetensors')]);
  assert.is(r.code, 1);
  assert.match(r.stderr, /nope\.pth: no such file/);
});

test.run();
