/**
 * Issue 6 in one run: the adapter's ceilings, a per-kernel profile of each model, and
 * end-to-end ablated passes/s of the bundled MiniResNet, ResNet-50 and ViT-B/16 beside two
 * peers on the same machine: PyTorch on the CPU running the reference procedure (a deep
 * copy per mask, rows zeroed, forward), and onnxruntime-node's WebGPU execution provider
 * running the same weights exported to ONNX by Debian's PyTorch (plain forward passes, on
 * the same lavapipe adapter through its own Dawn). The machine is shared, so everything is
 * interleaved in rounds (ceiling, ours, onnxruntime, PyTorch) and the best of the rounds
 * is quoted, with the load average beside each measurement.
 *
 *   node --import tsx bench/peers.ts [cnn,resnet50,vit] [--rounds 2] [--repeats 2] [--f16] [--json out.json]
 *   (--quick-ceiling: a few GEMM tiles only, when the ceiling column matters less than the time)
 *
 * Scratch files (random weights, ONNX exports) go to a temporary folder, never the repo.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateMasks, packMasks } from '../src/coar/masks.js';
import { writeNpy } from '../src/io/npy.js';
import { GpuContext } from '../src/gpu/context.js';
import { timeDispatches } from '../src/gpu/timing.js';
import { measureCeiling } from '../src/kernels/ceiling.js';
import { gemm, gemmCandidates, tileName, type GemmTile } from '../src/kernels/gemm.js';
import { BatchedNetwork, inputShapeElems, toDeviceLayout } from '../src/models/batched.js';
import { loadModel } from '../src/models/index.js';
import { networkFlops } from '../src/models/network.js';
import { formatProfile, profileNetwork, type NetworkProfile } from '../src/models/profile.js';
import { PYTHON, runReference } from '../test/support/python.js';
import { tempDir } from '../test/support/tmp.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..');
const argv = process.argv.slice(2);
const flag = (name: string) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : undefined; };
const which = (argv[0] && !argv[0].startsWith('--') ? argv[0] : 'cnn,resnet50,vit').split(',');
const rounds = Number(flag('--rounds') ?? 2);
const withF16 = argv.includes('--f16');
const repeats = Number(flag('--repeats') ?? 2);
const scratch = tempDir('coar-peers-');
const load = () => loadavg().map((x) => x.toFixed(1)).join(' ');
const log = (s: string) => console.error(`[${new Date().toISOString().slice(11, 19)} load ${load()}] ${s}`);

interface Config { name: string; arch: 'mini-resnet' | 'resnet50' | 'vit_b_16'; weights: string; masks: number; examples: number; ortBatch: number; side: number; channels: number }

function prepare(key: string): Config {
  if (key === 'cnn') {
    return { name: 'MiniResNet (bundled, Fashion-MNIST, 16 ch)', arch: 'mini-resnet', weights: join(ROOT, 'weights', 'fashion-cnn.safetensors'), masks: 32, examples: 32, ortBatch: 32, side: 32, channels: 1 };
  }
  const dir = join(scratch, key);
  if (key === 'resnet50') {
    runReference('resnet_reference.py', ['resnet50', dir, '--n', '1', '--classes', '1000', '--no-forward']);
    return { name: 'ResNet-50 224x224', arch: 'resnet50', weights: join(dir, 'weights.safetensors'), masks: 8, examples: 1, ortBatch: 8, side: 224, channels: 3 };
  }
  if (key === 'vit') {
    runReference('vit_reference.py', [dir, '--arch', 'vit_b_16', '--classes', '1000', '--n', '1', '--no-forward']);
    return { name: 'ViT-B/16 224x224', arch: 'vit_b_16', weights: join(dir, 'weights.safetensors'), masks: 8, examples: 1, ortBatch: 8, side: 224, channels: 3 };
  }
  throw new Error(`unknown model ${key}: cnn, resnet50, vit`);
}

interface Row { round: number; load: string; ceiling: number; ours: number; oursF16?: number; ort?: number; torch: number; torchThreads: number }
interface Result { config: Config; flops: number; executedFlops: number; rows: Row[]; profile: NetworkProfile; profileF16?: NetworkProfile; ortNote?: string; ortWarmup?: number; oursWarmup: number }

// ---- ceilings: a search once, then the best tiles re-timed every round
const ctx = await GpuContext.open();
const ctx16 = withF16 ? await GpuContext.open({ precision: 'f16' }) : undefined;
log(`adapter ${ctx.gpu.description}`);
log('ceiling search (GEMM tiles, copy)');
const ceil = await measureCeiling(ctx, { quick: argv.includes('--quick-ceiling'), onTrial: (k, n, r) => log(`  ${k} ${n}: ${r.toFixed(2)}`) });
const topTiles = ceil.trials.filter((t) => t.kind === 'gemm').sort((a, b) => b.rate - a.rate).slice(0, 3).map((t) => t.name);
const tiles: GemmTile[] = [0, 1].flatMap((st) => gemmCandidates(st, ceil.bestTile, 1024, false, !!ctx.profile.subgroups)).filter((t) => topTiles.includes(tileName(t)));
const N = 1024;
const ga = ctx.pool.acquire(N * N * 4), gb = ctx.pool.acquire(N * N * 4), gc = ctx.pool.acquire(N * N * 4);
ctx.device.queue.writeBuffer(ga, 0, new Float32Array(N * N).fill(0.5));
ctx.device.queue.writeBuffer(gb, 0, new Float32Array(N * N).fill(0.25));
async function gemmNow(): Promise<number> {
  let best = 0;
  for (const t of tiles) {
    const s = (await timeDispatches(ctx, [gemm(ctx, { m: N, n: N, k: N }, ga, gb, gc, t)], 3)).seconds[0]!;
    best = Math.max(best, (2 * N ** 3) / s / 1e9);
  }
  return best;
}

async function ours(c: GpuContext, cfg: Config, bn: BatchedNetwork, repeats: number): Promise<number> {
  const n = cfg.examples;
  const images = new Float32Array(n * cfg.channels * cfg.side * cfg.side).map((_, i) => Math.sin(i * 0.37));
  const input = new Float32Array(inputShapeElems(bn.net) * n);
  toDeviceLayout(bn.net, images, 0, n, input);
  const labels = new Uint32Array(n);
  const C = bn.net.components.size;
  const bits = packMasks(generateMasks(7, 0.05, 0, cfg.masks, C), C, 0, cfg.masks);
  let best = Infinity;
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    await bn.run(input, labels, bits);
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  void c;
  return (cfg.masks * n) / best;
}

const results: Result[] = [];
for (const key of which) {
  const cfg = prepare(key);
  log(`== ${cfg.name}`);
  const model = loadModel(cfg.arch, cfg.weights);
  const shape = { c: cfg.channels, h: cfg.side, w: cfg.side };
  const net = model.build(ctx, shape);
  const bn = new BatchedNetwork(ctx, net, { masks: cfg.masks, examples: cfg.examples });
  let t0 = performance.now();
  await ours(ctx, cfg, bn, 1);
  const oursWarmup = (performance.now() - t0) / 1000;
  log(`ours warm-up ${oursWarmup.toFixed(1)} s`);
  const net16 = ctx16 ? model.build(ctx16, shape) : undefined;
  const bn16 = ctx16 && net16 ? new BatchedNetwork(ctx16, net16, { masks: cfg.masks, examples: cfg.examples }) : undefined;
  if (bn16) { await ours(ctx16!, cfg, bn16, 1); log('ours f16 warm-up done'); }

  // peers' inputs: ONNX export and masks for the reference procedure
  const onnx = join(scratch, `${key}.onnx`);
  let exportError: string | undefined;
  try {
    execFileSync(PYTHON, [join(HERE, 'export_onnx.py'), cfg.arch, cfg.weights, onnx, '--batch', String(cfg.ortBatch)], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    // a peer that cannot run is a row that says so, not a lost benchmark
    exportError = `ONNX export failed: ${String((e as { stderr?: Buffer }).stderr ?? e).trim().split('\n').pop()}`;
    log(exportError);
  }
  const masksNpy = join(scratch, `${key}_masks.npy`);
  writeNpy(masksNpy, 'b1', [cfg.masks, model.components.size], generateMasks(7, 0.05, 0, cfg.masks, model.components.size));

  const rows: Row[] = [];
  let ortNote: string | undefined, ortWarmup: number | undefined;
  for (let round = 0; round < rounds; round++) {
    const l = load();
    const ceiling = await gemmNow();
    log(`round ${round + 1}: GEMM ceiling ${ceiling.toFixed(2)} GFLOP/s`);
    const o = await ours(ctx, cfg, bn, repeats);
    log(`  ours ${o.toFixed(3)} passes/s`);
    const o16 = bn16 ? await ours(ctx16!, cfg, bn16, repeats) : undefined;
    if (o16) log(`  ours f16 ${o16.toFixed(3)} passes/s`);
    const ortOut = exportError ? { missing: exportError } as { seconds?: number[]; warmup?: number; missing?: string }
      : JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', join(HERE, 'ort_run.ts'), onnx, String(cfg.ortBatch), String(cfg.channels), String(cfg.side), String(repeats)],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 24 }).trim().split('\n').pop()!) as { seconds?: number[]; warmup?: number; missing?: string };
    const ort = ortOut.seconds ? cfg.ortBatch / Math.min(...ortOut.seconds) : undefined;
    ortNote = ortOut.missing;
    ortWarmup = ortOut.warmup;
    log(`  onnxruntime-node webgpu ${ort?.toFixed(3) ?? ortNote} images/s (its warm-up ${ortOut.warmup?.toFixed(0)} s)`);
    const torch = JSON.parse(execFileSync(PYTHON, [join(HERE, 'torch_peer.py'), cfg.arch, cfg.weights, masksNpy, String(cfg.examples)],
      { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '2' } }).trim().split('\n').pop()!) as { seconds: number; passes: number; threads: number };
    log(`  PyTorch reference procedure ${(torch.passes / torch.seconds).toFixed(3)} passes/s`);
    rows.push({ round: round + 1, load: l, ceiling, ours: o, oursF16: o16, ort, torch: torch.passes / torch.seconds, torchThreads: torch.threads });
  }
  const bestCeil = Math.max(...rows.map((r) => r.ceiling));
  const profile = await profileNetwork(ctx, bn, { gemm: { gflops: bestCeil, tile: '', size: N }, copy: ceil.copy }, repeats);
  const profileF16 = bn16 ? await profileNetwork(ctx16!, bn16, { gemm: { gflops: bestCeil, tile: '', size: N }, copy: ceil.copy }, repeats) : undefined;
  console.error(formatProfile(profile));
  const nominal = cfg.arch === 'vit_b_16' ? vitB16Flops() : networkFlops(net);
  results.push({ config: cfg, flops: nominal, executedFlops: networkFlops(net), rows, profile, profileF16, ortNote, ortWarmup, oursWarmup });
  bn.destroy(); net.destroy(); bn16?.destroy(); net16?.destroy();
}

/** ViT-B/16 at 224x224: 35.1 GFLOP per image (2 per multiply-add), as bench/vit.ts counts it. */
function vitB16Flops(): number {
  const T = 197, D = 768, M = 3072, L = 12;
  return 2 * 196 * D * 3 * 16 * 16 + L * (2 * T * D * 3 * D + 4 * T * T * D + 2 * T * D * D + 2 * 2 * T * D * M) + 2 * D * 1000;
}

