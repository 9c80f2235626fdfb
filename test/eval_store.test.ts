/**
 * `coar eval --heldout` (issue 18.4): attributions scored on a held-out store's masks and
 * margins, streamed in example chunks under --memory. numpy writes the store (bool masks,
 * float16 margins) and the attributions (float32), scipy scores them live
 * (test/reference/eval_store_reference.py); the chunked scores must equal scipy's and the
 * one-chunk scores exactly, and memory must stay bounded when the store is larger than it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { coar } from './support/cli.js';
import { runReference } from './support/python.js';
import { tempDir } from './support/tmp.js';

const dir = tempDir('coar-eval-store-');
const M = 3000, C = 48, N = 240;
const held = join(dir, 'held'), attr = join(dir, 'attr');
// every 7th row not completed: the used rows come in runs, as after an interrupted sweep
runReference('eval_store_reference.py', ['make', held, '--m', String(M), '--c', String(C), '--n', String(N), '--seed', '5', '--attributions', attr, '--incomplete', '7']);
const scipy = JSON.parse(runReference('eval_store_reference.py', ['score', held, attr])) as { pearson: number[]; spearman: number[] };

interface Written { masks: number; chunks: number; chunkExamples: number; alpha: number; pearson: number[]; spearman: number[]; pearsonMean: number }
const written = (out: string) => JSON.parse(readFileSync(join(out, 'heldout_eval.json'), 'utf8')) as Written;

function evalHeldout(out: string, ...flags: string[]) {
  return coar(['eval', attr, '--heldout', held, '--out', out, '--quiet', ...flags]);
}

// 2,571 used masks x (12 bytes + 48 x 4 per example) is ~31 kB per example: 2 MB leaves room for a few dozen
const small = join(dir, 'small');
const r = evalHeldout(small, '--memory', String(2 / 1024));

test('many example chunks and mask blocks: per-example Pearson and Spearman equal scipy', () => {
  assert.is(r.code, 0, r.stderr);
  const w = written(small);
  assert.is(w.masks, M - Math.ceil(M / 7), 'only the completed rows are scored');
  assert.ok(w.chunks >= 5, `expected many example chunks, got ${w.chunks} of ${w.chunkExamples}`);
  assert.is(w.alpha, 0.05);
  assert.is(w.pearson.length, N);
  for (let e = 0; e < N; e++) {
    assert.ok(Math.abs(w.pearson[e]! - scipy.pearson[e]!) < 1e-5, `example ${e}: Pearson ${w.pearson[e]} vs scipy ${scipy.pearson[e]}`);
    assert.ok(Math.abs(w.spearman[e]! - scipy.spearman[e]!) < 1e-5, `example ${e}: Spearman ${w.spearman[e]} vs scipy ${scipy.spearman[e]}`);
  }
  const mean = scipy.pearson.reduce((a, x) => a + x, 0) / N;
  assert.ok(Math.abs(w.pearsonMean - mean) < 1e-6, `mean Pearson ${w.pearsonMean} vs scipy ${mean}`);
});

test('one chunk (the default bound) gives the same scores bit for bit, and --json prints the summary', () => {
  const one = join(dir, 'one');
  const q = evalHeldout(one, '--json');
  assert.is(q.code, 0, q.stderr);
  const a = written(small), b = written(one);
  assert.is(b.chunks, 1);
  assert.equal(b.pearson, a.pearson);
  assert.equal(b.spearman, a.spearman);
  const s = JSON.parse(q.stdout) as { command: string; eval: { masks: number; pearsonMean: number }[] };
  assert.is(s.command, 'eval');
  assert.equal(s.eval.map((x) => [x.masks, x.pearsonMean]), [[b.masks, b.pearsonMean]]);
});

test('a --memory too small for one example fails in one line naming what it needs', () => {
  const q = evalHeldout(join(dir, 'tiny'), '--memory', '0.0001');
  assert.is(q.code, 1);
  assert.is(q.stderr.split('\n').length, 1, q.stderr);
  assert.match(q.stderr, /scoring 2571 masks needs at least [\d.]+ MB, --memory allows 0\.1 MB: raise --memory/);
});

test('memory stays bounded: a store whose masks alone are 3x the bound is scored in it', () => {
  // masks 6,000 x 8,000 bytes = 48 MB; --memory 16 MB. A whole-file read would hold the masks.
  const big = join(dir, 'big'), bigAttr = join(dir, 'big-attr');
  runReference('eval_store_reference.py', ['make', big, '--m', '6000', '--c', '8000', '--n', '64', '--seed', '6', '--attributions', bigAttr]);
  const base = coar(['eval', attr, '--heldout', held, '--out', join(dir, 'base'), '--quiet', '--memory', String(16 / 1024)], { peakRss: true });
  assert.is(base.code, 0, base.stderr);
  const q = coar(['eval', bigAttr, '--heldout', big, '--out', join(dir, 'big-out'), '--quiet', '--memory', String(16 / 1024)], { peakRss: true });
  assert.is(q.code, 0, q.stderr);
  const grew = q.peakRssMiB! - base.peakRssMiB!;
  assert.ok(grew < 32, `peak RSS ${q.peakRssMiB!.toFixed(0)} MiB, ${grew.toFixed(0)} MiB above the small store's: more than the 16 MB bound allows`);
  const ref = JSON.parse(runReference('eval_store_reference.py', ['score', big, bigAttr])) as { pearson: number[] };
  const w = written(join(dir, 'big-out'));
  for (let e = 0; e < 64; e++) assert.ok(Math.abs(w.pearson[e]! - ref.pearson[e]!) < 1e-5, `example ${e}: ${w.pearson[e]} vs scipy ${ref.pearson[e]}`);
});

test.run();
