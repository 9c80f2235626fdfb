/**
 * A device that reported an error no scope caught has computed nothing usable: Dawn skips
 * the dispatches of an invalid pipeline and the output reads back as whatever the buffer
 * held (zeros). Every read back must then throw (gpu/failure.ts), so no caller can return,
 * store or print those numbers. The pipeline here is made invalid the way a real shader bug
 * or an unchecked tile would: a workgroup larger than the adapter allows.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readBuffer, uniformBuffer, uploadBuffer } from '../src/gpu/buffers.js';
import { GpuContext } from '../src/gpu/context.js';
import { GpuFailure } from '../src/gpu/failure.js';

const N = 256; // vec4s copied

/** Copy N vec4s of 7s with copy.wgsl at workgroup size `wg`; return what reads back. */
async function copyWith(ctx: GpuContext, wg: number): Promise<Float32Array> {
  const src = uploadBuffer(ctx.device, new Float32Array(N * 4).fill(7), 'src');
  const dst = uploadBuffer(ctx.device, new Float32Array(N * 4), 'dst');
  const params = uniformBuffer(ctx.device, [N, N], 'params');
  const d = ctx.prepare({ shader: 'copy.wgsl', defines: { VPI: 1 }, constants: { WG: wg } }, [params, src, dst], [Math.ceil(N / Math.min(wg, N))]);
  const enc = ctx.device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(d.pipeline);
  pass.setBindGroup(0, d.bindGroup);
  pass.dispatchWorkgroups(...d.groups);
  pass.end();
  ctx.device.queue.submit([enc.finish()]);
  return new Float32Array(await readBuffer(ctx.device, dst, N * 16));
}

test('a valid pipeline copies (the baseline: the same code with a workgroup the adapter allows)', async () => {
  const ctx = await GpuContext.open();
  try {
    const out = await copyWith(ctx, 64);
    assert.ok(out.every((v) => v === 7), 'every value copied');
  } finally {
    ctx.destroy();
  }
});

test('an invalid pipeline makes the read back throw, naming Dawn\'s error and the shader, and every later read back too', async () => {
  const ctx = await GpuContext.open();
  try {
    const wg = 2 * ctx.gpu.limits.maxComputeWorkgroupSizeX!;
    let err: unknown;
    try { await copyWith(ctx, wg); } catch (e) { err = e; }
    assert.instance(err, GpuFailure, 'a GpuFailure, not zeros');
    const msg = (err as Error).message;
    assert.match(msg, `workgroup_size(${wg}`);
    assert.match(msg, '(copy.wgsl)');
    assert.not.match(msg, '\n', 'one line');
    // the device stays failed: a valid pipeline's results on it are refused as well
    let again: unknown;
    try { await copyWith(ctx, 64); } catch (e) { again = e; }
    assert.instance(again, GpuFailure);
  } finally {
    ctx.destroy();
  }
});

test('a fresh device after a failed one works', async () => {
  const ctx = await GpuContext.open();
  try {
    assert.ok((await copyWith(ctx, 64)).every((v) => v === 7));
  } finally {
    ctx.destroy();
  }
});

test.run();
