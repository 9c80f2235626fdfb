/**
 * Every kind of tile the tuner may choose on this adapter equals PyTorch when forced with
 * `--tile` (REFERENCE.md, "Ablation": the reference zeroes weight rows): register,
 * shared-weights, subgroup and workgroup-memory tiles within 1e-4 in f32, and f16-math tiles
 * within 1e-2 under --precision f16; a ViT's attention tiles (register and flash, which stages
 * keys and values in workgroup memory) within 1e-4 in f32 and 1e-2 with f16 storage. The kinds come from `coar bench tiles`, so a kind the
 * tuner gains is covered without editing this file. Subgroup tests read the adapter's own
 * widths, never 8. The subgroup-matrix GEMM is checked where the adapter has configs and
 * skipped, with the reason printed, where it has none (lavapipe).
 */
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { adapterProfile, subgroupGroups, type AdapterFacts } from '../src/gpu/profiles/index.js';
import { coar } from './support/cli.js';
import { loadF32, relError } from './support/compare.js';
import { runReference } from './support/python.js';
import { tempDir } from './support/tmp.js';

const dir = tempDir();
const env = { WEBCOAR_TUNING: join(dir, 'tuning.json') };
const mini = join(dir, 'mini');
const vit = join(dir, 'vit');
runReference('resnet_reference.py', ['mini-resnet', mini, '--width', '8', '--blocks', '1', '--n', '2']);
runReference('vit_reference.py', [vit, '--n', '2']);
const weights = (d: string) => join(d, 'weights.safetensors');

interface Listing {
  profile: string; subgroups?: { min: number; max: number }; subgroupMatrixConfigs: unknown[];
  classes: { key: string; default: string; candidates: { name: string; kind: string; math: string }[] }[];
}

