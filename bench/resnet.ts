/**
 * Ablated forward passes per second (masks x examples per second) and GFLOP/s of the
 * engine for MiniResNet at CIFAR shape, ResNet-18 and ResNet-50 at 224, and in the same
 * run PyTorch on the CPU doing the reference procedure on the same masks and inputs.
 *
 * usage: node --import tsx bench/resnet.ts [--quick]   (prints a markdown table)
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ablate } from '../src/coar/ablate.js';
import { readExamples, readMasks } from '../src/coar/inputs.js';
import { GpuContext } from '../src/gpu/context.js';
import { loadModel } from '../src/models/index.js';
import { networkFlops } from '../src/models/network.js';
import { PYTHON, runReference } from '../test/support/python.js';
import { tempDir } from '../test/support/tmp.js';

const quick = process.argv.includes('--quick');
const root = tempDir('coar-bench-');
const configs = [
  { name: 'MiniResNet P=256 K=4 (CIFAR 32x32, reference model)', arch: 'mini-resnet', args: ['--width', '256', '--blocks', '4'], n: 4, k: 4 },
  { name: 'ResNet-18 224x224', arch: 'resnet18', args: [], n: 2, k: 4 },
  { name: 'ResNet-50 224x224', arch: 'resnet50', args: [], n: 2, k: 4 },
].slice(0, quick ? 1 : 3);

const ctx = await GpuContext.open();
const rows: string[] = [];
for (const c of configs) {
  const dir = join(root, c.arch);
  // random weights and inputs, k-1 random masks (the reference script writes 4 masks)
  runReference('resnet_reference.py', [c.arch, dir, ...c.args, '--n', String(c.n), '--no-forward']);
  const model = loadModel(c.arch, join(dir, 'weights.safetensors'));
  const ex = readExamples(join(dir, 'inputs.npy'), join(dir, 'labels.npy'), model);
  const { masks, k } = readMasks(join(dir, 'masks.npy'), model.components.size);
  const net = model.build(ctx, ex.shape);
  await ablate(ctx, net, ex.inputs, ex.labels, masks, 1); // compile and warm up
  const t0 = performance.now();
  await ablate(ctx, net, ex.inputs, ex.labels, masks, k);
  const ours = (performance.now() - t0) / 1000;
  net.destroy();
  const passes = k * ex.shape.n;
  const flops = networkFlops(net);
  const torch = JSON.parse(execFileSync(PYTHON, [join(import.meta.dirname ?? 'bench', 'torch_ablate.py'), c.arch, dir, ...c.args], { encoding: 'utf8' })) as { seconds: number; threads: number };
  const oursRate = passes / ours, torchRate = passes / torch.seconds;
  rows.push(`| ${c.name} | ${(flops / 1e9).toFixed(2)} | ${passes} | ${oursRate.toFixed(2)} | ${((flops * oursRate) / 1e9).toFixed(2)} | ${torchRate.toFixed(2)} (${torch.threads} threads) | ${((flops * torchRate) / 1e9).toFixed(1)} | ${(oursRate / torchRate).toFixed(3)} |`);
  console.error(rows[rows.length - 1]);
}
console.log(`adapter: ${ctx.gpu.description}`);
console.log('| model | GFLOP/pass | passes | webcoar passes/s | webcoar GFLOP/s | PyTorch CPU passes/s | PyTorch GFLOP/s | ratio webcoar/PyTorch |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of rows) console.log(r);
ctx.destroy();
process.exit(0);
