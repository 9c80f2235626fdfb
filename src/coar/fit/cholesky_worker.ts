/**
 * An update thread of choleskyFactorThreads: for each step (a new generation in the control
 * words) it updates its range of rows below the block column just factored, then counts itself
 * done. Generation -1 ends it.
 */
import { workerData } from 'node:worker_threads';
import { CTRL, trailingUpdate } from './cholesky.js';

const d = workerData as { a: SharedArrayBuffer; byteOffset: number; n: number; panel: SharedArrayBuffer; ctrl: SharedArrayBuffer; slot: number };
const a = new Float64Array(d.a, d.byteOffset, d.n * d.n);
const panel = new Float64Array(d.panel);
const ctrl = new Int32Array(d.ctrl);
for (let seen = 0; ;) {
  Atomics.wait(ctrl, CTRL.generation, seen);
  const gen = Atomics.load(ctrl, CTRL.generation);
  if (gen < 0) break;
  if (gen === seen) continue;
  seen = gen;
  try {
    trailingUpdate(a, d.n, panel, ctrl[CTRL.k1]!, ctrl[CTRL.w]!, ctrl[CTRL.ranges + 2 * d.slot]!, ctrl[CTRL.ranges + 2 * d.slot + 1]!);
  } catch {
    Atomics.store(ctrl, CTRL.failed, 1);
  }
  Atomics.add(ctrl, CTRL.done, 1);
  Atomics.notify(ctrl, CTRL.done);
}
