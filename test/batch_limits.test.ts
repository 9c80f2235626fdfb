/**
 * A batch never binds more than the adapter allows. A cheap model on large inputs (a
 * one-layer ViT of width 32 on 224 x 224 images, 196 tokens) has small activations, so the
 * item budget alone would batch 1024 examples: 822 MB of input in one binding, past
 * lavapipe's 128 MiB limit, whose dispatches Dawn then skips. The examples per batch are
 * bounded by the input's size too, and the logits of 200 such examples equal PyTorch's.
 */
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { coar } from './support/cli.js';
import { loadF32, relError } from './support/compare.js';
import { runReference } from './support/python.js';
import { tempDir } from './support/tmp.js';

const TOL = 1e-4; // as test/vit.test.ts
const dir = tempDir('coar-limits-');

test('200 examples of 224 x 224 through a one-layer ViT: batches under the binding limit, logits equal PyTorch', () => {
  runReference('vit_reference.py', [dir, '--layers', '1', '--width', '32', '--heads', '2', '--mlp', '64', '--patch', '16', '--size', '224', '--n', '200']);
  const out = join(dir, 'ours.npy');
  const r = coar(['ablate', '--arch', 'vit', '--weights', join(dir, 'weights.safetensors'), '--inputs', join(dir, 'inputs.npy'), '--labels', join(dir, 'labels.npy'),
    '--masks', join(dir, 'masks.npy'), '--out', out, '--output', 'logits']);
  assert.is(r.code, 0, r.stderr);
  const ours = loadF32(out), ref = loadF32(join(dir, 'logits.npy'));
  assert.equal(ours.shape, ref.shape);
  const [k, n, classes] = ref.shape as [number, number, number];
  assert.is(n, 200);
  const per = n * classes;
  for (let m = 0; m < k; m++) {
    const err = relError(ours.data.subarray(m * per, (m + 1) * per), ref.data.subarray(m * per, (m + 1) * per));
    assert.ok(err <= TOL, `mask ${m}: relative error ${err.toExponential(2)} > ${TOL}`);
  }
});

test.run();
