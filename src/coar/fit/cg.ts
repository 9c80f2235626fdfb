/**
 * Conjugate gradient for (Z^T Z + diag(lambda)) X = B (or any symmetric positive operator),
 * all columns in lock-step, each with its own alpha and beta; a column stops (freezes in the
 * kernel) when ||r|| <= tol ||B||, so its result does not depend on the other columns.
 */
import { cgDirection, cgStep, colDot, subtract } from '../../kernels/fit.js';
import { copy, readF32, run, type Arena } from './arena.js';
import type { Operator } from './design.js';
import type { ShiftedSystems } from './shifts.js';
import { STALL_ITERATIONS, type SolveOptions, type SolveResult } from './solve.js';

/** The scratch of CG for [rows x n4] unknowns: allocated once, reused by every solve of that shape. */
export class CgWorkspace {
  readonly r: GPUBuffer;
  readonly p: GPUBuffer;
  readonly ap: GPUBuffer;
  readonly rr: readonly [GPUBuffer, GPUBuffer];
  readonly pap: GPUBuffer;
  readonly bb: GPUBuffer;
  readonly threshold: GPUBuffer;
  constructor(readonly arena: Arena, readonly rows: number, readonly n4: number) {
    const big = rows * n4 * 16;
    this.r = arena.create(big, 'cg r');
    this.p = arena.create(big, 'cg p');
    this.ap = arena.create(big, 'cg Ap');
    this.rr = [arena.create(n4 * 16, 'cg rr'), arena.create(n4 * 16, 'cg rr')];
    this.pap = arena.create(n4 * 16, 'cg pAp');
    this.bb = arena.create(n4 * 16, 'cg bb');
    this.threshold = arena.create(n4 * 16, 'cg threshold');
  }
}

/**
 * X holds the start point and, on return, the solution. With `shifts` (X must start at 0), the
 * shifted systems are solved along: their solutions are in `shifts.x` on return.
 */
export async function conjugateGradient(ws: CgWorkspace, op: Operator, b: GPUBuffer, lambda: GPUBuffer, x: GPUBuffer,
  opts: SolveOptions, shifts?: ShiftedSystems): Promise<SolveResult> {
  const { rows, n4, r, p, ap, rr, pap, bb, threshold } = ws;
  const ctx = ws.arena.ctx;
  const big = rows * n4 * 16;
  // r = B - A x, p = r
  run(ctx, [...op.prepare(x, lambda, ap), subtract(ctx, rows, n4, b, ap, r), colDot(ctx, rows, n4, r, r, rr[0]), colDot(ctx, rows, n4, b, b, bb)]);
  copy(ctx, r, p, big);
  shifts?.reset(r);
  const bbHost = await readF32(ctx, bb, n4 * 4);
  const thr = bbHost.map((v) => v * opts.tol * opts.tol);
  ctx.device.queue.writeBuffer(threshold, 0, thr);
  const apply = op.prepare(p, lambda, ap);
  const step = [0, 1].map((k) => {
    const cur = rr[k]!;
    const next = rr[1 - k]!;
    return [
      ...apply,
      colDot(ctx, rows, n4, p, ap, pap),
      cgStep(ctx, rows, n4, { p, ap, rr: cur, pap, threshold, x, r }),
      colDot(ctx, rows, n4, r, r, next),
      ...(shifts?.step({ rr: cur, pap, rrNew: next, threshold, r }) ?? []),
      cgDirection(ctx, rows, n4, { r, rrNew: next, rrOld: cur, threshold, p }),
    ];
  });
  const done = (v: Float32Array) => v.every((x, i) => !(x > thr[i]!));
  if (done(await readF32(ctx, rr[0], n4 * 4))) return { iterations: 0, converged: true };
  const started = Date.now();
  let checkEvery = 1;
  let best = Infinity;
  let bestAt = 0;
  for (let it = 1; it <= opts.maxIter; it++) {
    run(ctx, step[(it - 1) % 2]!);
    if (it % checkEvery === 0 || it === opts.maxIter) {
      const t0 = Date.now();
      const v = await readF32(ctx, rr[it % 2]!, n4 * 4);
      // cheap iterations: check less often so the host does not wait on every one (converged
      // columns are frozen by the kernel, so when the host looks does not change the result)
      if (Date.now() - t0 < 50) checkEvery = Math.min(checkEvery * 2, 8);
      let worst = 0;
      v.forEach((x, i) => { if (thr[i]! > 0) worst = Math.max(worst, Math.sqrt(x / (thr[i]! / (opts.tol * opts.tol)))); });
      opts.progress?.(`${opts.label ?? 'cg'} iteration ${it}: worst relative residual ${worst.toExponential(2)} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
      if (done(v)) return { iterations: it, converged: true };
      // rounding errors in f32 products set a floor; past it the residual wanders instead of falling
      if (worst < 0.7 * best) { best = worst; bestAt = it; } else if (it - bestAt >= STALL_ITERATIONS) {
        opts.progress?.(`${opts.label ?? 'cg'}: no progress in ${it - bestAt} iterations, stopping at ${worst.toExponential(2)} (best ${best.toExponential(2)})`);
        return { iterations: it, converged: false };
      }
    }
  }
  return { iterations: opts.maxIter, converged: false };
}
