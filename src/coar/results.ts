/** Reading a fit's results in a folder: attributions.npy [|C|, n] and bias.npy [n], float32. */
import { join } from 'node:path';
import { check } from '../errors.js';
import { NpyFile, readNpy } from '../io/npy.js';
import { fileTargets, inMemoryTargets, type TargetColumns } from './fit/targets.js';

export function readAttributions(dir: string, components: number, n: number): { attributions: Float32Array; bias: Float32Array } {
  const a = readNpy(join(dir, 'attributions.npy'));
  const b = readNpy(join(dir, 'bias.npy'));
  check(a.dtype === 'f4' && a.shape.join() === `${components},${n}`, () => `${join(dir, 'attributions.npy')}: expected float32 [${components}, ${n}], found ${a.dtype} [${a.shape.join(', ')}]; run coar fit on this store`);
  check(b.dtype === 'f4' && b.shape.join() === `${n}`, () => `${join(dir, 'bias.npy')}: expected float32 [${n}], found ${b.dtype} [${b.shape.join(', ')}]`);
  return { attributions: a.data as Float32Array, bias: b.data as Float32Array };
}

/**
 * attributions.npy opened and checked ([components, n] float32), and bias.npy read whole;
 * `columnMajor`: numpy saved a transposed view in Fortran order, which cannot be read by rows.
 */
function openChecked(dir: string, components: number, n: number): { f: NpyFile; bias: Float32Array; columnMajor: boolean } {
  const path = join(dir, 'attributions.npy');
  const f = NpyFile.open(path, { convert: true });
  try {
    const h = f.header;
    check(h.dtype === 'f4' && h.shape.join() === `${components},${n}`, () => `${path}: expected float32 [${components}, ${n}], found ${h.dtype} [${h.shape.join(', ')}]; run coar fit on this store`);
    const b = readNpy(join(dir, 'bias.npy'));
    check(b.dtype === 'f4' && b.shape.join() === `${n}`, () => `${join(dir, 'bias.npy')}: expected float32 [${n}], found ${b.dtype} [${b.shape.join(', ')}]`);
    return { f, bias: b.data as Float32Array, columnMajor: h.fortranOrder && components > 1 && n > 1 };
  } catch (e) {
    f.close();
    throw e;
  }
}

/**
 * The attributions opened, not read: columns (examples) are read on demand (all of them in
 * blocks of component rows of `blockBytes`), so a [|C|, n] file larger than memory can be used a chunk of
 * examples at a time. The bias ([n]) is read whole. Same checks as readAttributions.
 */
export function openAttributions(dir: string, components: number, n: number, blockBytes = 32 << 20): { attributions: TargetColumns; bias: Float32Array; close(): void } {
  const { f, bias, columnMajor } = openChecked(dir, components, n);
  try {
    if (columnMajor) {
      // numpy saves a transposed view column-major: such a file cannot be read by rows, so it is read whole
      f.close();
      return { attributions: inMemoryTargets(readAttributions(dir, components, n).attributions, components, n), bias, close() {} };
    }
    const whole = fileTargets(f, Array.from({ length: components }, (_, i) => i), blockBytes);
    // all examples: by blocks of rows; a chunk of them: each row's slice alone, so the file is read once over all chunks
    const attributions: TargetColumns = { rows: components, examples: n, columns: (c0, c1) => (c1 - c0 === n ? whole.columns(c0, c1) : f.readFloatColumns(0, components, c0, c1)) };
    return { attributions, bias, close: () => f.close() };
  } catch (e) {
    f.close();
    throw e;
  }
}

/**
 * The attributions by blocks of whole component rows of about `blockBytes` (at least one
 * row): `blocks(visit)` reads the file once, top to bottom, handing rows [j0, j0 + rows) as
 * [rows x n] in one reused buffer (`visit` must not keep it), so a [|C|, n] file larger than memory is
 * summarized in one pass (coar report). The bias ([n]) is read whole. Same checks as readAttributions.
 */
export function openAttributionRows(dir: string, components: number, n: number, blockBytes = 32 << 20): {
  blocks(visit: (j0: number, block: Float32Array) => void): void; bias: Float32Array; blockRows: number; close(): void;
} {
  const { f, bias, columnMajor } = openChecked(dir, components, n);
  try {
    if (columnMajor) {
      // a transposed view numpy saved column-major cannot be read by rows: read whole, one block
      f.close();
      const whole = readAttributions(dir, components, n).attributions;
      return { blocks: (visit) => visit(0, whole), bias, blockRows: components, close() {} };
    }
    const span = Math.max(1, Math.floor(blockBytes / Math.max(1, n * 4)));
    return {
      blocks(visit) {
        // one buffer for every block: the blocks are read faster than the collector frees them
        const buf = new Uint8Array(Math.min(span, components) * n * 4);
        for (let j = 0; j < components; j += span) {
          const e = Math.min(components, j + span);
          const bytes = f.readRowBytes(j, e, buf);
          visit(j, new Float32Array(bytes.buffer, bytes.byteOffset, (e - j) * n));
        }
      },
      bias, blockRows: Math.min(span, components), close: () => f.close(),
    };
  } catch (e) {
    f.close();
    throw e;
  }
}
