/**
 * The sweep stage as a library function (issue 16, item 3): `sweepStore` takes typed
 * options, reports through its callbacks and prints nothing; a user's mistake is a
 * UserError; the rows can be handed to a remote (the queue's coordinator) instead of this
 * adapter. The margins it stores are PyTorch's under the same masks, computed live.
 */
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { npySpec } from '../src/coar/examples.js';
import { sweepStore, type SweepOptions } from '../src/coar/sweep.js';
import { UserError } from '../src/errors.js';
import { readNpy } from '../src/io/npy.js';
import { runReference } from './support/python.js';
import { tempDir } from './support/tmp.js';

const dir = tempDir('coar-sweeplib-');
const ref = join(dir, 'ref');
const net = ['--width', '8', '--blocks', '1', '--n', '2'];
runReference('resnet_reference.py', ['mini-resnet', ref, ...net, '--no-forward']);
const base = (out: string): SweepOptions => ({
  arch: 'mini-resnet', weights: join(ref, 'weights.safetensors'), data: npySpec(join(ref, 'inputs.npy'), join(ref, 'labels.npy')),
  select: {}, alpha: 0.1, masks: 12, seed: 4, out, chunk: 5,
});

/** Run f with stdout and stderr captured: what the library would have printed. */
async function silent<T>(f: () => Promise<T>): Promise<{ value: T; printed: string }> {
  const out = process.stdout.write, err = process.stderr.write;
  let printed = '';
  const capture = ((s: string | Uint8Array) => { printed += String(s); return true; }) as typeof process.stdout.write;
  process.stdout.write = capture; process.stderr.write = capture;
  try { return { value: await f(), printed }; } finally { process.stdout.write = out; process.stderr.write = err; }
}

test('sweepStore computes the rows, reports through its callbacks and prints nothing; the margins are PyTorch\'s', async () => {
  const store = join(dir, 'store');
  const lines: string[] = [], updates: number[] = [], rows: number[] = [];
  let passes = 0, stopped = false;
  const { value: r, printed } = await silent(() => sweepStore(base(store), {
    log: (l) => lines.push(l),
    progress: (p) => { passes = p; return { update: (d) => updates.push(d), stop: () => { stopped = true; } }; },
    onRows: (done) => rows.push(done),
  }));
  assert.is(printed, '');
  assert.equal([r.computed, r.examples], [12, 2]);
  assert.match(lines[0]!, /rows 0-11, 0 already completed, 12 to do/);
  assert.match(lines.at(-1)!, /^12 masks x 2 examples in /);
  assert.equal([passes, updates.at(-1), stopped], [24, 24, true]);
  assert.equal(rows, [5, 10, 12]);
  // PyTorch under the store's masks
  runReference('resnet_reference.py', ['mini-resnet', join(dir, 'torch'), ...net, '--masks-from', join(store, 'masks.npy')]);
  const torch = readNpy(join(dir, 'torch', 'margins.npy')).data as Float32Array;
  const ours = readNpy(join(store, 'examples_margins.npy')).data as Float32Array;
  assert.is(ours.length, torch.length);
  ours.forEach((v, i) => assert.ok(Math.abs(v - torch[i]!) <= 1e-3 * Math.max(1, Math.abs(torch[i]!)) + 2e-3, `margin ${i}: ${v} vs ${torch[i]}`));
  // resumed: nothing to do, nothing computed
  const again = await silent(() => sweepStore(base(store), { log: (l) => lines.push(l) }));
  assert.equal([again.value.computed, again.printed], [0, '']);
  assert.match(lines.at(-1)!, /12 already completed, 0 to do/);
});

test('a remote gets the pending rows instead of this adapter', async () => {
  const seen: [number, number][] = [];
  const r = await sweepStore({ ...base(join(dir, 'remote')), remote: async (store, range, log) => { seen.push(range); log('handed over'); return { computed: 0, seconds: 0 }; } });
  assert.equal(seen, [[0, 12]]);
  assert.is(r.computed, 0);
});

test('a user\'s mistake is a UserError of one line naming the value', async () => {
  for (const [over, message] of [[{ alpha: 1 }, /--alpha must be in \(0, 1\), got 1/], [{ masks: 2.5 }, /--masks must be a positive integer, got 2.5/], [{ split: '../x' }, /--split \.\.\/x/]] as const) {
    try {
      await sweepStore({ ...base(join(dir, 'bad')), ...over });
      assert.unreachable('accepted');
    } catch (e) {
      assert.instance(e, UserError);
      assert.match((e as Error).message, message);
      assert.not.match((e as Error).message, /\n/);
    }
  }
});

test.run();