// ---- report
const out: string[] = [];
const date = new Date().toISOString().slice(0, 10);
out.push(`Machine: ${cpus().length}-core ${cpus()[0]?.model.trim()}, shared (load average at each round below). Adapter: ${ctx.gpu.description}. Date: ${date}.`);
out.push(`Ceilings (search at the start: ${ceil.trials.filter((t) => t.kind === 'gemm').length} GEMM tiles at ${N}^3, then the best 3 re-timed each round): GEMM ${ceil.gemm.gflops.toFixed(2)} GFLOP/s (${ceil.gemm.tile}), copy ${ceil.copy.gbps.toFixed(2)} GB/s (${ceil.copy.variant}); timing by ${ceil.method}.`);
out.push('');
out.push('| model | GFLOP/pass | round | load | GEMM ceiling GFLOP/s | ours passes/s | ours GFLOP/s | % of ceiling/FLOPs | ' + (withF16 ? 'ours f16 passes/s | ' : '') + 'onnxruntime WebGPU images/s | PyTorch CPU ref. passes/s | ours / onnxruntime | ours / PyTorch |');
out.push('|---|---|---|---|---|---|---|---|' + (withF16 ? '---|' : '') + '---|---|---|---|');
for (const r of results) {
  for (const row of r.rows) {
    const ideal = (row.ceiling * 1e9) / r.flops;
    out.push(`| ${r.config.name} | ${(r.flops / 1e9).toFixed(3)} | ${row.round} | ${row.load} | ${row.ceiling.toFixed(2)} | ${row.ours.toFixed(3)} | ${((row.ours * r.flops) / 1e9).toFixed(2)} | ${((100 * row.ours) / ideal).toFixed(1)}% | ` +
      (withF16 ? `${row.oursF16?.toFixed(3)} | ` : '') +
      `${row.ort?.toFixed(3) ?? r.ortNote} | ${row.torch.toFixed(3)} (${row.torchThreads} thr) | ${row.ort ? (row.ours / row.ort).toFixed(2) + '×' : '-'} | ${(row.ours / row.torch).toFixed(3)}× |`);
  }
}
out.push('');
out.push(`Batches: ours ${results.map((r) => `${r.config.arch} ${r.config.masks} masks × ${r.config.examples} examples`).join(', ')}; onnxruntime batch ${results.map((r) => r.config.ortBatch).join('/')}; PyTorch the same masks × examples as ours.`);
out.push(`Warm-up (pipeline compilation) excluded: ours ${results.map((r) => r.oursWarmup.toFixed(0) + ' s').join(', ')}; onnxruntime ${results.map((r) => (r.ortWarmup?.toFixed(0) ?? '-') + ' s').join(', ')}.`);
for (const r of results) {
  out.push('');
  out.push(`Per kernel, ${r.config.name}, ${r.config.masks} masks × ${r.config.examples} examples, f32 (${r.profile.method} timing, best of ${repeats}; % of the ceiling that bounds it):`);
  out.push('```');
  out.push(formatProfile(r.profile));
  out.push('```');
  if (r.profileF16) {
    out.push(`f16:`);
    out.push('```');
    out.push(formatProfile(r.profileF16));
    out.push('```');
  }
}
console.log(out.join('\n'));
const jsonPath = flag('--json');
if (jsonPath) writeFileSync(jsonPath, JSON.stringify({ ceiling: ceil, results }, null, 1));
ctx.destroy();
ctx16?.destroy();
process.exit(0);
