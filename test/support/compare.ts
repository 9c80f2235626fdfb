import { readNpy, toFloat32 } from '../../src/io/npy.js';

/** ‖a − b‖ / ‖b‖ */
export function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num / den);
}

export function loadF32(path: string): { data: Float32Array; shape: number[] } {
  const a = readNpy(path);
  return { data: toFloat32(a), shape: a.shape };
}
