/**
 * Named weight tensors from a safetensors file, each checked for presence and shape as
 * it is taken, so a wrong file fails naming the key, the expected and the found shape.
 */
import { UserError } from '../errors.js';
import type { Tensor, TensorFile } from '../io/safetensors.js';

/** `undefined` in an expected shape accepts any size there. */
export type ShapePattern = readonly (number | undefined)[];

const fmt = (s: ShapePattern) => `[${s.map((d) => d ?? '?').join(', ')}]`;

export class Weights {
  readonly used = new Set<string>();
  constructor(readonly file: TensorFile) {}

  get metadata(): Record<string, string> { return this.file.metadata; }

  has(name: string): boolean { return this.file.tensors.has(name); }

  get(name: string, shape: ShapePattern): Tensor {
    const t = this.file.tensors.get(name);
    if (!t) throw new UserError(`${this.file.path}: missing tensor '${name}' (expected shape ${fmt(shape)})`);
    if (t.shape.length !== shape.length || shape.some((d, i) => d !== undefined && d !== t.shape[i])) {
      throw new UserError(`${this.file.path}: tensor '${name}' has shape ${fmt(t.shape)}, expected ${fmt(shape)}`);
    }
    this.used.add(name);
    return t;
  }

  /** Eval-mode BatchNorm as a per-channel affine map y = x*scale + shift. */
  batchNorm(prefix: string, channels: number, eps = 1e-5): { scale: Float32Array; shift: Float32Array } {
    const g = this.get(`${prefix}.weight`, [channels]).data;
    const b = this.get(`${prefix}.bias`, [channels]).data;
    const m = this.get(`${prefix}.running_mean`, [channels]).data;
    const v = this.get(`${prefix}.running_var`, [channels]).data;
    const scale = new Float32Array(channels), shift = new Float32Array(channels);
    for (let c = 0; c < channels; c++) {
      const s = g[c]! / Math.sqrt(v[c]! + eps);
      scale[c] = s;
      shift[c] = b[c]! - m[c]! * s;
    }
    return { scale, shift };
  }
}
