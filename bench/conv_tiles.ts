/**
 * Conv tiles on ResNet-50 bottleneck shapes (masked, many items per dispatch), interleaved:
 * every round times every variant on every shape within the same minute, so the ratios
 * hold up on a shared machine. Variants are register tiles of conv2d.wgsl (pixels x
 * channels per invocation) and PROBES: source edits of the same shader that test what
 * lavapipe does with uniform weight loads (not kernels anyone should use).
 *
 * usage: nice -n 10 node --import tsx bench/conv_tiles.ts [rounds] [items]
 *   TILES="1,8 2,4 16,4 8,8,sg" (tp,tc4[,sg|probe]) picks the variants; sg is the SUBGROUP
 *   variant (weights shared by subgroup broadcast); probe is one of
 *   divergent (weight index made divergent with a runtime zero * lane id), nolidy (channel
 *   block from the workgroup id alone), branchless (padding by select instead of if).
 */
import { readBuffer } from '../src/gpu/buffers.js';
import { GpuContext } from '../src/gpu/context.js';
import type { PipelineSpec } from '../src/gpu/pipelines.js';
import { shaderSource } from '../src/gpu/shader.js';
import { timeDispatches } from '../src/gpu/timing.js';
import { conv2d, convOutShape, uploadConv, type ConvTile } from '../src/kernels/conv2d.js';
import { loadavg } from 'node:os';

const rounds = Number(process.argv[2] ?? 3);
const items = Number(process.argv[3] ?? 8);
// ResNet-50 bottleneck convs (cin, cout, hw, k, stride)
const shapes = [
  [256, 64, 56, 1, 1], [64, 64, 56, 3, 1], [64, 256, 56, 1, 1],
  [256, 256, 14, 3, 1], [1024, 256, 14, 1, 1], [512, 2048, 7, 1, 1],
] as const;
const tiles = (process.env.TILES ?? '16,4 16,2 1,2 1,4 1,8 2,2 2,4 2,8 4,2 4,4 4,8').split(' ').map((s) => {
  const [tp, tc4, probe] = s.split(',');
  const subgroup = probe === 'sg';
  return { tile: { tp: Number(tp), tc4: Number(tc4), wg: 64, ...(subgroup ? { subgroup } : {}) } as ConvTile, probe: subgroup ? '' : (probe ?? '') };
});

const PROBES: Record<string, [string, string]> = {
  divergent: ['let col = row + min(c0 + c, lastC);', 'let col = row + min(c0 + c, lastC) + lid.x * u32(p.batch == 0xffffffffu);'],
  nolidy: ['let c0 = (wid.y * WGC + lid.y) * TC4;', 'let c0 = wid.y * TC4;'],
  branchless: ['if (off[t] >= 0) { a[t] = AV(x[u32(off[t]) + ci]); }', 'a[t] = select(AV(0.0), AV(x[u32(max(off[t], 0)) + ci]), off[t] >= 0);'],
};

const ctx = await GpuContext.open();
// a probe swaps one line of the shader source; its pipelines bypass (and never enter) the cache
let probe = '';
const plain = ctx.pipelines.get.bind(ctx.pipelines);
const probed = new Map<string, GPUComputePipeline>();
ctx.pipelines.get = (spec: PipelineSpec) => {
  if (!probe) return plain(spec);
  const key = `${probe}|${JSON.stringify(spec)}`;
  let p = probed.get(key);
  if (!p) {
    const [from, to] = PROBES[probe]!;
    const src = shaderSource(spec.shader, spec.defines);
    if (!src.includes(from)) throw new Error(`probe ${probe}: line not found in ${spec.shader}`);
    const module = ctx.device.createShaderModule({ code: src.replace(from, to) });
    p = ctx.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main', constants: spec.constants ?? {} } });
    probed.set(key, p);
  }
  return p;
};

