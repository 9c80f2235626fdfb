/** Reading a fit's results in a folder: attributions.npy [|C|, n] and bias.npy [n], float32. */
import { join } from 'node:path';
import { check } from '../errors.js';
import { readNpy } from '../io/npy.js';

export function readAttributions(dir: string, components: number, n: number): { attributions: Float32Array; bias: Float32Array } {
  const a = readNpy(join(dir, 'attributions.npy'));
  const b = readNpy(join(dir, 'bias.npy'));
  check(a.dtype === 'f4' && a.shape.join() === `${components},${n}`, () => `${join(dir, 'attributions.npy')}: expected float32 [${components}, ${n}], found ${a.dtype} [${a.shape.join(', ')}]; run coar fit on this store`);
  check(b.dtype === 'f4' && b.shape.join() === `${n}`, () => `${join(dir, 'bias.npy')}: expected float32 [${n}], found ${b.dtype} [${b.shape.join(', ')}]`);
  return { attributions: a.data as Float32Array, bias: b.data as Float32Array };
}
