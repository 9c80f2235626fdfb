/**
 * One convolution layer, timed alone: GFLOP/s of conv2d.wgsl for a given shape and tile.
 * usage: node --import tsx bench/conv.ts [cin cout hw k stride batch]
 */
import { encodeDispatches, GpuContext } from '../src/gpu/context.js';
import { readBuffer } from '../src/gpu/buffers.js';
import { conv2d, convOutShape, uploadConv } from '../src/kernels/conv2d.js';

const [cin, cout, hw, k, stride, batch] = (process.argv.slice(2).length ? process.argv.slice(2) : ['64', '64', '56', '3', '1', '8']).map(Number) as number[];
const ctx = await GpuContext.open();
const w = new Float32Array(cout! * cin! * k! * k!).map(() => Math.random() - 0.5);
const cw = uploadConv(ctx, 'bench', w, [cout!, cin!, k!, k!], new Float32Array(cout!).fill(1), new Float32Array(cout!), { stride, pad: Math.floor(k! / 2) });
const xs = { h: hw!, w: hw!, c: cin! };
const o = convOutShape(cw, xs);
const x = ctx.pool.acquire(batch! * hw! * hw! * cin! * 4);
const y = ctx.pool.acquire(batch! * o.h * o.w * o.c * 4);
const flops = 2 * batch! * o.h * o.w * cout! * cin! * k! * k!;
const tiles = (process.env.TILES ?? '8,2,64').split(' ').map((t) => t.split(',').map(Number));
for (const [tp, tc4, wg] of tiles) {
const d = conv2d(ctx, cw, { x, xShape: xs, inputItems: batch!, y, batch: batch!, act: 'relu', tile: { tp: tp!, tc4: tc4!, wg: wg! } });
const times: number[] = [];
for (let r = 0; r < 4; r++) {
  const t0 = performance.now();
  const enc = ctx.device.createCommandEncoder();
  const pass = enc.beginComputePass();
  encodeDispatches(pass, [d]);
  pass.end();
  ctx.device.queue.submit([enc.finish()]);
  await readBuffer(ctx.device, y, 16);
  times.push(performance.now() - t0);
}
const best = Math.min(...times.slice(1));
console.log(`tile ${tp},${tc4},${wg} conv ${k}x${k} ${cin}->${cout} ${hw}x${hw} s${stride} batch ${batch}: ${(flops / 1e9).toFixed(2)} GFLOP in ${best.toFixed(1)} ms = ${(flops / best / 1e6).toFixed(2)} GFLOP/s`);
}
ctx.destroy();
process.exit(0);
