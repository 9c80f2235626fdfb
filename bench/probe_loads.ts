/**
 * Probe: time per storage load on this adapter, for a uniform address, the same address
 * made divergent (a runtime zero times the lane id), and a true gather; interleaved rounds.
 * usage: nice -n 10 node --import tsx bench/probe_loads.ts [rounds]
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { uniformBuffer, uploadBuffer } from '../src/gpu/buffers.js';
import { GpuContext } from '../src/gpu/context.js';
import { timeDispatches } from '../src/gpu/timing.js';

const rounds = Number(process.argv[2] ?? 3);
const src = readFileSync(join(import.meta.dirname, 'probe_loads.wgsl'), 'utf8');
// the same two-step specialisation as src/gpu/shader.ts: "#if NAME" keeps its keyword, NAME becomes a value
const variant = (defs: Record<string, boolean>) => {
  const strings: string[] = [], values: boolean[] = [];
  let last = 0;
  for (const m of src.matchAll(/#(if|elif)[ \t]+(\w+)/g)) {
    strings.push(src.slice(last, m.index! + m[0].length - m[2]!.length).trimEnd().concat(' '));
    values.push(!!defs[m[2]!]);
    last = m.index! + m[0].length;
  }
  strings.push(src.slice(last));
  return wgsl(Object.assign([...strings], { raw: [...strings] }) as unknown as TemplateStringsArray, ...values);
};
const ctx = await GpuContext.open();
const K = 1024, inv = 64 * 256;
const x = ctx.pool.acquire(1048576 * 16);
ctx.device.queue.writeBuffer(x, 0, new Float32Array(1048576 * 4).map(() => Math.random()));
const y = ctx.pool.acquire(inv * 16);
const u = uniformBuffer(ctx.device, [K, 0, inv, 61], 'u');
const ub = uploadBuffer(ctx.device, new Float32Array(4096 * 4).map(() => Math.random()), 'ub', GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
const modes = { uniform: {}, divergent: { DIVERGENT: true }, gather: { GATHER: true }, 'uniform+early return': { EARLY_RETURN: true }, 'uniform buffer': { UBO: true }, 'subgroup broadcast': { SHUFFLE: true }, 'fma (no load)': { ALU: true } } as Record<string, Record<string, boolean>>;
const ds = Object.entries(modes).map(([name, defs]) => {
  const module = ctx.device.createShaderModule({ code: variant(defs) });
  const pipeline = ctx.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const bindGroup = ctx.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [x, y, u, defs.UBO ? ub : undefined].flatMap((buffer, binding) => (buffer ? [{ binding, resource: { buffer } }] : [])) });
  return { name, d: { pipeline, bindGroup, groups: [inv / 64, 1, 1] as [number, number, number], label: name } };
});
for (const { d } of ds) await timeDispatches(ctx, [d], 1);
const best = ds.map(() => Infinity);
for (let r = 0; r < rounds; r++) for (const [i, { d }] of ds.entries()) best[i] = Math.min(best[i]!, (await timeDispatches(ctx, [d], 2)).seconds[0]!);
console.log(`load ${loadavg().map((l) => l.toFixed(1)).join(' ')}; ${inv} invocations x ${K} vec4 loads`);
for (const [i, { name }] of ds.entries()) console.log(`${name.padEnd(22)} ${((best[i]! / (inv * K)) * 1e9).toFixed(3)} ns per vec4 load per invocation`);
ctx.destroy();
process.exit(0);
