/**
 * The GEMM ceiling kernel (gemm.wgsl, one tile) at the matrix shapes of ResNet-50's
 * convolutions, next to the ceiling's own 1024^3, interleaved round by round: how much of
 * the ceiling a plain GEMM of the same M x N x K reaches. A conv below 70% of the ceiling
 * whose same-shape GEMM is there too is held back by its shape (a short K leaves every
 * output element's store and the per-invocation set-up to few multiply-adds), not by its code.
 * M = output pixels x 8 images (batch of the profile), N = output channels, K = input
 * channels x taps.
 * usage: node --import tsx bench/gemm_shapes.ts [rounds]   (TILE=4,4,sg: rows, vec4 columns, subgroup)
 */
import { loadavg } from 'node:os';
import { GpuContext } from '../src/gpu/context.js';
import { timeDispatches } from '../src/gpu/timing.js';
import { gemm, tileName, type GemmTile } from '../src/kernels/gemm.js';

const rounds = Number(process.argv[2] ?? 5);
const [tm, tn4, sg] = (process.env.TILE ?? '4,4,sg').split(',');
const tile: GemmTile = { tm: Number(tm), tn4: Number(tn4), wgm: 64, wgn: 1, shared: false, subgroup: sg === 'sg' };
// [name, M, N, K]; K of a 3x3 conv = 9 x input channels
const shapes: [string, number, number, number][] = [
  ['ceiling 1024^3', 1024, 1024, 1024],
  ['layer1 1x1 64->64', 25088, 64, 64],
  ['layer1 1x1 256->64', 25088, 64, 256],
  ['layer1 1x1 64->256 (conv3, downsample)', 25088, 256, 64],
  ['layer1 3x3 64', 25088, 64, 576],
  ['layer2 1x1 512->128', 6272, 128, 512],
  ['layer2 1x1 128->512 (conv3)', 6272, 512, 128],
  ['layer2 3x3 128', 6272, 128, 1152],
  ['layer3 1x1 1024->256', 1568, 256, 1024],
  ['layer3 1x1 256->1024 (conv3)', 1568, 1024, 256],
  ['layer3 3x3 256', 1568, 256, 2304],
  ['layer4 1x1 2048->512', 392, 512, 2048],
  ['layer4 1x1 512->2048 (conv3)', 392, 2048, 512],
  ['layer4 3x3 512', 392, 512, 4608],
  ['stem 7x7 3 (padded to 4)', 100352, 64, 196],
];

const ctx = await GpuContext.open();
if (tile.subgroup && !ctx.profile.subgroups) throw new Error('TILE asks for subgroups, and this adapter reports none');
const rand = (n: number) => new Float32Array(n).map(() => Math.random() - 0.5);
const runs = shapes.map(([name, m, n, k]) => {
  const a = ctx.pool.acquire(m * k * 4, 'a'), b = ctx.pool.acquire(k * n * 4, 'b'), c = ctx.pool.acquire(m * n * 4, 'c');
  ctx.device.queue.writeBuffer(a, 0, rand(m * k));
  ctx.device.queue.writeBuffer(b, 0, rand(k * n));
  return { name, shape: `${m}x${n}x${k}`, d: gemm(ctx, { m, n, k }, a, b, c, tile), flops: 2 * m * n * k, best: Infinity };
});
console.error(`adapter ${ctx.gpu.adapterName}, tile ${tileName(tile)}, ${rounds} rounds`);
for (let r = 0; r <= rounds; r++) { // round 0 compiles
  for (const x of runs) {
    const t = await timeDispatches(ctx, [x.d], 1);
    if (r > 0) x.best = Math.min(x.best, t.seconds[0]!);
  }
  console.error(`round ${r} done (load ${loadavg()[0]!.toFixed(1)})`);
}
const top = runs[0]!.flops / runs[0]!.best;
console.log('| shape | M x N x K | GFLOP/s | of 1024^3 |\n|---|---|---|---|');
for (const x of runs) {
  const rate = x.flops / x.best;
  console.log(`| ${x.name} | ${x.shape} | ${(rate / 1e9).toFixed(2)} | ${((rate / top) * 100).toFixed(0)}% |`);
}
ctx.destroy();
process.exit(0);
