/**
 * A sweep store's manifest.json: what the sweep is (model, weights hash, component table,
 * examples, α, seed, margin dtype), and the rule for when two stores are the same sweep.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import type { DataSpec } from './examples.js';

export const STORE_FORMAT = 'webcoar-store-1';

export type MarginsDtype = 'f2' | 'f4';

export interface SweepManifest {
  format: string;
  model: { arch: string; weights: string; sha256: string; heads?: number };
  components: string[];
  data: DataSpec;
  split: string;
  examples: number[];
  labels: number[];
  /** name of each class a label indexes (not part of the sweep's identity) */
  classNames?: string[];
  alpha: number;
  seed: number;
  masks: number;
  generator: string;
  /** dtype of <split>_margins.npy; stores written before this field are float32 */
  marginsDtype?: MarginsDtype;
  /** set when the store was begun by the reference (no manifest) and resumed here */
  adopted?: { layout: 'reference'; completedRows: number; keepRate: number; checkedRow: number };
  created: string;
}

/** What identifies the examples, without paths (a store may be moved or mounted elsewhere). */
function dataIdentity(d: DataSpec): unknown {
  switch (d.source) {
    case 'npy': return { source: d.source, inputsSha256: d.inputsSha256 };
    case 'fashion-mnist': return { source: d.source, split: d.split, preprocessing: d.preprocessing };
    default: return { source: d.source, listingSha256: d.listingSha256, preprocessing: d.preprocessing, badImages: d.badImages };
  }
}

/** The fields that make two stores the same sweep. */
function identity(m: SweepManifest) {
  return {
    format: m.format, arch: m.model.arch, sha256: m.model.sha256, components: m.components.length, data: dataIdentity(m.data),
    split: m.split, examples: m.examples, labels: m.labels, alpha: m.alpha, seed: m.seed, masks: m.masks, generator: m.generator,
  };
}

export const marginsDtypeOf = (m: SweepManifest): MarginsDtype => m.marginsDtype ?? 'f4';
export const DTYPE_NAME: Record<MarginsDtype, string> = { f2: 'float16', f4: 'float32' };

export function manifestPath(dir: string): string { return join(dir, 'manifest.json'); }

export function readManifest(dir: string): SweepManifest {
  const p = manifestPath(dir);
  if (!existsSync(p)) throw new UserError(`${dir} is not a sweep store (no manifest.json)`);
  try {
    const m = JSON.parse(readFileSync(p, 'utf8')) as SweepManifest;
    if (m.format !== STORE_FORMAT) throw new Error(`format ${m.format}`);
    if (!Array.isArray(m.components) || !Array.isArray(m.examples) || !Number.isInteger(m.masks) || m.masks < 1) throw new Error('components, examples or masks missing');
    if (m.marginsDtype !== undefined && m.marginsDtype !== 'f2' && m.marginsDtype !== 'f4') throw new Error(`marginsDtype ${JSON.stringify(m.marginsDtype)}`);
    return m;
  } catch (e) {
    throw new UserError(`${p}: not a webcoar store manifest (${(e as Error).message})`);
  }
}

/** Explain how two sweeps differ, or return null when they are the same sweep. */
export function sweepMismatch(a: SweepManifest, b: SweepManifest): string | null {
  const x = identity(a) as Record<string, unknown>, y = identity(b) as Record<string, unknown>;
  for (const k of Object.keys(x)) {
    if (JSON.stringify(x[k]) !== JSON.stringify(y[k])) {
      const show = (v: unknown) => { const s = JSON.stringify(v); return s.length > 40 ? `${s.slice(0, 37)}...` : s; };
      if (k === 'sha256') return `it was made for other weights (sha256 ${String(y[k]).slice(0, 12)}…, these are ${String(x[k]).slice(0, 12)}…)`;
      if (k === 'data') return `it was made from other examples (${show(y[k])}, this sweep's are ${show(x[k])})`;
      return `its ${k} is ${show(y[k])}, this sweep's is ${show(x[k])}`;
    }
  }
  return null;
}
