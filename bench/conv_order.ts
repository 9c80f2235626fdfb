/**
 * Workgroup order of conv2d.wgsl per ResNet-50 conv shape: pixel blocks first (the workgroups
 * of one channel group sweep all pixels, then the next group) against channel groups first
 * (the workgroups of one pixel block take every channel group, then the next block), same
 * tile, interleaved round by round in one process, with each conv's real epilogue (mask,
 * BatchNorm, residual, ReLU). Input and weights are random; batch 8 images.
 * usage: node --import tsx bench/conv_order.ts [rounds]   (TILE=4,4,sg)
 */
import { loadavg } from 'node:os';
import { GpuContext } from '../src/gpu/context.js';
import { timeDispatches } from '../src/gpu/timing.js';
import { orderTrafficRatio, conv2d, convOutShape, convTileName, uploadConv, type ConvTile } from '../src/kernels/conv2d.js';

const rounds = Number(process.argv[2] ?? 5);
const [tp, tc4, sg] = (process.env.TILE ?? '4,4,sg').split(',');
const tile: ConvTile = { tp: Number(tp), tc4: Number(tc4), wg: 64, subgroup: sg === 'sg' };
const batch = 8;
// name, k, stride, cin, cout, input side, residual
const shapes: [string, number, number, number, number, number, boolean][] = [
  ['stem 7x7/2', 7, 2, 4, 64, 224, false],
  ['layer1 1x1 64->64', 1, 1, 64, 64, 56, false],
  ['layer1 1x1 256->64', 1, 1, 256, 64, 56, false],
  ['layer1 3x3 64', 3, 1, 64, 64, 56, false],
  ['layer1 1x1 64->256 +res', 1, 1, 64, 256, 56, true],
  ['layer2 1x1 256->128', 1, 1, 256, 128, 56, false],
  ['layer2 3x3/2 128', 3, 2, 128, 128, 56, false],
  ['layer2 down 1x1/2 256->512', 1, 2, 256, 512, 56, false],
  ['layer2 1x1 512->128', 1, 1, 512, 128, 28, false],
  ['layer2 3x3 128', 3, 1, 128, 128, 28, false],
  ['layer2 1x1 128->512 +res', 1, 1, 128, 512, 28, true],
  ['layer3 1x1 1024->256', 1, 1, 1024, 256, 14, false],
  ['layer3 3x3 256', 3, 1, 256, 256, 14, false],
  ['layer3 down 1x1/2 512->1024', 1, 2, 512, 1024, 28, false],
  ['layer3 1x1 256->1024 +res', 1, 1, 256, 1024, 14, true],
  ['layer4 1x1 2048->512', 1, 1, 2048, 512, 7, false],
  ['layer4 3x3 512', 3, 1, 512, 512, 7, false],
  ['layer4 down 1x1/2 1024->2048', 1, 2, 1024, 2048, 14, false],
  ['layer4 1x1 512->2048 +res', 1, 1, 512, 2048, 7, true],
];

const ctx = await GpuContext.open();
const rand = (n: number) => new Float32Array(n).map(() => Math.random() - 0.5);
const cases = shapes.map(([name, k, stride, cin, cout, side, res]) => {
  const cw = uploadConv(ctx, name, rand(cout * cin * k * k), [cout, cin, k, k], rand(cout), rand(cout), { stride, pad: Math.floor(k / 2) });
  const xs = { h: side, w: side, c: cin };
  const o = convOutShape(cw, xs);
  const x = ctx.pool.acquire(batch * side * side * cin * 4, 'x');
  ctx.device.queue.writeBuffer(x, 0, rand(batch * side * side * cin));
  const outElems = batch * o.h * o.w * o.c;
  const y = ctx.pool.acquire(outElems * 4, 'y');
  const residual = res ? ctx.pool.acquire(outElems * 4, 'residual') : undefined;
  if (residual) ctx.device.queue.writeBuffer(residual, 0, rand(outElems));
  const keep = ctx.pool.acquire(batch * o.c * 4, 'keep');
  ctx.device.queue.writeBuffer(keep, 0, new Float32Array(batch * o.c).map(() => (Math.random() < 0.95 ? 1 : 0)));
  const mask = { keep, stride4: o.c / 4, itemsPerMask: 1, start4: () => 0, offset: 0 };
  const call = { x, xShape: xs, inputItems: batch, y, batch, act: 'relu' as const, residual, mask };
  const flops = 2 * batch * o.h * o.w * cout * cin * k * k;
  return {
    name, flops, byTraffic: orderTrafficRatio(cw, xs, batch, tile),
    variants: [false, true].map((channelsFirst) => ({ d: conv2d(ctx, cw, { ...call, tile: { ...tile, channelsFirst } }), best: Infinity })),
  };
});
console.error(`adapter ${ctx.gpu.adapterName}, tile ${convTileName(tile)}, ${rounds} rounds`);
for (let r = 0; r <= rounds; r++) { // round 0 compiles
  for (const c of cases) {
    for (const v of c.variants) {
      const t = await timeDispatches(ctx, [v.d], 1);
      if (r > 0) v.best = Math.min(v.best, t.seconds[0]!);
    }
  }
  console.error(`round ${r} done (load ${loadavg()[0]!.toFixed(1)})`);
}
console.log('| conv | pixels first, GFLOP/s | channels first, GFLOP/s | ratio | traffic ratio |\n|---|---|---|---|---|');
for (const c of cases) {
  const [a, b] = c.variants.map((v) => c.flops / v.best / 1e9) as [number, number];
  console.log(`| ${c.name} | ${a.toFixed(2)} | ${b.toFixed(2)} | ${(b / a).toFixed(2)} | ${c.byTraffic.toFixed(1)} |`);
}
ctx.destroy();
process.exit(0);
