/**
 * `coar eval --heldout` as a library stage: the attributions scored on a held-out store's
 * masks and margins, with no model and no GPU, streamed in example chunks under a memory
 * bound (score.ts). Writes heldout_eval.json; eval.json stays the fresh-mask evaluation.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { openAttributions } from './results.js';
import { blockBytesFor, scoreChunkExamples, scoreStore, type StoreScore } from './score.js';
import { openStore } from './store.js';
import type { SweepManifest } from './store_manifest.js';
import { check } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { EvalCallbacks } from './eval_store.js';

export interface HeldoutEval extends StoreScore { heldout: string; alpha: number | null; seed: number | null }

export interface HeldoutOptions { memoryBytes: number; split?: string }

/** Score the attributions in `attrDir` (fitted on `storeDir`) on the held-out store's masks and margins. */
export function evalHeldout(storeDir: string, heldoutDir: string, attrDir: string, o: HeldoutOptions, cb: EvalCallbacks = {}): HeldoutEval {
  const held = openStore(heldoutDir, { split: o.split });
  try {
    if (resolve(storeDir) !== resolve(heldoutDir) && existsSync(join(storeDir, 'manifest.json'))) {
      const a = JSON.parse(readFileSync(join(storeDir, 'manifest.json'), 'utf8')) as Partial<SweepManifest>;
      const b = (held.manifest ?? {}) as Partial<SweepManifest>;
      check(a.seed === undefined || b.seed === undefined || a.seed !== b.seed,
        () => `the held-out store has the training store's seed (${a.seed}): its masks are the training masks; sweep it with another --seed`);
    }
    const attr = openAttributions(attrDir, held.components, held.examples, blockBytesFor(o.memoryBytes));
    try {
      const w = scoreChunkExamples(held.usedRows.length, held.components, held.examples, o.memoryBytes);
      cb.log?.(`${held.usedRows.length} held-out masks of ${heldoutDir} x ${held.examples} examples, ${w} examples at a time (--memory ${(o.memoryBytes / 2 ** 30).toFixed(3)} GB)`);
      const bar = cb.progress?.(held.examples);
      const t0 = performance.now();
      try {
        const r = scoreStore(held, attr.attributions, attr.bias, { memoryBytes: o.memoryBytes, onProgress: (d) => bar?.update(d) });
        bar?.stop();
        cb.log?.(`done in ${((performance.now() - t0) / 1000).toFixed(1)} s (${r.chunks} chunk${r.chunks > 1 ? 's' : ''})`);
        const m = (held.manifest ?? {}) as Partial<SweepManifest>;
        return { ...r, heldout: resolve(heldoutDir), alpha: m.alpha ?? null, seed: m.seed ?? null };
      } finally { bar?.stop(); }
    } finally { attr.close(); }
  } finally { held.close(); }
}

/** heldout_eval.json in `dir`; returns its path. */
export function writeHeldoutEval(dir: string, r: HeldoutEval): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'heldout_eval.json');
  const json = { heldout: r.heldout, alpha: r.alpha, seed: r.seed, masks: r.masks, chunkExamples: r.chunkExamples, chunks: r.chunks, ...r.summary, pearson: [...r.pearson], spearman: [...r.spearman] };
  writeFileAtomic(path, [new TextEncoder().encode(JSON.stringify(json, null, 1) + '\n')]);
  return path;
}
