/**
 * The pictures of a kernel study (issue 20.3-20.5), from two real profiles of a small
 * MiniResNet (convs and a GEMM) on this machine's adapter at two batch sizes:
 * FLOPs and bytes per kernel equal a count from the shapes PyTorch gives its modules;
 * the roofline page renders in headless Chromium with one point per kernel under both
 * ceilings; the Chrome trace has one event per profiled kernel, as long as the table says,
 * in order and apart on each track; `bench compare` gives each kernel's time ratio;
 * `sweep --trace` has one event per batch.
 */
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ProfileFile } from '../src/models/profile_file.js';
import type { TraceFile } from '../src/report/trace.js';
import { coar } from './support/cli.js';
import { runReference } from './support/python.js';
import { CHROMIUM, chromium } from './support/chromium.js';
import { tempDir } from './support/tmp.js';

const dir = tempDir('coar-roofline-');
const env = { WEBCOAR_TUNING: join(dir, 'tuning.json') };
const mini = join(dir, 'mini');
runReference('resnet_reference.py', ['mini-resnet', mini, '--width', '8', '--blocks', '1', '--n', '2']);
const weights = join(mini, 'weights.safetensors');
const SIZE = 32;
type RefModule = { input: number[]; output: number[]; weight: number[]; flops: number };
const reference = JSON.parse(runReference('flop_reference.py', [weights, String(SIZE)])) as Record<string, RefModule>;

const model = ['--arch', 'mini-resnet', '--weights', weights, '--repeats', '2', '--gemm-size', '256'];
const files = { a: join(dir, 'a.json'), b: join(dir, 'b.json'), html: join(dir, 'a.html'), trace: join(dir, 'a.trace.json'), cmp: join(dir, 'cmp.html') };
// A: 4 masks x 2 examples, with the page and the trace; B: 8 masks x 2 examples
const runA = coar(['bench', '--profile', ...model, '--masks', '4', '--examples', '2', '--out', files.a, '--html', files.html, '--trace', files.trace], { env });
const runB = coar(['bench', '--profile', ...model, '--masks', '8', '--examples', '2', '--out', files.b], { env });
const read = (p: string) => JSON.parse(readFileSync(p, 'utf8')) as ProfileFile;

test('bench --profile writes the profile file, the roofline page and the trace', () => {
  assert.is(runA.code, 0, runA.stderr);
  assert.is(runB.code, 0, runB.stderr);
  for (const f of [files.a, files.b, files.html, files.trace]) assert.ok(existsSync(f), `${f} written`);
  const a = read(files.a);
  assert.is(a.format, 'coar-profile/1');
  assert.is(a.masks * a.examples, 8);
  assert.is(a.profile.items, 8);
  assert.ok(a.ceiling.gemm.gflops > 0 && a.ceiling.copy.gbps > 0, 'measured ceilings');
});

const ceil4 = (c: number) => Math.ceil(c / 4) * 4;

test('FLOPs and bytes of a conv and of the GEMM equal a hand count from the shapes PyTorch gives the modules', () => {
  const a = read(files.a);
  const items = a.masks * a.examples;
  const kernel = (label: string) => a.profile.kernels.find((k) => k.label === label)!;

  // layer.0.conv1: 3x3, stride 1, pad 1, f32 (the inputs' channels are already a multiple of 4)
  const conv = kernel('layer.0.conv1'), rc = reference['layer.0.conv1']!;
  const [, cin, h, w] = rc.input as [number, number, number, number];
  const [, cout, oh, ow] = rc.output as [number, number, number, number];
  const [, , kh, kw] = rc.weight as [number, number, number, number];
  assert.is(conv.kind, 'conv');
  assert.equal(conv.shape, { h, w, cin, cout, kh, kw, stride: 1, pad: 1, oh, ow }, 'the shape the profile records is PyTorch\'s');
  assert.is(conv.flops, 2 * oh * ow * cout * cin * kh * kw * items, 'conv FLOPs: 2 per multiply-add, every item');
  assert.is(conv.flops, rc.flops * items, 'conv FLOPs: PyTorch\'s shapes x items');
  // read the input map once per item, write the output once per item, read the weights once
  assert.is(conv.bytes, 4 * (items * h * w * ceil4(cin) + items * oh * ow * ceil4(cout) + kh * kw * ceil4(cin) * ceil4(cout)));

  // the classifier: a GEMM of 1 row x 10 outputs x 128 inputs per item; rows stored padded to 4 floats
  const gemm = kernel('linear'), rg = reference.linear!;
  const [n, k] = rg.weight as [number, number];
  assert.is(gemm.kind, 'gemm');
  assert.equal(gemm.shape, { m: 1, n, k });
  assert.is(gemm.flops, 2 * n * k * items);
  assert.is(gemm.flops, rg.flops * items);
  assert.is(gemm.bytes, 4 * (items * k + items * ceil4(n) + k * ceil4(n)));

  // every conv and linear module: the first conv computes once per example (its input has no mask yet)
  for (const [name, r] of Object.entries(reference)) {
    const kp = kernel(name);
    assert.ok(kp, `a kernel for ${name}`);
    assert.is(kp.flops, r.flops * (name === 'conv1' ? a.examples : items), name);
  }
});

