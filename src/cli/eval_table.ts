/** The evaluation's table on stdout, as `coar eval` and `coar run` print it. */
import type { AlphaEval } from '../coar/eval.js';

export function printEval(results: Pick<AlphaEval, 'alpha' | 'masks' | 'summary'>[]): void {
  console.log('alpha    masks  pearson mean  median   spearman mean  median');
  for (const r of results) {
    const s = r.summary;
    console.log(`${r.alpha.toFixed(4).padEnd(8)} ${String(r.masks).padStart(5)}  ${s.pearsonMean.toFixed(3).padStart(12)}  ${s.pearsonMedian.toFixed(3).padStart(6)}   ${s.spearmanMean.toFixed(3).padStart(13)}  ${s.spearmanMedian.toFixed(3).padStart(6)}`);
  }
}
