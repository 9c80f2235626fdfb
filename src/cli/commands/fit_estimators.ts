/** `coar fit --method extracted|shared`: the estimators of src/coar/estimators beside the regression. */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fitEstimator, type EstimatorName } from '../../coar/estimators/index.js';
import type { PackedMasks } from '../../coar/fit_masks.js';
import type { StoreReader } from '../../coar/store.js';
import { check } from '../../errors.js';
import { GpuContext } from '../../gpu/context.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { writeNpy } from '../../io/npy.js';
import type { FitArgs } from './fit.js';

/** The estimators `coar fit` hands to src/coar/estimators (the regression stays in fit.ts). */
export const isOtherEstimator = (method: string) => method === 'extracted' || method === 'shared';

export async function fitOtherEstimator(args: FitArgs, d: { store: StoreReader; masks: PackedMasks; margins: Float32Array; outDir: string; log: (s: string) => void }): Promise<void> {
  const method = args.method as string as EstimatorName;
  const rows = d.store.usedRows.length;
  check(rows >= 4, () => `--method ${method} needs at least 4 completed rows, the store has ${rows}`);
  const n = d.store.examples, C = d.store.components;
  const ctx = await GpuContext.open(args);
  const started = Date.now();
  let r;
  try {
    r = await fitEstimator(ctx, method, d.masks, d.margins, n, { extracted: { valFrac: args['val-frac'], progress: d.log }, shared: { valFrac: args['val-frac'], progress: d.log } });
  } finally {
    ctx.destroy();
  }
  const seconds = (Date.now() - started) / 1000;
  // everything is computed before the first file is written
  mkdirSync(d.outDir, { recursive: true });
  writeNpy(join(d.outDir, 'attributions.npy'), 'f4', [C, n], r.attributions);
  writeNpy(join(d.outDir, 'bias.npy'), 'f4', [n], r.bias);
  const names = d.store.manifest?.components;
  if (names) writeFileAtomic(join(d.outDir, 'components.txt'), [new TextEncoder().encode(names.join('\n') + '\n')]);
  const summary = {
    method, ...r.details, rows, components: C, examples: n, split: d.store.split, seconds,
    units: 'raw mask units: predicted margin = bias + mask . attributions',
  };
  writeFileAtomic(join(d.outDir, 'fit.json'), [new TextEncoder().encode(JSON.stringify(summary, null, 2) + '\n')]);
  d.log(`wrote ${join(d.outDir, 'attributions.npy')} [${C}, ${n}] in ${seconds.toFixed(1)} s (${method})`);
}
