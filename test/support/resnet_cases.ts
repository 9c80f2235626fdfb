/**
 * The ResNet checks every layout gets (REFERENCE.md, "Components" and "Ablation"): the
 * PyTorch reference (test/reference/resnet_reference.py) builds a random model with
 * non-trivial BatchNorm statistics, ablates by zeroing weight rows and runs it; the engine
 * must give the same component table, logits and margins.
 */
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { coar } from './cli.js';
import { assertComponentTable } from './components.js';
import { loadF32, relError } from './compare.js';
import { runReference } from './python.js';

export const RESNET_TOL = 1e-4;

/** `ref`: the model resnet_reference.py builds, when it is not `arch` (a generic --arch such as `resnet`). */
export interface ResNetCase { arch: string; ref?: string; args: string[]; components: number; forward: boolean }

/** Register the tests of each case; the reference writes into `root/<case>`. Returns each case's folder. */
export function resnetCases(root: string, cases: ResNetCase[]): string[] {
  return cases.map((c) => {
    const dir = join(root, `${c.arch}-${c.args.join('_')}`);
    const label = `${c.arch} ${c.args.join(' ')}`;
    const weights = join(dir, 'weights.safetensors');
    const TOL = RESNET_TOL;

    test(`${label}: component table has ${c.components} components named and ordered as PyTorch's named_modules`, () => {
      runReference('resnet_reference.py', [c.ref ?? c.arch, dir, ...c.args, ...(c.forward ? [] : ['--no-forward'])]);
      assertComponentTable(['--arch', c.arch, '--weights', weights], dir, c.components);
    });

    if (!c.forward) return dir;

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
    return dir;
  });
}
