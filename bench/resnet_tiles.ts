/**
 * ResNet-50 ablated passes/s with two tuning caches in one process, interleaved: the ratio
 * of two tile choices end to end, robust to a shared machine's load.
 * usage: nice -n 10 node --import tsx bench/resnet_tiles.ts weights.safetensors old.json new.json [rounds]
 */
import { loadavg } from 'node:os';
import { generateMasks, packMasks } from '../src/coar/masks.js';
import { GpuContext } from '../src/gpu/context.js';
import { BatchedNetwork, inputShapeElems, toDeviceLayout } from '../src/models/batched.js';
import { loadModel } from '../src/models/index.js';

const [weights, ...caches] = process.argv.slice(2, 5) as string[];
const rounds = Number(process.argv[5] ?? 2);
const masks = 8, side = 224;
const model = loadModel('resnet50', weights!);
const runs = [];
for (const cache of caches) {
  process.env.WEBCOAR_TUNING = cache;
  const ctx = await GpuContext.open();
  const net = model.build(ctx, { c: 3, h: side, w: side });
  const bn = new BatchedNetwork(ctx, net, { masks, examples: 1 });
  const input = new Float32Array(inputShapeElems(net));
  toDeviceLayout(net, new Float32Array(3 * side * side).map((_, i) => Math.sin(i * 0.37)), 0, 1, input);
  const bits = packMasks(generateMasks(7, 0.05, 0, masks, net.components.size), net.components.size, 0, masks);
  const run = async () => { const t0 = performance.now(); await bn.run(input, new Uint32Array(1), bits); return (performance.now() - t0) / 1000; };
  console.error(`${cache}: warm-up ${(await run()).toFixed(1)} s (load ${loadavg()[0]!.toFixed(1)})`);
  runs.push({ cache, run, best: Infinity });
}
for (let r = 0; r < rounds; r++) {
  for (const x of runs) {
    const s = await x.run();
    x.best = Math.min(x.best, s);
    console.error(`round ${r + 1} ${x.cache}: ${(masks / s).toFixed(3)} passes/s (load ${loadavg()[0]!.toFixed(1)})`);
  }
}
for (const x of runs) console.log(`${x.cache}: best ${(masks / x.best).toFixed(3)} passes/s`);
console.log(`ratio ${runs[1]!.cache} / ${runs[0]!.cache}: ${(runs[0]!.best / runs[1]!.best).toFixed(2)}x`);
process.exit(0);
