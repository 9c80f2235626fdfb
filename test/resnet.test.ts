/**
 * ResNets equal PyTorch when the same components are ablated by zeroing weight rows
 * (REFERENCE.md, "Components" and "Ablation"). The reference runs live: random models with
 * non-trivial BatchNorm statistics, built, ablated and run by Debian's PyTorch.
 */
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { coar } from './support/cli.js';
import { assertComponentTable } from './support/components.js';
import { loadF32, relError } from './support/compare.js';
import { runReference } from './support/python.js';
import { tempDir } from './support/tmp.js';

const root = tempDir();
const TOL = 1e-4;

interface Case { arch: string; args: string[]; components: number; forward: boolean }
const cases: Case[] = [
  { arch: 'mini-resnet', args: ['--width', '16', '--blocks', '2', '--n', '3'], components: 80, forward: true },
  { arch: 'mini-resnet', args: ['--width', '12', '--blocks', '1', '--n', '2', '--classes', '7'], components: 36, forward: true },
  { arch: 'resnet18', args: ['--n', '2'], components: 3904, forward: true },
  { arch: 'resnet50', args: ['--n', '2'], components: 22720, forward: true },
  // the reference's CIFAR model: 9 convs x 256 filters (the paper's text says 2,306)
  { arch: 'mini-resnet', args: ['--width', '256', '--blocks', '4', '--n', '1'], components: 2304, forward: false },
];

for (const c of cases) {
  const dir = join(root, `${c.arch}-${c.args.join('_')}`);
  const label = `${c.arch} ${c.args.join(' ')}`;
  const weights = join(dir, 'weights.safetensors');

  test(`${label}: component table has ${c.components} components named and ordered as PyTorch's named_modules`, () => {
    runReference('resnet_reference.py', [c.arch, dir, ...c.args, ...(c.forward ? [] : ['--no-forward'])]);
    assertComponentTable(['--arch', c.arch, '--weights', weights], dir, c.components);
  });

  if (!c.forward) continue;

  test(`${label}: ablated logits equal PyTorch zeroing weight rows (alpha 0, 5%, 50%, whole layer) to ${TOL}`, () => {
    const out = join(dir, 'ours_logits.npy');
    const r = coar(['ablate', '--arch', c.arch, '--weights', weights, '--inputs', join(dir, 'inputs.npy'), '--labels', join(dir, 'labels.npy'),
      '--masks', join(dir, 'masks.npy'), '--out', out, '--output', 'logits']);
    assert.is(r.code, 0, r.stderr);
    const ours = loadF32(out), ref = loadF32(join(dir, 'logits.npy'));
    assert.equal(ours.shape, ref.shape);
    const [k, n, classes] = ref.shape as [number, number, number];
    const per = n * classes;
    for (let m = 0; m < k; m++) {
      const err = relError(ours.data.subarray(m * per, (m + 1) * per), ref.data.subarray(m * per, (m + 1) * per));
      assert.ok(err <= TOL, `mask ${m}: relative error ${err.toExponential(2)} > ${TOL}`);
    }
  });

  test(`${label}: margins are the true-class logit minus the best other logit of PyTorch's logits`, () => {
    const out = join(dir, 'ours_margins.npy');
    const r = coar(['ablate', '--arch', c.arch, '--weights', weights, '--inputs', join(dir, 'inputs.npy'), '--labels', join(dir, 'labels.npy'),
      '--masks', join(dir, 'masks.npy'), '--out', out]);
    assert.is(r.code, 0, r.stderr);
    const ours = loadF32(out), ref = loadF32(join(dir, 'logits.npy'));
    const labels = loadF32(join(dir, 'labels.npy')).data;
    const [k, n, classes] = ref.shape as [number, number, number];
    assert.equal(ours.shape, [k, n]);
    const want = new Float32Array(k * n);
    for (let m = 0; m < k; m++) {
      for (let e = 0; e < n; e++) {
        const row = ref.data.subarray((m * n + e) * classes, (m * n + e + 1) * classes);
        let best = -Infinity;
        row.forEach((v, j) => { if (j !== labels[e]) best = Math.max(best, v); });
        want[m * n + e] = row[labels[e]!]! - best;
      }
    }
    for (let i = 0; i < k * n; i++) {
      const scale = Math.max(1, Math.abs(want[i]!));
      assert.ok(Math.abs(ours.data[i]! - want[i]!) <= TOL * scale * 10, `margin ${i}: ${ours.data[i]} vs ${want[i]}`);
    }
  });
}

test.run();
