/**
 * The HTML report: one self-contained file (no scripts, styles, fonts or images from
 * anywhere), text from the data escaped, summaries equal to a direct computation, and a
 * page that Debian's headless Chromium renders with its plots.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { renderReport, writeReport, type ReportData } from '../src/report/html.js';
import { layerMass, topByMagnitude } from '../src/report/stats.js';
import { ComponentTable, componentLayer } from '../src/models/components.js';
import { loadModel } from '../src/models/index.js';
import { CHROMIUM, chromium } from './support/chromium.js';
import { tempDir } from './support/tmp.js';

const dir = tempDir('coar-report-');
const EVIL_LAYER = 'evil<script>alert(1)</script>&co';
const EVIL = `${EVIL_LAYER}.weight[0]`;

/** mulberry32: a small deterministic generator, so the synthetic report is the same every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Synthetic report data shaped like a small CNN run on Fashion-MNIST. */
function synthetic(): ReportData & { attributions: Float32Array } {
  const rand = rng(7);
  const normal = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const groups: [string, number][] = [['conv1', 16], ['layer1.0.conv1', 16], ['layer1.0.conv2', 16], ['layer2.0.conv1', 32], ['layer2.0.conv2', 32], [EVIL_LAYER, 1]];
  const components = groups.flatMap(([layer, count]) => Array.from({ length: count }, (_, r) => ({ name: `${layer}.weight[${r}]`, layer })));
  const classNames = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
  const n = 24;
  // every class but the last, so the report also shows a class without examples
  const examples = Array.from({ length: n }, (_, i) => ({ index: 1000 + 37 * i, label: i % 9, className: classNames[i % 9]! }));
  const c = components.length;
  const attributions = new Float32Array(c * n);
  for (let j = 0; j < c; j++) {
    const scale = 0.02 + 0.1 * (j % 7 === 0 ? 1 : 0) + (components[j]!.layer.startsWith('layer2') ? 0.03 : 0);
    for (let i = 0; i < n; i++) attributions[j * n + i] = scale * normal() + (j % 11 === examples[i]!.label ? 0.15 : 0);
  }
  attributions[(c - 1) * n + 0] = 0.9; // the evil component ranks first for example 0
  const bias = Float32Array.from({ length: n }, () => 2 + 3 * rand());
  const alphas = [0.025, 0.05, 0.1];
  const evals = alphas.map((alpha, ai) => {
    const pearson = Float32Array.from({ length: n }, () => Math.min(0.99, 0.85 - 0.15 * ai + 0.1 * normal()));
    const spearman = Float32Array.from(pearson, (p) => Math.min(0.99, p - 0.04 + 0.05 * normal()));
    pearson[5] = NaN; // a constant margin: undefined correlation
    spearman[5] = NaN;
    const scatter = alpha !== 0.05 ? [] : [0, 1, 2, 3].map((example) => {
      const trueMargin = Float32Array.from({ length: 80 }, () => bias[example]! + 1.5 * normal());
      const predicted = Float32Array.from(trueMargin, (t) => 0.3 + 0.85 * t + 0.5 * normal());
      return { example, trueMargin, predicted };
    });
    return { alpha, pearson, spearman, scatter };
  });
  return {
    title: 'COAR on <b>fashion-cnn</b> & friends',
    model: { arch: 'mini-resnet', weights: 'weights/fashion-cnn.safetensors', weightsSha256: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08', components: c },
    sweep: { alpha: 0.05, masks: 1000, examples: n, seed: 0, passesPerSecond: 1834.5 },
    fit: { method: 'ridge', seconds: 3.21 },
    components, attributions, bias, examples, classNames,
    eval: evals,
    stages: [{ name: 'sweep', seconds: 13.1 }, { name: 'fit', seconds: 3.21 }, { name: 'eval', seconds: 4.7 }, { name: 'report', seconds: 0.4 }],
  };
}

const data = synthetic();
const html = renderReport(data);

test('a component\'s layer read from its name (as coar report does, without weights) is the model\'s own', () => {
  const weights = join(import.meta.dirname, '..', 'weights');
  const tables = [
    loadModel('mini-resnet', join(weights, 'fashion-cnn.safetensors')).components,
    loadModel('vit', join(weights, 'fashion-vit.safetensors')).components,
    // torchvision's ViT names its fused q/k/v rows in_proj_weight
    new ComponentTable([{ layer: 'encoder.layers.encoder_layer_0.self_attention', param: 'encoder.layers.encoder_layer_0.self_attention.in_proj_weight', count: 3 }]),
  ];
  for (const t of tables) for (const c of t.entries()) assert.is(componentLayer(c.name), c.layer, c.name);
});

test('the report is one complete HTML document that needs nothing from outside the file', () => {
  assert.ok(html.startsWith('<!doctype html>'), 'starts with a doctype');
  assert.ok(html.trimEnd().endsWith('</html>'), 'ends with </html>');
  assert.not.match(html, /<script\b/i, 'no scripts at all');
  assert.not.match(html, /<link\b/i, 'no linked stylesheets');
  assert.not.match(html, /<img\b|<iframe\b|<object\b|<embed\b/i, 'no embedded resources');
  assert.not.match(html, /@import|@font-face/i, 'no imported styles or fonts');
  assert.not.match(html, /\b(?:src|href|srcset|xlink:href)\s*=\s*["']?\s*(?:https?:)?\/\//i, 'no network references in attributes');
  assert.not.match(html, /url\(\s*["']?\s*(?:https?:)?\/\//i, 'no network references in CSS');
  for (const m of html.matchAll(/\bhref\s*=\s*"([^"]*)"/g)) assert.ok(m[1]!.startsWith('#'), `only in-page links, got ${m[1]}`);
});

test('text from the data is escaped, in tables and inside the SVG plots', () => {
  assert.not.ok(html.includes('<script>alert(1)'), 'raw component name must not appear');
  assert.not.ok(html.includes('<b>fashion-cnn'), 'raw title must not appear');
  assert.ok(html.includes('<title>COAR on &lt;b&gt;fashion-cnn&lt;/b&gt; &amp; friends</title>'), 'escaped title');
  const escaped = 'evil&lt;script&gt;alert(1)&lt;/script&gt;&amp;co.weight[0]';
  const inTable = html.includes(`<code>${escaped}</code>`);
  const inSvg = /<svg[\s\S]*?evil&lt;script&gt;alert\(1\)&lt;\/script&gt;&amp;co\.weight\[0\][\s\S]*?<\/svg>/.test(html);
  assert.ok(inTable, 'the escaped name is in the top-components table of example 0');
  assert.ok(inSvg, 'the escaped name labels a bar in a plot');
});

test('the summary table shows mean and median correlations over the examples with a defined value', () => {
  for (const e of data.eval) {
    for (const xs of [e.pearson, e.spearman]) {
      const ok = [...xs].filter(Number.isFinite).sort((a, b) => a - b);
      const mean = ok.reduce((a, b) => a + b, 0) / ok.length;
      const median = ok.length % 2 ? ok[(ok.length - 1) / 2]! : (ok[ok.length / 2 - 1]! + ok[ok.length / 2]!) / 2;
      assert.ok(html.includes(`<td class="num">${mean.toFixed(3)}</td>`), `mean ${mean.toFixed(3)} at alpha ${e.alpha}`);
      assert.ok(html.includes(`<td class="num">${median.toFixed(3)}</td>`), `median ${median.toFixed(3)} at alpha ${e.alpha}`);
    }
  }
  assert.ok(html.includes('(1 undefined)'), 'the undefined correlation is counted, not averaged');
  assert.ok(html.includes('No examples of: Ankle boot'), 'a class without examples is named');
});

test('top components and layer mass equal a direct sort and sum', () => {
  const n = data.examples.length, c = data.components.length;
  for (const i of [0, 7, 23]) {
    const direct = Array.from({ length: c }, (_, j) => ({ component: j, value: data.attributions[j * n + i]! }))
      .sort((a, b) => Math.abs(b.value) - Math.abs(a.value) || a.component - b.component).slice(0, 10);
    assert.equal(topByMagnitude(c, (j) => data.attributions[j * n + i]!, 10), direct, `example ${i}`);
  }
  const layers = [...new Set(data.components.map((x) => x.layer))];
  const direct = layers.map((layer) => {
    let mass = 0, components = 0;
    data.components.forEach((x, j) => {
      if (x.layer !== layer) return;
      components++;
      for (let i = 0; i < n; i++) mass += Math.abs(data.attributions[j * n + i]!) / n;
    });
    return { layer, components, mass };
  });
  const got = layerMass(data.attributions, n, data.components.map((x) => x.layer));
  assert.equal(got.map((m) => m.layer), layers, 'layers in model order');
  got.forEach((m, k) => {
    assert.is(m.components, direct[k]!.components);
    assert.ok(Math.abs(m.mass - direct[k]!.mass) < 1e-9 * Math.max(1, direct[k]!.mass), `${m.layer}: ${m.mass} vs ${direct[k]!.mass}`);
  });
});

test('a report without evaluation, timings or scatter margins still renders, saying what is missing', () => {
  const bare = renderReport({ ...data, eval: [], stages: [], sweep: { ...data.sweep, passesPerSecond: undefined }, fit: { method: 'ols' } });
  assert.ok(bare.includes('No evaluation was run.'));
  assert.ok(bare.includes('No timings recorded.'));
  assert.ok(bare.includes('No margins were recorded for a scatter plot.'));
  assert.ok(bare.includes('Example #1000 · T-shirt/top'), 'top components fall back to the first examples');
  const extra = renderReport({ ...data, extra: [{ heading: 'Edit <1>', html: '<p id="trusted">as given</p>' }] });
  assert.ok(extra.includes('<h2>Edit &lt;1&gt;</h2>') && extra.includes('<p id="trusted">as given</p>'), 'extra sections: heading escaped, body as given');
});

test('inconsistent report data is refused with the sizes that disagree', () => {
  try {
    renderReport({ ...data, bias: new Float32Array(3) });
    assert.unreachable('should throw');
  } catch (e) {
    assert.match((e as Error).message, 'bias has 3 values, expected 24');
  }
});

test('writeReport writes the rendered document whole, leaving no temporary file', () => {
  const out = join(dir, 'atomic');
  mkdirSync(out);
  writeReport(join(out, 'report.html'), data);
  assert.is(readFileSync(join(out, 'report.html'), 'utf8'), html);
  assert.equal(readdirSync(out), ['report.html']);
});

test('headless Chromium renders the report from disk: a PNG screenshot and at least five SVG plots', () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: run scripts/setup.sh (it installs Debian's chromium)`);
  const page = join(dir, 'report.html');
  writeReport(page, data);
  const url = pathToFileURL(page).href;

  const dom = chromium(['--dump-dom', url], join(dir, 'profile-dom'));
  assert.is(dom.status, 0, `chromium --dump-dom failed: ${dom.stderr}`);
  const svgs = (dom.stdout.match(/<svg\b/g) ?? []).length;
  assert.ok(svgs >= 5, `the rendered page has ${svgs} <svg> elements, expected at least 5`);
  assert.not.ok(dom.stdout.includes('<script>alert(1)'), 'the rendered DOM has no injected script');

  const png = join(dir, 'report.png');
  const shot = chromium([`--screenshot=${png}`, '--window-size=1200,3000', '--hide-scrollbars', url], join(dir, 'profile-shot'));
  assert.ok(existsSync(png), `no screenshot written (exit ${shot.status}): ${shot.stderr}`);
  const bytes = readFileSync(png);
  assert.equal([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
  assert.is(bytes.toString('latin1', 12, 16), 'IHDR');
  assert.is(bytes.readUInt32BE(16), 1200, 'width');
  assert.is(bytes.readUInt32BE(20), 3000, 'height');
  // a blank 1200 x 3000 page compresses to a few KB; plots and text make it far larger
  const size = statSync(png).size;
  assert.ok(size > 50_000 && size < 20_000_000, `screenshot is ${size} bytes`);
  // to look at the page: REPORT_KEEP=<folder> node --import tsx test/report.test.ts
  if (process.env.REPORT_KEEP) {
    mkdirSync(process.env.REPORT_KEEP, { recursive: true });
    copyFileSync(page, join(process.env.REPORT_KEEP, 'report.html'));
    copyFileSync(png, join(process.env.REPORT_KEEP, 'report.png'));
  }
});

test.run();
