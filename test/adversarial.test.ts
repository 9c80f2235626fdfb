/**
 * Hostile input files (issue 22, item 3): each is refused with one line naming the file
 * and the fault, a non-zero exit and no output file, and the process stays small: a file
 * that claims gigabytes (a header length, a tensor, an array shape) is never allocated,
 * which the child's peak RSS shows. Sparse files stand in for the huge ones, so the claims
 * cost no disk. The unusual-but-valid orders numpy writes (big-endian, Fortran) are read
 * as numpy reads them. The .npy files are numpy's own (test/reference/hostile_npy.py);
 * the safetensors files are byte-level edits of the PyTorch reference's weights.
 */
import { existsSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { coar } from './support/cli.js';
import { expectError, miniResnetCase, type CaseResult } from './support/mini_resnet_case.js';
import { runReference } from './support/python.js';
import { tempDir } from './support/tmp.js';

const dir = tempDir();
const { good, ablate, variant } = miniResnetCase(dir);
runReference('hostile_npy.py', [join(dir, 'ref'), dir]);
const npy = (name: string) => join(dir, `${name}.npy`);

/** node, tsx and the CLI take about 140 MiB here; every claim below is 8 GB or more */
const RSS_LIMIT_MIB = 400;
function bounded(r: CaseResult): CaseResult {
  if (process.env.COAR_TEST_SHOW_RSS) console.log(`peak RSS ${r.peakRssMiB?.toFixed(0)} MiB: ${r.stderr}`);
  assert.ok(r.peakRssMiB !== undefined && r.peakRssMiB < RSS_LIMIT_MIB, `peak RSS ${r.peakRssMiB} MiB, limit ${RSS_LIMIT_MIB}`);
  return r;
}
const hostile = (over: Parameters<typeof ablate>[0]) => bounded(ablate(over, { peakRss: true }));

// the good weights taken apart: header text and data bytes
const goodBytes = readFileSync(good.weights);
const goodLen = Number(goodBytes.readBigUInt64LE(0));
const goodHeader = JSON.parse(goodBytes.subarray(8, 8 + goodLen).toString('utf8')) as Record<string, any>;
const goodData = goodBytes.subarray(8 + goodLen);

let files = 0;
/** A safetensors file from header text and data; `length` overrides the stored header length, `size` extends the file sparsely. */
function safetensors(header: string | Buffer | object, opts: { length?: bigint; data?: Uint8Array; size?: number } = {}): string {
  const text = Buffer.isBuffer(header) ? header : Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(opts.length ?? BigInt(text.length));
  const p = join(dir, `hostile${files++}.safetensors`);
  writeFileSync(p, Buffer.concat([len, text, opts.data ?? goodData]));
  if (opts.size !== undefined) truncateSync(p, opts.size);
  return p;
}
/** The good header with entries replaced (a deep copy). */
function edited(edit: (h: Record<string, any>) => void): Record<string, any> {
  const h = structuredClone(goodHeader);
  edit(h);
  return h;
}

test('the good files work (the baseline for every case below)', () => {
  const r = ablate({});
  assert.is(r.code, 0, r.stderr);
  assert.ok(existsSync(r.out));
});

test('safetensors: a huge or lying header length is refused without allocating it', () => {
  const w = (length: bigint, size?: number) => safetensors(goodHeader, { length, size, data: new Uint8Array(64) });
  expectError(hostile({ weights: w(2n ** 62n) }), 'hostile', 'header length 4611686018427387904', 'outside 2..100000000');
  // 8 GB: the file really is that long (sparse), the format's 100 MB limit still refuses it
  expectError(hostile({ weights: w(8_000_000_000n, 8_000_001_000) }), 'header length 8000000000', 'outside');
  // under the limit but longer than the file
  expectError(hostile({ weights: w(99_000_000n) }), 'header length 99000000 does not fit a', '-byte file');
  expectError(hostile({ weights: safetensors('{}', { length: 1n, data: new Uint8Array(0) }) }), 'header length 1');
});

test('safetensors: a header that is not JSON, not an object, or holds a non-object entry is refused', () => {
  expectError(ablate({ weights: safetensors('{"linear.weight": {"dtype": "F32", ') }), 'hostile', 'header is not JSON');
  expectError(ablate({ weights: safetensors('[1, 2, 3]') }), 'header is not a JSON object');
  expectError(ablate({ weights: safetensors({ ...goodHeader, 'linear.weight': 7 }) }), "entry 'linear.weight' is not an object");
  expectError(ablate({ weights: safetensors({ ...goodHeader, __metadata__: { n: 3 } }) }), '__metadata__ is not an object of strings');
  const latin1 = Buffer.from(JSON.stringify({ __metadata__: { x: 'caf\u00e9' } }), 'latin1');
  expectError(ablate({ weights: safetensors(latin1) }), 'header is not UTF-8 text');
});

test('safetensors: a tensor named twice is refused, though JSON.parse would keep the last silently', () => {
  const text = JSON.stringify(goodHeader);
  // the first copy is wrong; JSON.parse keeps the second (good) one, so only a scan of the text sees it
  const twice = text.replace('{', `{"linear.bias":${JSON.stringify({ ...goodHeader['linear.bias'], shape: [5] })},`);
  expectError(ablate({ weights: safetensors(twice) }), "'linear.bias' twice");
  const innerTwice = text.replace('"dtype":"F32"', '"dtype":"F16","dtype":"F32"');
  expectError(ablate({ weights: safetensors(innerTwice) }), /names '[^']+\.dtype' twice/);
});

test('safetensors: overlapping, out-of-range or missized offsets and unknown dtypes are named', () => {
  const mean = goodHeader['layer.0.bn2.running_mean'];
  expectError(ablate({ weights: safetensors(edited((h) => { h['layer.0.bn2.running_var'].data_offsets = [...mean.data_offsets]; })) }),
    "'layer.0.bn2.running_mean'", "'layer.0.bn2.running_var'", 'overlap');
  const lin = goodHeader['linear.weight'];
  const span = lin.data_offsets[1] - lin.data_offsets[0];
  expectError(ablate({ weights: safetensors(edited((h) => { h['linear.weight'].data_offsets = [goodData.length - 4, goodData.length - 4 + span]; })) }),
    "'linear.weight'", `the file holds ${goodData.length} data bytes`);
  expectError(ablate({ weights: safetensors(edited((h) => { h['linear.weight'].data_offsets = [-8, span - 8]; })) }), "'linear.weight'", 'data_offsets [-8');
  expectError(ablate({ weights: safetensors(edited((h) => { h['linear.weight'].shape = [lin.shape[0], lin.shape[1] + 1]; })) }),
    "'linear.weight'", `needs ${span + lin.shape[0] * 4} bytes`, `span ${span}`);
  expectError(ablate({ weights: safetensors(edited((h) => { h['linear.weight'].shape = [lin.shape[0], 2.5]; })) }), "'linear.weight' has shape [10,2.5]");
  expectError(ablate({ weights: safetensors(edited((h) => { h['linear.weight'].dtype = 'F8_E4M3'; })) }), "'linear.weight'", 'unsupported dtype "F8_E4M3"');
});

test('safetensors: a huge claimed tensor is refused without reading it, in a short file and in a sparse 50 GB one', () => {
  const huge = [10, 1_342_177_280]; // 53.7 GB of float32
  const bytes = huge[0]! * huge[1]! * 4;
  // the file is short of the claim
  expectError(hostile({ weights: safetensors(edited((h) => { h['linear.weight'] = { dtype: 'F32', shape: huge, data_offsets: [0, bytes] }; })) }),
    "'linear.weight'", `needs bytes 0-${bytes}`);
  // the file really is that long: the model's shape check refuses it before its bytes are read
  const header = edited((h) => { h['linear.weight'] = { dtype: 'F32', shape: huge, data_offsets: [goodData.length, goodData.length + bytes] }; });
  const text = JSON.stringify(header);
  expectError(hostile({ weights: safetensors(text, { size: 8 + Buffer.byteLength(text) + goodData.length + bytes }) }),
    "'linear.weight' takes 1342177280");
  // a shape past 2^53 elements does not wrap to a small size
  expectError(ablate({ weights: safetensors(edited((h) => { h['linear.weight'].shape = [2 ** 40, 2 ** 40]; })) }), "'linear.weight'", 'needs 4.8');
});

test('safetensors: NaN or Inf in a weight is refused with the tensor named', () => {
  const nan = variant('nan.safetensors', (f) => {
    const t = f.tensors.get('linear.weight')!;
    const data = t.data.slice();
    data[3] = NaN;
    f.tensors.set('linear.weight', { shape: t.shape, data });
  });
  expectError(ablate({ weights: nan }), 'nan.safetensors', "tensor 'linear.weight' holds NaN at flat index 3");
  const inf = variant('inf.safetensors', (f) => {
    const t = f.tensors.get('layer.0.bn2.running_var')!;
    const data = t.data.slice();
    data[0] = Infinity;
    f.tensors.set('layer.0.bn2.running_var', { shape: t.shape, data });
  });
  expectError(ablate({ weights: inf }), "tensor 'layer.0.bn2.running_var' holds Infinity");
});

test('.npy: pickled objects, invalid header dicts and structured data are refused, and nothing is evaluated', () => {
  expectError(ablate({ inputs: npy('objects') }), 'objects.npy', 'pickled Python objects', 'never loaded');
  expectError(ablate({ inputs: npy('header_code') }), 'header_code.npy', 'not a valid .npy file', 'header is not the dict');
  expectError(ablate({ inputs: npy('header_list') }), 'header_list.npy', 'header is not the dict');
  expectError(ablate({ inputs: npy('header_twice') }), 'header_twice.npy', 'header is not the dict');
});

test('.npy: a huge claimed shape is refused without allocating it, in a short file and in a sparse 8 GB one', () => {
  expectError(hostile({ inputs: npy('huge_claim') }), 'huge_claim.npy', 'truncated', '[1000000, 3, 32, 32]', '12288000128 bytes');
  expectError(hostile({ labels: npy('huge_labels') }), 'huge_labels.npy', 'shape [2]', '[1000000000]');
  expectError(ablate({ masks: npy('masks_truncated') }), 'masks_truncated.npy', 'truncated');
});

test('.npy: big-endian and Fortran-ordered files numpy wrote give the same result as the C-order originals', () => {
  const base = ablate({});
  const other = ablate({ inputs: npy('inputs_big_fortran'), labels: npy('labels_big'), masks: npy('masks_fortran') });
  assert.is(base.code, 0, base.stderr);
  assert.is(other.code, 0, other.stderr);
  assert.ok(readFileSync(other.out).equals(readFileSync(base.out)), 'identical margins');
});

test('labels out of range (negative, = classes, past 2^32) are refused by ablate and sweep, and sweep leaves no store', () => {
  expectError(ablate({ labels: npy('labels_negative') }), 'labels_negative.npy', 'label -1 of example 1', '0..9');
  expectError(ablate({ labels: npy('labels_wrap') }), 'label 4294967299 of example 1', '0..9');
  for (const [name, label] of [['labels_negative', '-1'], ['labels_ten', '10'], ['labels_wrap', '4294967299']] as const) {
    const out = join(dir, `store_${name}`);
    const r = coar(['sweep', '--arch', 'mini-resnet', '--weights', good.weights, '--inputs', good.inputs, '--labels', npy(name), '--masks', '4', '--out', out, '--quiet']);
    expectError({ ...r, out }, `${name}.npy`, `label ${label} of example 1`, '10 classes');
  }
});

test.run();
