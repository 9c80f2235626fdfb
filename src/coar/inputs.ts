/**
 * Examples, labels and masks from .npy files, checked against the model with clear errors.
 * Each header is checked before its data is read, so a file claiming a huge shape costs
 * nothing unless the shape is what the model takes.
 */
import { UserError } from '../errors.js';
import { NpyFile, readNpy, readNpyHeader } from '../io/npy.js';
import type { Model } from '../models/index.js';
import { eachRun, memoryInputs, npyInputs, type ExampleInputs } from './example_inputs.js';

export interface Examples {
  inputs: Float32Array;          // NCHW
  shape: { n: number; c: number; h: number; w: number };
  labels: Int32Array;
}

export interface OpenedExamples {
  inputs: ExampleInputs;
  shape: Examples['shape'];
  labels: Int32Array;
}

/**
 * The examples `indices` (default: all, in order) of an inputs/labels pair, as the ablation
 * reads them. Only the chosen rows are read (runs of consecutive indices in one read each),
 * so choosing 100 of a 50,000 image tensor holds 100 in memory, not 50,100. Past
 * `inMemoryBytes` of float32 they are not held at all but read from the file a batch at a
 * time (checked finite first, in one pass of bounded blocks). A Fortran-ordered file, whose
 * rows are not contiguous, is read whole and picked from.
 */
export function openExamples(inputsPath: string, labelsPath: string, model: Model, indices?: readonly number[], inMemoryBytes = Infinity): OpenedExamples {
  const x = readNpyHeader(inputsPath);
  if (x.dtype !== 'f4') throw new UserError(`${inputsPath}: inputs must be float32 (already preprocessed), found dtype ${x.dtype}`);
  if (x.shape.length !== 4) throw new UserError(`${inputsPath}: inputs must have shape [n, C, H, W], found [${x.shape.join(', ')}]`);
  const [n, c, h, w] = x.shape as [number, number, number, number];
  if (c !== model.inChannels) throw new UserError(`${inputsPath}: inputs have ${c} channels ([${x.shape.join(', ')}]), the model expects ${model.inChannels}`);
  if (n === 0) throw new UserError(`${inputsPath}: no examples (n = 0)`);
  const y = readNpyHeader(labelsPath);
  if (!['i1', 'i2', 'i4', 'i8', 'u1', 'u2', 'u4', 'u8'].includes(y.dtype)) throw new UserError(`${labelsPath}: labels must be integers, found dtype ${y.dtype}`);
  if (y.shape.length !== 1 || y.shape[0] !== n) throw new UserError(`${labelsPath}: labels must have shape [${n}] to match the inputs, found [${y.shape.join(', ')}]`);
  const pick = indices ?? Array.from({ length: n }, (_, i) => i);
  const outside = pick.find((i) => !Number.isInteger(i) || i < 0 || i >= n);
  if (outside !== undefined) throw new UserError(`example index ${outside} is outside ${inputsPath} (n = ${n})`);
  // range-checked before the conversion to int32, which would wrap 2^32 + 3 to 3
  const raw = Array.from(readNpy(labelsPath).data as ArrayLike<number | bigint>, (v) => Number(v));
  const out = raw.findIndex((v) => v < 0 || v >= model.classes);
  if (out >= 0) throw new UserError(`${labelsPath}: label ${raw[out]} of example ${out} is outside 0..${model.classes - 1} (the model has ${model.classes} classes)`);
  const labels = Int32Array.from(pick, (i) => raw[i]!);
  const per = c * h * w;
  const streamed = !x.fortranOrder && pick.length * per * 4 > inMemoryBytes;
  const inputs = streamed ? npyInputs(inputsPath, pick, per) : memoryInputs(readRowsOf(inputsPath, pick, per), per);
  try {
    // streamed: about 64 MB of rows at a time (the buffer the first batch reuses)
    const step = Math.max(1, Math.floor((16 << 20) / per));
    for (let a = 0; a < pick.length; a += step) {
      const block = inputs.chunk(a, Math.min(step, pick.length - a));
      const bad = block.findIndex((v) => !Number.isFinite(v));
      if (bad >= 0) throw new UserError(`${inputsPath}: non-finite value ${block[bad]} in example ${pick[a + Math.floor(bad / per)]}`);
    }
  } catch (e) {
    inputs.close?.();
    throw e;
  }
  return { inputs, shape: { n: pick.length, c, h, w }, labels };
}

/** The examples held in memory (openExamples without a bound). */
export function readExamples(inputsPath: string, labelsPath: string, model: Model, indices?: readonly number[]): Examples {
  const e = openExamples(inputsPath, labelsPath, model, indices);
  return { inputs: e.inputs.data!, shape: e.shape, labels: e.labels };
}

/** Rows `pick` of a float32 .npy whose rows hold `per` values each, in that order. */
function readRowsOf(path: string, pick: readonly number[], per: number): Float32Array {
  const f = NpyFile.open(path, { convert: true });
  try {
    if (f.header.fortranOrder) {
      const all = readNpy(path).data as Float32Array;
      if (pick.length === f.rows && pick.every((i, k) => i === k)) return all;
      const out = new Float32Array(pick.length * per);
      pick.forEach((i, k) => out.set(all.subarray(i * per, (i + 1) * per), k * per));
      return out;
    }
    const out = new Float32Array(pick.length * per);
    eachRun(pick, 0, pick.length, (at, row, len) => out.set(f.readFloatRows(row, row + len), at * per));
    return out;
  } finally { f.close(); }
}

/** Masks [k, |C|] as bool or uint8 0/1, 1 = kept (reference convention). */
export function readMasks(path: string, components: number): { masks: Uint8Array; k: number } {
  const m = readNpyHeader(path);
  if (m.dtype !== 'b1' && m.dtype !== 'u1') throw new UserError(`${path}: masks must be bool or uint8 (1 = kept), found dtype ${m.dtype}`);
  if (m.shape.length !== 2 || m.shape[1] !== components) {
    throw new UserError(`${path}: masks must have shape [k, ${components}] (one column per component), found [${m.shape.join(', ')}]`);
  }
  const masks = readNpy(path).data as Uint8Array;
  const bad = masks.findIndex((v) => v > 1);
  if (bad >= 0) throw new UserError(`${path}: mask value ${masks[bad]} at row ${Math.floor(bad / components)}, column ${bad % components}: masks must be 0 or 1`);
  return { masks, k: m.shape[0]! };
}
