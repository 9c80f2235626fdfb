/**
 * `coar report` at scale (issue 18.1): attributions.npy is read once by blocks of component
 * rows, never whole. numpy writes the store (test/reference/report_reference.py) and computes
 * what the report shows of the attributions (top components per example and per class, class
 * means, layer mass) in float64; the block-by-block summaries must equal it, the page must
 * not change with the block size, and memory must stay bounded when the file outgrows it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { openAttributionRows } from '../src/coar/results.js';
import { summarizeAttributions } from '../src/report/stats.js';
import { coar } from './support/cli.js';
import { runReference } from './support/python.js';
import { tempDir } from './support/tmp.js';

const dir = tempDir('coar-report-stream-');
const C = 2000, N = 100, K = 23;
const store = join(dir, 'store');
runReference('report_reference.py', ['make', store, '--c', String(C), '--n', String(N), '--classes', String(K), '--seed', '3']);
interface Ref { examples: Record<string, [number, number][]>; classes: Record<string, [number, number][]>; layers: [string, number, number][] }
const ref = JSON.parse(runReference('report_reference.py', ['summary', store, '--examples', '4', '--classes', '20', '--top', '10'])) as Ref;
const manifest = JSON.parse(readFileSync(join(store, 'manifest.json'), 'utf8')) as { components: string[]; labels: number[] };

const close = (a: number, b: number, tol: number) => Math.abs(a - b) <= tol * Math.max(1e-3, Math.abs(b));

test('summaries from 64 kB blocks of rows (13 blocks) equal numpy\'s float64 ones', () => {
  const attr = openAttributionRows(store, C, N, 64 << 10);
  try {
    assert.is(attr.blockRows, 163, 'rows per block');
    let blocks = 0;
    const counting = (visit: (j0: number, b: Float32Array) => void) => attr.blocks((j0, b) => { blocks++; visit(j0, b); });
    const classes = Object.keys(ref.classes).map(Number);
    assert.is(classes.length, 20, 'the 20 best-represented of 23 classes');
    const s = summarizeAttributions(counting, C, N, { examples: [0, 1, 2, 3], labels: manifest.labels, classes, layers: manifest.components.map((c) => c.replace(/\.weight\[\d+\]$/, '')), k: 10 });
    assert.is(blocks, Math.ceil(C / 163));
    for (const [i, want] of Object.entries(ref.examples)) {
      const got = s.top.get(Number(i))!;
      assert.equal(got.map((t) => t.component), want.map((w) => w[0]), `example ${i}: components`);
      got.forEach((t, r) => assert.is(t.value, Math.fround(want[r]![1]), `example ${i} rank ${r}`));
    }
    for (const [k, want] of Object.entries(ref.classes)) {
      const m = s.classMeans.get(Number(k))!;
      const order = Array.from(m.keys()).sort((a, b) => Math.abs(m[b]!) - Math.abs(m[a]!) || a - b).slice(0, 10);
      assert.equal(order, want.map((w) => w[0]), `class ${k}: components`);
      order.forEach((j, r) => assert.ok(close(m[j]!, want[r]![1], 1e-12), `class ${k} component ${j}: ${m[j]} vs numpy ${want[r]![1]}`));
    }
    assert.equal(s.layers.map((l) => [l.layer, l.components]), ref.layers.map((l) => [l[0], l[1]]));
    s.layers.forEach((l, q) => assert.ok(close(l.mass, ref.layers[q]![2], 1e-12), `${l.layer}: ${l.mass} vs numpy ${ref.layers[q]![2]}`));
  } finally { attr.close(); }
});

/** The component names listed in the report's per-example tables, in order. */
function exampleTables(html: string): string[][] {
  const section = html.slice(html.indexOf('<section id="examples">'), html.indexOf('<section id="classes">'));
  return [...section.matchAll(/<table class="top">([\s\S]*?)<\/table>/g)].map((t) => [...t[1]!.matchAll(/<code>([^<]*)<\/code>/g)].map((c) => c[1]!));
}

test('coar report --memory 0.0001 (64 kB blocks) writes the page the default blocks write, listing numpy\'s top components', () => {
  const small = coar(['report', store, '--memory', '0.0001', '--out', join(dir, 'small.html')]);
  assert.is(small.code, 0, small.stderr);
  const big = coar(['report', store, '--out', join(dir, 'default.html')]);
  assert.is(big.code, 0, big.stderr);
  const a = readFileSync(join(dir, 'small.html'), 'utf8');
  assert.ok(a === readFileSync(join(dir, 'default.html'), 'utf8'), 'the same page whatever the block size');
  assert.equal(exampleTables(a), [0, 1, 2, 3].map((i) => ref.examples[String(i)]!.map((w) => manifest.components[w[0]]!)));
});

test('memory stays bounded: a 200 MB attributions.npy is reported in 32 MB blocks, not held whole', () => {
  const bigStore = join(dir, 'big');
  runReference('report_reference.py', ['make', bigStore, '--c', '22720', '--n', '2200', '--classes', '100', '--seed', '4']);
  const base = coar(['report', store, '--memory', String(0.5), '--out', join(dir, 'base.html')], { peakRss: true });
  assert.is(base.code, 0, base.stderr);
  const q = coar(['report', bigStore, '--memory', String(0.5), '--out', join(dir, 'big.html')], { peakRss: true });
  assert.is(q.code, 0, q.stderr);
  const grew = q.peakRssMiB! - base.peakRssMiB!;
  if (process.env.COAR_TEST_SHOW_RSS) console.log(`peak RSS small ${base.peakRssMiB!.toFixed(0)} MiB, 200 MB file ${q.peakRssMiB!.toFixed(0)} MiB`);
  // the file is 22,720 x 2,200 x 4 = 200 MB; one 32 MB block, its float32 view and 20 class means of 22,720 float64 are ~70 MB
  assert.ok(grew < 100, `peak RSS ${q.peakRssMiB!.toFixed(0)} MiB, ${grew.toFixed(0)} MiB above the small store's: the file was held whole`);
});

test.run();
