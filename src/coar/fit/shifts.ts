/**
 * Multi-shift CG: the Krylov space of A from b is the Krylov space of A + sigma I for every
 * sigma, so one CG run on the base system (the smallest lambda of a ridge path) also solves the
 * path's other lambdas, each by a short recurrence on its own scalars (Jegerlehner 1996; Frommer
 * 2003), at the cost of two vector updates per shift per iteration instead of a solve per lambda.
 * Every system starts from 0. A shifted system (sigma > 0) converges no later than the base.
 */
import type { Dispatch } from '../../gpu/context.js';
import { shiftScalars, shiftUpdate, vecParams } from '../../kernels/fit.js';
import { copy, type Arena } from './arena.js';

export class ShiftedSystems {
  /** per shift: solution, direction, [zeta_prev, zeta, alpha_prev, beta_prev] and [alpha, beta, zeta'] per column */
  readonly x: GPUBuffer[];
  private readonly p: GPUBuffer[];
  private readonly state: GPUBuffer[];
  private readonly coef: GPUBuffer[];
  private readonly uniforms: GPUBuffer[];

  /** Buffers for [rows x n4] unknowns at each of `shifts` (> 0) above the base system. */
  constructor(readonly arena: Arena, readonly rows: number, readonly n4: number, readonly shifts: readonly number[]) {
    const big = rows * n4 * 16;
    this.x = shifts.map(() => arena.create(big, 'shifted x'));
    this.p = shifts.map(() => arena.create(big, 'shifted p'));
    this.state = shifts.map(() => arena.create(4 * n4 * 16, 'shifted state'));
    this.coef = shifts.map(() => arena.create(3 * n4 * 16, 'shifted coef'));
    this.uniforms = shifts.map((s) => arena.uniform(vecParams(arena.ctx, rows, n4, s)));
  }

  /** Start from 0, with the base residual r0 = b: x = 0, p = r0, zeta = zeta_prev = alpha_prev = 1, beta_prev = 0. */
  reset(r0: GPUBuffer): void {
    const ctx = this.arena.ctx;
    const zero = new Float32Array(this.rows * this.n4 * 4);
    const state = new Float32Array(16 * this.n4);
    for (let c = 0; c < this.n4; c++) state.fill(1, 16 * c, 16 * c + 12);
    this.shifts.forEach((_, k) => {
      ctx.device.queue.writeBuffer(this.x[k]!, 0, zero);
      ctx.device.queue.writeBuffer(this.state[k]!, 0, state);
      copy(ctx, r0, this.p[k]!, this.rows * this.n4 * 16);
    });
  }

  /** After a base step (rr before it, pAp, rr after it, r after it): every shift's step. */
  step(b: { rr: GPUBuffer; pap: GPUBuffer; rrNew: GPUBuffer; threshold: GPUBuffer; r: GPUBuffer }): Dispatch[] {
    const ctx = this.arena.ctx;
    return this.shifts.flatMap((_, k) => [
      shiftScalars(ctx, this.n4, { ...b, state: this.state[k]!, coef: this.coef[k]!, uniform: this.uniforms[k]! }),
      shiftUpdate(ctx, this.rows, this.n4, { r: b.r, coef: this.coef[k]!, x: this.x[k]!, p: this.p[k]!, uniform: this.uniforms[k]! }),
    ]);
  }
}
