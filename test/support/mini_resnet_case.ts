/**
 * A small MiniResNet and its inputs from the PyTorch reference, and `coar ablate` run on
 * them with any one file swapped for a bad one: the fixture of the bad-input and
 * adversarial suites. `expectError` is their common verdict: a non-zero exit, one line
 * starting `coar: ` that mentions every part, and no output file.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { readSafetensors, writeSafetensors, type TensorFile } from '../../src/io/safetensors.js';
import { coar, type CliResult } from './cli.js';
import { runReference } from './python.js';

export interface CaseFiles { weights: string; inputs: string; labels: string; masks: string }
export type CaseResult = CliResult & { out: string };

export function miniResnetCase(dir: string) {
  const ref = join(dir, 'ref');
  runReference('resnet_reference.py', ['mini-resnet', ref, '--width', '8', '--blocks', '1', '--n', '2']);
  const good: CaseFiles = {
    weights: join(ref, 'weights.safetensors'), inputs: join(ref, 'inputs.npy'),
    labels: join(ref, 'labels.npy'), masks: join(ref, 'masks.npy'),
  };
  let counter = 0;
  /** `coar ablate` on the good files with `over` swapped in (and `extra` flags); `peakRss` measures the child. */
  function ablate(over: Partial<CaseFiles> & { arch?: string; extra?: string[] }, opts: { peakRss?: boolean } = {}): CaseResult {
    const out = join(dir, `out${counter++}.npy`);
    const f = { ...good, ...over };
    const r = coar(['ablate', '--arch', over.arch ?? 'mini-resnet', '--weights', f.weights, '--inputs', f.inputs, '--labels', f.labels, '--masks', f.masks, '--out', out, ...(over.extra ?? [])], opts);
    return { ...r, out };
  }
  /** The good weights edited by `edit`, written as `name` in `dir`. */
  function variant(name: string, edit: (t: TensorFile) => void): string {
    const f = readSafetensors(good.weights);
    edit(f);
    const p = join(dir, name);
    writeSafetensors(p, f.tensors, f.metadata);
    return p;
  }
  return { good, ablate, variant };
}

export function expectError(r: CaseResult, ...parts: (string | RegExp)[]): void {
  assert.is.not(r.code, 0, 'exit code');
  const lines = r.stderr.split('\n').filter((l) => l.trim());
  assert.is(lines.length, 1, `one line, got:\n${r.stderr}`);
  assert.ok(lines[0]!.startsWith('coar: '), lines[0]);
  for (const p of parts) assert.ok(typeof p === 'string' ? lines[0]!.includes(p) : p.test(lines[0]!), `"${lines[0]}" should mention ${p}`);
  assert.not.ok(existsSync(r.out), 'no output file');
}