/** The inner markup of the first <g> with this class in a dumped DOM. */
function group(dom: string, cls: string): string {
  const m = new RegExp(`<g\\b[^>]*class="${cls}"[^>]*>([\\s\\S]*?)</g>`).exec(dom);
  return m ? m[1]! : '';
}

test('the roofline page needs nothing from outside the file', () => {
  const html = readFileSync(files.html, 'utf8');
  assert.ok(html.startsWith('<!doctype html>'));
  assert.not.match(html, /<script\b|<link\b|<img\b|@import|@font-face/i);
  assert.not.match(html, /\b(?:src|href|xlink:href)\s*=\s*["']?\s*(?:https?:)?\/\//i, 'no network references');
});

test('headless Chromium renders the roofline page: one point per kernel, both ceilings and the ridge, time bars, a non-blank screenshot', async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: run scripts/setup.sh (it installs Debian's chromium)`);
  const a = read(files.a);
  const url = pathToFileURL(files.html).href;
  const dom = chromium(['--dump-dom', url], join(dir, 'profile-dom'));
  assert.is(dom.status, 0, `chromium --dump-dom failed: ${dom.stderr}`);
  const withFlops = a.profile.kernels.filter((k) => k.flops > 0);
  const pts = group(dom.stdout, 'kernel-points');
  assert.is((pts.match(/<circle\b/g) ?? []).length, withFlops.length, 'one point per kernel with FLOPs');
  for (const k of withFlops) assert.ok(pts.includes(`aria-label="${k.label}"`), `a point for ${k.label}`);
  for (const c of ['ceiling-copy', 'ceiling-compute']) assert.match(group(dom.stdout, c), /<path\b[^>]*\bd="M[^"]+L/, `${c} is drawn`);
  // the roof: the copy slope ends where the flat GEMM ceiling starts, at the ridge point
  const seg = (cls: string) => {
    const m = /<path\b[^>]*\bd="M([\d.]+),([\d.]+)L([\d.]+),([\d.]+)"/.exec(group(dom.stdout, cls));
    assert.ok(m, `${cls}: one straight segment`);
    return m!.slice(1).map(Number) as [number, number, number, number];
  };
  const copy = seg('ceiling-copy'), compute = seg('ceiling-compute');
  const ridge = /<circle\b[^>]*\bcy="([\d.]+)"[^>]*\bcx="([\d.]+)"/.exec(group(dom.stdout, 'ridge'));
  assert.ok(ridge, 'the ridge point');
  const [ry, rx] = [Number(ridge![1]), Number(ridge![2])];
  assert.ok(Math.abs(compute[1] - compute[3]) < 0.01, 'the GEMM ceiling is flat');
  assert.ok(copy[1] > copy[3] && copy[0] < copy[2], 'the copy ceiling rises with intensity');
  for (const [x, y] of [[copy[2], copy[3]], [compute[0], compute[1]]] as const) assert.ok(Math.abs(x - rx) < 0.01 && Math.abs(y - ry) < 0.01, 'both ceilings meet at the ridge');
  // each kernel is right of the ridge exactly when its FLOP/byte exceeds GEMM GFLOP/s over copy GB/s
  for (const k of withFlops) {
    const c = new RegExp(`<circle\\b[^>]*\\bcx="([\\d.]+)"[^>]*aria-label="${k.label.replace(/\./g, '\\.')}"|<circle\\b[^>]*aria-label="${k.label.replace(/\./g, '\\.')}"[^>]*\\bcx="([\\d.]+)"`).exec(pts);
    assert.ok(c, `${k.label}: its point`);
    const cx = Number(c![1] ?? c![2]);
    assert.is(cx > rx, k.flops / k.bytes > a.ceiling.gemm.gflops / a.ceiling.copy.gbps, `${k.label} at ${k.flops / k.bytes} FLOP/B`);
  }
  assert.is((group(dom.stdout, 'time-bars').match(/<rect\b/g) ?? []).length, a.profile.kernels.length, 'one time bar per kernel');

  const png = join(dir, 'roofline.png');
  const shot = chromium([`--screenshot=${png}`, '--window-size=1200,2400', '--hide-scrollbars', url], join(dir, 'profile-shot'));
  assert.ok(existsSync(png), `no screenshot written (exit ${shot.status}): ${shot.stderr}`);
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  assert.is(info.width, 1200);
  // the conv colour (#2f6db3) of the points, bars and swatches: a blank or unstyled page has none
  let conv = 0;
  for (let i = 0; i < data.length; i += 3) if (Math.abs(data[i]! - 0x2f) < 8 && Math.abs(data[i + 1]! - 0x6d) < 8 && Math.abs(data[i + 2]! - 0xb3) < 8) conv++;
  assert.ok(conv > 2000, `${conv} pixels in the conv colour`);
  const stats = await sharp(png).stats();
  assert.ok(stats.channels[0]!.stdev > 10, `the screenshot varies (stdev ${stats.channels[0]!.stdev.toFixed(1)})`);
});

test('the trace: Chrome trace-event JSON, one complete event per profiled kernel, as long as the table says, in order and apart on each track', () => {
  const a = read(files.a);
  const t = JSON.parse(readFileSync(files.trace, 'utf8')) as TraceFile;
  assert.ok(Array.isArray(t.traceEvents));
  const xs = t.traceEvents.filter((e) => e.ph === 'X');
  const dispatches = a.profile.kernels.flatMap((k) => k.dispatches.map((d) => ({ k, d })));
  assert.is(xs.length, dispatches.length, 'one event per dispatch');
  assert.is(xs.length, a.profile.kernels.length, 'every kernel of this model is one dispatch');
  // the table on the console: ms per kernel, 2 decimals
  const table = new Map<string, number>();
  for (const line of runA.stdout.split('\n')) {
    const m = /^\S+(?: \S+)?\s+(\S+)\s+([\d.]+)\s+[\d.]+\s+[\d.]+\s/.exec(line);
    if (m && m[1] !== 'op') table.set(m[1]!, Number(m[2]));
  }
  xs.forEach((e, i) => {
    const { k, d } = dispatches[i]!;
    for (const key of ['name', 'cat', 'ph', 'ts', 'dur', 'pid', 'tid', 'args']) assert.ok(key in e, `event ${i} has ${key}`);
    assert.is(e.name, k.label, 'in schedule order');
    assert.is(e.cat, k.kind);
    assert.equal(e.args.shape, k.shape ?? null);
    assert.is(e.args.tile, d.tile ?? null);
    assert.is(e.args.flops, k.flops);
    // the event shows the fastest repeat as a whole; the table shows each kernel's best repeat
    assert.ok(Math.abs(e.dur! - (d.end - d.begin) * 1e6) < 2e-3, `${k.label}: dur is the measured span`);
    assert.ok(e.dur! >= d.seconds * 1e6 - 2e-3, `${k.label}: ${e.dur} us >= best ${d.seconds * 1e6} us`);
    assert.ok(Math.abs((e.args.bestMicroseconds as number) - d.seconds * 1e6) < 2e-3);
    const ms = table.get(k.label);
    assert.ok(ms !== undefined, `${k.label} in the console table`);
    assert.ok(Math.abs(ms! - d.seconds * 1e3) <= 0.0051, `${k.label}: table ${ms} ms, profile ${d.seconds * 1e3} ms`);
    assert.ok(e.dur! / 1e3 >= ms! - 0.0051, `${k.label}: event ${e.dur! / 1e3} ms, table ${ms} ms`);
  });
  const tracks = new Map<number, typeof xs>();
  for (const e of xs) tracks.set(e.tid, [...(tracks.get(e.tid) ?? []), e]);
  for (const [tid, es] of tracks) {
    for (let i = 1; i < es.length; i++) {
      assert.ok(es[i]!.ts >= es[i - 1]!.ts + es[i - 1]!.dur! - 1e-6, `track ${tid}: event ${i} (${es[i]!.name}) starts at ${es[i]!.ts} before ${es[i - 1]!.name} ends at ${es[i - 1]!.ts + es[i - 1]!.dur!}`);
    }
  }
  assert.ok(xs.every((e) => e.ts >= 0 && e.dur! > 0));
  assert.ok(t.traceEvents.some((e) => e.ph === 'M' && e.name === 'thread_name'), 'the track is named');
});

test('bench compare: the time ratio B / A of every kernel, on the console and on the roofline page', () => {
  const a = read(files.a), b = read(files.b);
  const r = coar(['bench', 'compare', files.a, files.b, '--html', files.cmp], { env });
  assert.is(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.match(r.stdout, /^op\s+kind\s+A kernel\s+B kernel\s+A ms\s+B ms\s+B\/A$/m);
  for (const ka of a.profile.kernels) {
    const kb = b.profile.kernels.find((k) => k.label === ka.label)!;
    const line = lines.find((l) => l.startsWith(`${ka.label} `));
    assert.ok(line, `a row for ${ka.label}`);
    assert.ok(line!.endsWith(`${(kb.seconds / ka.seconds).toFixed(2)}x`), `${ka.label}: ${line}`);
    assert.ok(line!.includes((ka.seconds * 1e3).toFixed(3)) && line!.includes((kb.seconds * 1e3).toFixed(3)), line);
  }
  const sum = (p: ProfileFile) => p.profile.kernels.reduce((s, k) => s + k.seconds, 0);
  assert.match(r.stdout, new RegExp(`^total \\(matched\\).*${(sum(b) / sum(a)).toFixed(2)}x$`, 'm'));

  const dom = chromium(['--dump-dom', pathToFileURL(files.cmp).href], join(dir, 'profile-cmp'));
  assert.is(dom.status, 0, dom.stderr);
  const compare = /<table class="compare">([\s\S]*?)<\/table>/.exec(dom.stdout)?.[1] ?? '';
  assert.is((compare.match(/<td class="num ratio">/g) ?? []).length, a.profile.kernels.length, 'a ratio per kernel in the page\'s table');
  for (const ka of a.profile.kernels) {
    const kb = b.profile.kernels.find((k) => k.label === ka.label)!;
    assert.ok(compare.includes(`<code>${ka.label}</code>`) && compare.includes(`${(kb.seconds / ka.seconds).toFixed(2)}×`), ka.label);
  }
  const n = a.profile.kernels.filter((k) => k.flops > 0).length;
  assert.is((group(dom.stdout, 'kernel-points-a').match(/<circle\b/g) ?? []).length, n, 'A\'s kernels on the roofline');
  assert.is((group(dom.stdout, 'kernel-points').match(/<circle\b/g) ?? []).length, n, 'B\'s kernels on the roofline');
  assert.is((group(dom.stdout, 'ratio-bars').match(/<rect\b/g) ?? []).length, a.profile.kernels.length, 'a ratio bar per kernel');
});

test('bench compare of two tiles: the same pass with every conv on a shared-memory tile from the tuning cache', () => {
  // C: A's batch, its cache (ceiling included) plus tuned tiles, every conv's then replaced by the 2-D shared-memory tile
  const cache = join(dir, 'tiles.json');
  copyFileSync(env.WEBCOAR_TUNING, cache);
  const tune = coar(['bench', 'tune', ...model, '--masks', '4', '--examples', '2', '--quick'], { env: { WEBCOAR_TUNING: cache } });
  assert.is(tune.code, 0, tune.stderr);
  type CacheFile = { adapters: Record<string, Record<string, { choice: Record<string, unknown> }>> };
  const c = JSON.parse(readFileSync(cache, 'utf8')) as CacheFile;
  let convs = 0;
  for (const entries of Object.values(c.adapters)) for (const e of Object.values(entries)) if ('tp' in e.choice) { e.choice = { tp: 2, tc4: 1, wg: 16, wgc: 2, shared: true, kch: 2 }; convs++; }
  assert.ok(convs > 0, 'bench tune cached conv tiles');
  writeFileSync(cache, JSON.stringify(c));
  const fileC = join(dir, 'c.json');
  const p = coar(['bench', '--profile', ...model, '--masks', '4', '--examples', '2', '--out', fileC], { env: { WEBCOAR_TUNING: cache } });
  assert.is(p.code, 0, p.stderr);
  const a = read(files.a), cc = read(fileC);
  const r = coar(['bench', 'compare', files.a, fileC], { env });
  assert.is(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  let changed = 0;
  for (const ka of a.profile.kernels) {
    const kc = cc.profile.kernels.find((k) => k.label === ka.label)!;
    if (ka.kind === 'conv') {
      // the workgroup order may follow (/cf): the cached tile has none, conv2d's traffic rule picks it
      assert.match(kc.dispatches[0]!.tile ?? '', /^2x4\/16x2\/shared2(\/cf)?$/, `${ka.label} runs the cached tile in C`);
      if (ka.kernel !== kc.kernel) changed++;
    }
    const line = lines.find((l) => l.startsWith(`${ka.label} `))!;
    assert.ok(line.includes(ka.kernel) && line.includes(kc.kernel), `${ka.label}: both kernels and tiles in the row: ${line}`);
    assert.ok(line.endsWith(`${(kc.seconds / ka.seconds).toFixed(2)}x`), line);
  }
  assert.ok(changed > 0, 'the default tile of A is not the shared-memory tile');
});

test('bench compare refuses a file that is not a profile, in one line', () => {
  const r = coar(['bench', 'compare', files.a, files.trace], { env });
  assert.is(r.code, 1);
  assert.match(r.stderr, /^coar: .*a\.trace\.json is not a profile \(format undefined, expected coar-profile\/1\): write one with `coar bench --profile \.\.\. --out FILE`$/);
  const missing = coar(['bench', 'compare', files.a, join(dir, 'none.json')], { env });
  assert.is(missing.code, 1);
  assert.match(missing.stderr, /cannot read profile .*none\.json: ENOENT/);
});

test('sweep --trace: one event per batch, the masks adding up to the sweep, in order on the host clock', () => {
  const trace = join(dir, 'sweep.trace.json');
  const r = coar(['sweep', '--arch', 'mini-resnet', '--weights', weights, '--inputs', join(mini, 'inputs.npy'), '--labels', join(mini, 'labels.npy'),
    '--masks', '24', '--chunk', '8', '--out', join(dir, 'store'), '--trace', trace, '--quiet'], { env });
  assert.is(r.code, 0, r.stderr);
  const t = JSON.parse(readFileSync(trace, 'utf8')) as TraceFile;
  const xs = t.traceEvents.filter((e) => e.ph === 'X');
  assert.equal(xs.map((e) => e.args.masks), [8, 8, 8]);
  assert.equal(xs.map((e) => e.args.firstPendingMask), [0, 8, 16]);
  xs.forEach((e, i) => {
    assert.ok(e.dur! > 0 && e.args.passes === 8 * 2);
    if (i) assert.ok(e.ts >= xs[i - 1]!.ts + xs[i - 1]!.dur! - 1e-6, `batch ${i + 1} starts after batch ${i} ends`);
  });
});

test.run();