const rand = (n: number) => new Float32Array(n).map(() => Math.random() - 0.5);
const cases = shapes.map(([cin, cout, hw, k, stride]) => {
  const cw = uploadConv(ctx, 'bench', rand(cout * cin * k * k), [cout, cin, k, k], new Float32Array(cout).fill(1), new Float32Array(cout), { stride, pad: Math.floor(k / 2) });
  const xs = { h: hw, w: hw, c: cin };
  const o = convOutShape(cw, xs);
  const x = ctx.pool.acquire(hw * hw * cin * 4); // one image shared by every mask, as in a sweep
  ctx.device.queue.writeBuffer(x, 0, rand(hw * hw * cin));
  const y = ctx.pool.acquire(items * o.h * o.w * o.c * 4);
  const keep = ctx.pool.acquire(items * o.c * 4);
  ctx.device.queue.writeBuffer(keep, 0, new Float32Array(items * o.c).map(() => (Math.random() < 0.95 ? 1 : 0)));
  const mask = { keep, stride4: o.c / 4, itemsPerMask: 1, start4: () => 0, offset: 0 };
  const name = `${k}x${k} ${cin}->${cout} ${hw}² s${stride}`;
  const flops = 2 * items * o.h * o.w * cout * cin * k * k;
  const dispatches = tiles.map((t) => {
    probe = t.probe;
    const d = conv2d(ctx, cw, { x, xShape: xs, inputItems: 1, y, batch: items, mask, act: 'relu', tile: t.tile });
    probe = '';
    return d;
  });
  return { name, flops, y, dispatches };
});
const tileLabel = (t: (typeof tiles)[number]) => `${t.tile.tp}x${t.tile.tc4 * 4}${t.tile.subgroup ? ' sg' : ''}${t.probe ? ` ${t.probe}` : ''}`;

// first dispatch of each pipeline compiles (lavapipe): once per tile, not timed
for (let i = 0; i < tiles.length; i++) {
  const t0 = performance.now();
  await timeDispatches(ctx, [cases[0]!.dispatches[i]!], 1);
  console.error(`compiled ${tileLabel(tiles[i]!)} in ${((performance.now() - t0) / 1000).toFixed(1)} s (load ${loadavg()[0]!.toFixed(1)})`);
}

// every variant computes the same outputs (up to f32 summation order) as the first
for (const c of cases) {
  let ref: Float32Array | undefined;
  for (let i = 0; i < tiles.length; i++) {
    await timeDispatches(ctx, [c.dispatches[i]!], 1);
    const out = new Float32Array(await readBuffer(ctx.device, c.y, c.y.size));
    if (!ref) { ref = out; continue; }
    let worst = 0;
    for (let j = 0; j < out.length; j++) worst = Math.max(worst, Math.abs(out[j]! - ref[j]!) / (1 + Math.abs(ref[j]!)));
    if (!(worst < 1e-4)) throw new Error(`${c.name} ${tileLabel(tiles[i]!)}: differs from ${tileLabel(tiles[0]!)} by ${worst}`);
  }
}
console.error('outputs agree');
const best = cases.map(() => tiles.map(() => Infinity));
for (let r = 0; r < rounds; r++) {
  for (const [ci, c] of cases.entries()) {
    for (let i = 0; i < tiles.length; i++) {
      const s = (await timeDispatches(ctx, [c.dispatches[i]!], 2)).seconds[0]!;
      best[ci]![i] = Math.min(best[ci]![i]!, s);
      console.error(`round ${r} ${c.name} ${tileLabel(tiles[i]!)}: ${(c.flops / s / 1e9).toFixed(2)} GFLOP/s (load ${loadavg()[0]!.toFixed(1)})`);
    }
  }
}
await readBuffer(ctx.device, cases[0]!.y, 16);

console.log(`adapter: ${ctx.gpu.description}; ${items} masked items per dispatch; best of ${rounds} rounds x 2; load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
console.log(`| conv (GFLOP) | ${tiles.map(tileLabel).join(' | ')} |`);
console.log(`|---|${tiles.map(() => '---').join('|')}|`);
for (const [ci, c] of cases.entries()) {
  console.log(`| ${c.name} (${(c.flops / 1e9).toFixed(2)}) | ${best[ci]!.map((s) => (c.flops / s / 1e9).toFixed(2)).join(' | ')} |`);
}
ctx.destroy();
process.exit(0);
