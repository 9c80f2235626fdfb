/** .npy files: what numpy writes we read, and what we write numpy reads (and memory-maps). */
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { NpyFile, readNpy, readNpyHeader, toFloat32, writeNpy } from '../src/io/npy.js';
import { runReference } from './support/python.js';
import { tempDir } from './support/tmp.js';

const dir = tempDir();

test('arrays numpy saved (float32/16/64, bool, uint8, int64, empty, format 2.0, big-endian, Fortran order) read back equal, in C order', () => {
  const ref = JSON.parse(runReference('npy_reference.py', ['write', dir])) as Record<string, { shape: number[]; values: number[] }>;
  for (const [name, want] of Object.entries(ref)) {
    const a = readNpy(join(dir, `${name}.npy`));
    assert.equal(a.shape, want.shape, name);
    const got = Array.from(toFloat32(a));
    want.values.forEach((v, i) => assert.ok(Math.abs(got[i]! - v) <= 1e-6 * Math.max(1, Math.abs(v)), `${name}[${i}] ${got[i]} vs ${v}`));
  }
  // the big-endian and Fortran-ordered files really are stored so (converted on reading)
  assert.ok(readNpyHeader(join(dir, 'f4_big.npy')).bigEndian && readNpyHeader(join(dir, 'i8_big.npy')).bigEndian);
  assert.ok(readNpyHeader(join(dir, 'f4_fortran.npy')).fortranOrder && readNpyHeader(join(dir, 'u1_fortran.npy')).fortranOrder);
  const bf = readNpyHeader(join(dir, 'f8_big_fortran.npy'));
  assert.ok(bf.bigEndian && bf.fortranOrder);
  const v2 = readNpy(join(dir, 'v2.npy'));
  assert.equal(v2.shape, ref.f4!.shape);
});

test('a slice of columns of a range of rows (float32, float16, big-endian) equals numpy\'s a[r0:r1, c0:c1]', () => {
  const ref = JSON.parse(runReference('npy_reference.py', ['write', dir])) as Record<string, { shape: number[]; values: number[] }>;
  for (const [name, r0, r1, c0, c1] of [['f4', 1, 3, 1, 4], ['f4', 0, 3, 0, 5], ['f2', 0, 4, 1, 2], ['f4_big', 0, 3, 2, 4], ['f4_big', 2, 3, 0, 1]] as const) {
    const want = ref[name]!, cols = want.shape[1]!;
    const f = NpyFile.open(join(dir, `${name}.npy`), { convert: true });
    const got = Array.from(f.readFloatColumns(r0, r1, c0, c1));
    f.close();
    const expect: number[] = [];
    for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) expect.push(want.values[r * cols + c]!);
    assert.is(got.length, expect.length, name);
    expect.forEach((v, i) => assert.ok(Math.abs(got[i]! - v) <= 1e-6 * Math.max(1, Math.abs(v)), `${name}[${r0}:${r1}, ${c0}:${c1}] item ${i}: ${got[i]} vs ${v}`));
  }
});

test('arrays we write are read by numpy with the same dtype, shape and values', () => {
  writeNpy(join(dir, 'ours_f4.npy'), 'f4', [2, 3], new Float32Array([1, 2, 3, 4, 5, 6.5]));
  writeNpy(join(dir, 'ours_b1.npy'), 'b1', [2, 2], new Uint8Array([1, 0, 0, 1]));
  writeNpy(join(dir, 'ours_1d.npy'), 'f4', [3], new Float32Array([7, 8, 9]));
  const got = JSON.parse(runReference('npy_reference.py', ['check', dir])) as Record<string, { dtype: string; shape: number[]; values: number[] }>;
  assert.equal(got['ours_f4.npy'], { dtype: 'float32', shape: [2, 3], values: [1, 2, 3, 4, 5, 6.5] });
  assert.equal(got['ours_b1.npy'], { dtype: 'bool', shape: [2, 2], values: [1, 0, 0, 1] });
  assert.equal(got['ours_1d.npy'], { dtype: 'float32', shape: [3], values: [7, 8, 9] });
});

test.run();