function listTiles(extra: string[] = [], more: Record<string, string> = {}, arch = 'mini-resnet', d = mini): Listing {
  const r = coar(['bench', 'tiles', '--arch', arch, '--weights', weights(d), '--json', ...extra], { env: { ...env, ...more } });
  assert.is(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Listing;
}

const isAttention = (kind: string) => kind.startsWith('attention');

/**
 * Per (kind, math), over every shape class: for a conv kind the candidate with the fewest
 * accumulators (the quickest to compile); for an attention kind (names `attn/...`, no
 * accumulator count) the first listed, the class's default where it is of that kind.
 */
function oneOfEachKind(l: Listing, math: string): Map<string, string> {
  const size = (n: string) => { const [tp, ch] = n.split('/')[0]!.split('x').map(Number); return tp! * ch!; };
  const out = new Map<string, string>();
  for (const c of l.classes) {
    for (const t of c.candidates) {
      if (t.math !== math) continue;
      const cur = out.get(t.kind);
      if (!cur || (!isAttention(t.kind) && size(t.name) < size(cur))) out.set(t.kind, t.name);
    }
  }
  return out;
}

function ablateError(d: string, arch: string, extra: string[]): number {
  const out = join(d, `out_${Math.random().toString(36).slice(2)}.npy`);
  const r = coar(['ablate', '--arch', arch, '--weights', weights(d), '--inputs', join(d, 'inputs.npy'), '--labels', join(d, 'labels.npy'),
    '--masks', join(d, 'masks.npy'), '--out', out, '--output', 'logits', ...extra], { env });
  assert.is(r.code, 0, r.stderr);
  const ours = loadF32(out), ref = loadF32(join(d, 'logits.npy'));
  assert.equal(ours.shape, ref.shape);
  const [k, n, c] = ref.shape as [number, number, number];
  let worst = 0;
  for (let m = 0; m < k; m++) worst = Math.max(worst, relError(ours.data.subarray(m * n * c, (m + 1) * n * c), ref.data.subarray(m * n * c, (m + 1) * n * c)));
  return worst;
}

const f32 = listTiles();
const f16 = listTiles(['--precision', 'f16']);
// attention tiles come from a model that has attention
const vitF32 = listTiles([], {}, 'vit', vit);
const vitF16 = listTiles(['--precision', 'f16'], {}, 'vit', vit);
console.log(`adapter profile: ${f32.profile}`);

test('bench tiles lists register, shared-weights and workgroup-memory candidates for every conv shape class (subgroup ones where the adapter has subgroups)', () => {
  assert.ok(f32.classes.length >= 3, `${f32.classes.length} conv shape classes`);
  for (const c of f32.classes) {
    const kinds = new Set(c.candidates.map((t) => t.kind));
    for (const k of ['register', 'shared-weights', 'workgroup-memory', ...(f32.subgroups ? ['subgroup'] : [])]) assert.ok(kinds.has(k), `${c.key}: no ${k} candidate`);
  }
  assert.ok(f16.classes.some((c) => c.candidates.some((t) => t.math === 'f16')), 'no f16-math candidate under --precision f16');
});

test('bench tiles lists register and workgroup-memory (flash) candidates for every attention shape class of a ViT', () => {
  const attn = vitF32.classes.filter((c) => c.key.startsWith('attention'));
  assert.ok(attn.length >= 2, `${attn.length} attention shape classes (all tokens, and the last block's class token)`);
  for (const c of attn) {
    const kinds = new Set(c.candidates.map((t) => t.kind));
    for (const k of ['attention-register', 'attention-workgroup-memory']) assert.ok(kinds.has(k), `${c.key}: no ${k} candidate`);
  }
});

for (const [kind, name] of oneOfEachKind(f32, 'f32')) {
  test(`a forced ${kind} tile (${name}) equals PyTorch within 1e-4 under every mask`, () => {
    const err = ablateError(mini, 'mini-resnet', ['--tile', name]);
    assert.ok(err <= 1e-4, `relative error ${err.toExponential(2)} > 1e-4`);
  });
}

// attention kinds: every q, k, v read and every sum in f32 (f16 storage is checked below)
for (const [kind, name] of oneOfEachKind(vitF32, 'f32')) {
  if (!isAttention(kind)) continue;
  test(`a forced ${kind} tile (${name}) runs every attention of a ViT and equals PyTorch within 1e-4 under every mask`, () => {
    const err = ablateError(vit, 'vit', ['--tile', name]);
    console.log(`    relative error ${err.toExponential(2)}`);
    assert.ok(err <= 1e-4, `relative error ${err.toExponential(2)} > 1e-4`);
  });
}

// attention sums in f32 whatever the storage: under --precision f16 its tiles are listed as f32 math
for (const [kind, name] of oneOfEachKind(vitF16, 'f32')) {
  if (!isAttention(kind)) continue;
  test(`a forced ${kind} tile (${name}) with q, k, v stored as f16 is within 1e-2 of PyTorch f32 under every mask`, () => {
    const err = ablateError(vit, 'vit', ['--precision', 'f16', '--tile', name]);
    console.log(`    relative error ${err.toExponential(2)}`);
    assert.ok(err <= 1e-2, `relative error ${err.toExponential(2)} > 1e-2`);
  });
}

for (const [kind, name] of oneOfEachKind(f16, 'f16')) {
  test(`a forced f16-math ${kind} tile (${name}, f16 multiplies, f32 sums) is within 1e-2 of PyTorch f32 under every mask`, () => {
    const err = ablateError(mini, 'mini-resnet', ['--precision', 'f16', '--tile', name]);
    assert.ok(err <= 1e-2, `relative error ${err.toExponential(2)} > 1e-2`);
  });
}

// f16 sums too (/acc16, forced only): the same tolerance, on this model's short sums (K <= 72)
for (const [kind, name] of oneOfEachKind(f16, 'f16')) {
  test(`a forced f16-sum ${kind} tile (${name}/acc16, f16 multiplies and sums) is within 1e-2 of PyTorch f32 under every mask`, () => {
    const err = ablateError(mini, 'mini-resnet', ['--precision', 'f16', '--tile', `${name}/acc16`]);
    console.log(`    relative error ${err.toExponential(2)}`);
    assert.ok(err <= 1e-2, `relative error ${err.toExponential(2)} > 1e-2`);
  });
}

test('bad input: f16 sums without f16 multiplies (/acc16 without /half), or without f16 storage, are refused in one line', () => {
  const run = (tile: string, ...extra: string[]) => coar(['ablate', '--arch', 'mini-resnet', '--weights', weights(mini), '--inputs', join(mini, 'inputs.npy'), '--labels', join(mini, 'labels.npy'),
    '--masks', join(mini, 'masks.npy'), '--out', join(dir, 'acc.npy'), '--tile', tile, ...extra], { env });
  const a = run('16x8/64x1/acc16', '--precision', 'f16');
  assert.is(a.code, 1, a.stderr);
  assert.match(a.stderr, 'tile 16x8/64x1/acc16 cannot run here: f16 sums (/acc16) need f16 multiplies (/half)');
  const b = run('16x8/64x1/half/acc16');
  assert.is(b.code, 1, b.stderr);
  assert.match(b.stderr, 'f16 math needs f16 storage (--precision f16)');
  for (const r of [a, b]) assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
});

test('a workgroup-memory tile runs a ViT\'s linears (GELU, residual adds) and equals PyTorch within 1e-4', () => {
  const err = ablateError(vit, 'vit', ['--tile', '4x4/8x8/wgmem8']);
  assert.ok(err <= 1e-4, `relative error ${err.toExponential(2)} > 1e-4`);
});

test('a subgroup tile broadcasting one 4 x 4 block per round (4 lanes: any subgroup width >= 4) equals PyTorch', () => {
  if (!f32.subgroups) { console.log('  skipped: this adapter reports no subgroups'); return; }
  const err = ablateError(mini, 'mini-resnet', ['--tile', '2x4/64x1/sg']);
  assert.ok(err <= 1e-4, `relative error ${err.toExponential(2)} > 1e-4`);
});

test('a conv tile and a flash attention tile forced together (--tile A,B) run a ViT and equal PyTorch within 1e-4', () => {
  const err = ablateError(vit, 'vit', ['--tile', '4x4/8x8/wgmem8,attn/flash32/kv8']);
  console.log(`    relative error ${err.toExponential(2)}`);
  assert.ok(err <= 1e-4, `relative error ${err.toExponential(2)} > 1e-4`);
});

test('bench --profile --tile runs the forced tile in every conv', () => {
  const r = coar(['bench', '--profile', '--arch', 'mini-resnet', '--weights', weights(mini), '--masks', '2', '--repeats', '1', '--tile', '4x4/8x8/wgmem8'], { env });
  assert.is(r.code, 0, r.stderr);
  const convs = r.stdout.split('\n').filter((l) => /^conv\d/.test(l));
  assert.ok(convs.length >= 3, r.stdout);
  for (const l of convs) assert.match(l, /4x4\/8x8\/wgmem8/);
});

test('the subgroup-matrix GEMM of every config the adapter reports equals a float64 product (f32 sums 1e-4, f16 sums 1e-2)', () => {
  // Dawn lists subgroup-matrix configs only with its unsafe APIs allowed
  const unsafe = { WEBCOAR_DAWN_UNSAFE: '1' };
  if (!listTiles([], unsafe).subgroupMatrixConfigs.length) {
    console.log('  skipped: adapter.info.subgroupMatrixConfigs is empty on this adapter (no chromium-experimental-subgroup-matrix; Dawn lists them with WEBCOAR_DAWN_UNSAFE=1)');
    return;
  }
  // not yet a conv tile (issue 21.3): the GEMM probe of `bench ceiling` is what runs on them
  const r = coar(['bench', 'ceiling', '--quick', '--json', '--gemm-size', '256'], { env: { ...env, ...unsafe } });
  assert.is(r.code, 0, r.stderr);
  const trials = (JSON.parse(r.stdout) as { subgroupMatrix: { name: string; relError: number; error?: string }[] }).subgroupMatrix;
  assert.ok(trials.length, 'configs listed, none probed');
  for (const t of trials) {
    assert.not.ok(t.error, `${t.name}: ${t.error}`);
    const tol = t.name.includes('->f16') ? 1e-2 : 1e-4;
    assert.ok(t.relError <= tol, `${t.name}: relative error ${t.relError.toExponential(2)} > ${tol}`);
  }
});

test('adapter profiles: each class from what the adapter reports, subgroup blocks from its smallest width', () => {
  const facts = (vendor: string, device: string, min?: number, max?: number): AdapterFacts => ({
    vendor, architecture: '', device, description: device, features: min ? ['subgroups', 'shader-f16'] : [],
    limits: { maxComputeInvocationsPerWorkgroup: 1024, maxComputeWorkgroupStorageSize: 16384, maxStorageBufferBindingSize: 1 << 30 },
    subgroupMinSize: min, subgroupMaxSize: max,
  });
  const nv = adapterProfile(facts('nvidia', 'NVIDIA H100', 32, 32));
  assert.is(nv.class, 'nvidia');
  assert.ok(nv.convDefault(16, false).wgmem, 'a GPU starts from the workgroup-memory tile');
  assert.is(subgroupGroups(nv, 4), 4);
  const amd = adapterProfile(facts('amd', 'Radeon RX 7900', 32, 64));
  assert.equal(amd.subgroups, { min: 32, max: 64 });
  assert.is(subgroupGroups(adapterProfile(facts('arm', 'Mali', 4, 16)), 4), 1);
  assert.is(subgroupGroups(adapterProfile(facts('intel', 'Arc', 8, 32)), 3), 1);
  assert.is(adapterProfile(facts('google', 'SwiftShader')).subgroups, undefined);
  assert.is(adapterProfile(facts('google', 'SwiftShader')).class, 'generic');
  // "Corporation" holds "ati": vendor words are matched whole
  assert.is(adapterProfile(facts('intel', 'Intel Corporation Arc A770', 8, 32)).class, 'intel');
  assert.is(adapterProfile(facts('mesa', 'llvmpipe (LLVM 15.0.6, 256 bits)', 8, 8)).class, 'lavapipe');
  // 16 KiB of workgroup memory (WebGPU's minimum) holds the 64 x 64 tile at K depth 8 exactly
  assert.is(nv.wgmemTile.kch, 8);
});

test('bad input: a malformed --tile gets one line and exit 1', () => {
  const r = coar(['ablate', '--arch', 'mini-resnet', '--weights', weights(mini), '--inputs', join(mini, 'inputs.npy'), '--labels', join(mini, 'labels.npy'),
    '--masks', join(mini, 'masks.npy'), '--out', join(dir, 'x.npy'), '--tile', '4x5/64'], { env });
  assert.is(r.code, 1);
  assert.match(r.stderr, /--tile '4x5\/64'.*give/);
  assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
});

test('bad input: a malformed attention --tile gets one line naming it and exit 1', () => {
  const r = coar(['ablate', '--arch', 'vit', '--weights', weights(vit), '--inputs', join(vit, 'inputs.npy'), '--labels', join(vit, 'labels.npy'),
    '--masks', join(vit, 'masks.npy'), '--out', join(dir, 'y.npy'), '--tile', 'attn/flash64'], { env });
  assert.is(r.code, 1);
  assert.match(r.stderr, /^coar: --tile 'attn\/flash64' is not an attention tile name: give /);
  assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
});

test.run();
