/** Largest eigenvalue of an operator by power iteration (FISTA's step size 1 / L). */
import { colDot, scaleRows } from '../../kernels/fit.js';
import { copy, readF32, run, type Arena } from './arena.js';
import type { Operator } from './design.js';

/**
 * Power iteration on every column of [rows x n4] at once, from a fixed pseudo-random start
 * (max over columns). Callers pass one fixed width, so the estimate, and with it every
 * FISTA step, is the same whichever examples are fitted together.
 */
export async function largestEigenvalue(arena: Arena, op: Operator, rows: number, n4: number, components: number, iterations = 40): Promise<number> {
  const ctx = arena.ctx;
  const init = new Float32Array(rows * n4 * 4);
  let seed = 12345;
  for (let i = 0; i < components * n4 * 4; i++) { seed = (seed * 1103515245 + 12345) >>> 0; init[i] = seed / 2 ** 32 - 0.5; }
  const x = arena.upload(init, 'power x');
  const y = arena.create(rows * n4 * 16, 'power y');
  const zeros = arena.create(n4 * 16, 'power zeros');
  const zeroRows = arena.create(rows * 4, 'power zero rows');
  const norm = arena.create(n4 * 16, 'power norm');
  const inv = arena.create(n4 * 16, 'power 1/norm');
  // normalise x first
  run(ctx, [colDot(ctx, rows, n4, x, x, norm)]);
  let nx = await readF32(ctx, norm, n4 * 4);
  ctx.device.queue.writeBuffer(inv, 0, nx.map((v) => (v > 0 ? 1 / Math.sqrt(v) : 0)));
  run(ctx, [scaleRows(ctx, rows, n4, x, zeroRows, inv, x, y)]);
  copy(ctx, y, x, rows * n4 * 16);
  const apply = [...op.prepare(x, zeros, y), colDot(ctx, rows, n4, y, y, norm)];
  let est = 0;
  for (let it = 0; it < iterations; it++) {
    run(ctx, apply);
    nx = await readF32(ctx, norm, n4 * 4);
    const prev = est;
    est = Math.sqrt(Math.max(...nx));
    ctx.device.queue.writeBuffer(inv, 0, nx.map((v) => (v > 0 ? 1 / Math.sqrt(v) : 0)));
    run(ctx, [scaleRows(ctx, rows, n4, y, zeroRows, inv, y, x)]);
    if (it > 5 && Math.abs(est - prev) <= 1e-4 * est) break;
  }
  return est;
}
