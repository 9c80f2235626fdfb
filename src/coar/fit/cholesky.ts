/**
 * Ridge / OLS by a factorization instead of iterations: (Z^T Z + lambda I) = L L^T once,
 * O(|C|^3 / 6) multiply-adds on the host in float64, then O(2 |C|^2) per example. Cheaper
 * than CG when many examples share one lambda (cost.ts decides). The Gram matrix comes from
 * the device (built by popcount, float32); the solution then seeds CG, which checks the
 * true residual and refines it if float32 rounding of the Gram left it above the tolerance.
 */
import { readF32 } from './arena.js';
import type { Design } from './design.js';

/** The standardized Gram matrix of a design with a stored Gram (float64, |C|p x |C|p row-major). */
export async function gramToHost(design: Design): Promise<Float64Array> {
  const cp = design.cp;
  const g = new Float64Array(cp * cp);
  for (const block of design.gram) g.set(await readF32(design.arena.ctx, block.buffer, block.rows * cp), block.row0 * cp);
  return g;
}

/**
 * In place: the lower triangle of `a` (n x n row-major) becomes L with L L^T = a + lambda I.
 * Rows with a zero diagonal (constant components, padding) get 1 there: their weight is 0.
 */
export function choleskyFactor(a: Float64Array, n: number, lambda: number): void {
  for (let i = 0; i < n; i++) if (a[i * n + i] === 0) a[i * n + i] = 1; else a[i * n + i]! += lambda;
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let j = 0; j <= i; j++) {
      const rj = j * n;
      let s = a[ri + j]!;
      // row-oriented: both rows are read forwards (the cache-friendly order in row-major storage)
      for (let k = 0; k < j; k++) s -= a[ri + k]! * a[rj + k]!;
      if (i === j) {
        if (!(s > 0)) throw new Error(`Cholesky: matrix not positive definite at row ${i} (${s}); use an iterative solver`);
        a[ri + i] = Math.sqrt(s);
      } else {
        a[ri + j] = s / a[rj + j]!;
      }
    }
  }
}

/** Solve L L^T X = B for the `w` columns of B ([n x w] row-major, float32 in, float64 work), into a new Float32Array. */
export function choleskySolve(l: Float64Array, n: number, b: Float32Array, w: number): Float32Array {
  const x = Float64Array.from(b);
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let k = 0; k < i; k++) {
      const f = l[ri + k]!;
      if (f === 0) continue;
      for (let c = 0; c < w; c++) x[i * w + c]! -= f * x[k * w + c]!;
    }
    const d = l[ri + i]!;
    for (let c = 0; c < w; c++) x[i * w + c]! /= d;
  }
  for (let i = n - 1; i >= 0; i--) {
    const d = l[i * n + i]!;
    for (let c = 0; c < w; c++) x[i * w + c]! /= d;
    // x_k -= L[i][k] x_i for k < i: row i of L is read forwards
    const ri = i * n;
    for (let k = 0; k < i; k++) {
      const f = l[ri + k]!;
      if (f === 0) continue;
      for (let c = 0; c < w; c++) x[k * w + c]! -= f * x[i * w + c]!;
    }
  }
  return Float32Array.from(x);
}
