/**
 * The HTML report of a store that has been swept, fitted and evaluated, rendered from the
 * files on disk alone (manifest, attributions, eval.json and the evaluation margins): no
 * model runs and no weights or images are read, so a store moved to another machine
 * reports as it is. `coar report` and `coar run` both write it through this function.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openAttributionRows } from '../coar/results.js';
import { storeExamples } from '../coar/store_examples.js';
import { readManifest } from '../coar/store_manifest.js';
import { componentLayer } from '../models/components.js';
import { check } from '../errors.js';
import { NpyFile, readNpy } from '../io/npy.js';
import { writeReport, type ReportData } from './html.js';

/** Examples whose predicted-vs-true margins are drawn. */
const SCATTER_EXAMPLES = 4;

interface EvalRecord { alpha: number; masks: number; files: [string, string]; pearson: (number | null)[]; spearman: (number | null)[] }

export interface ReportOptions {
  /** folder with attributions.npy, bias.npy, fit.json, eval.json (default: the store) */
  results?: string;
  title?: string;
  /** time by stage, when the caller measured it */
  stages?: { name: string; seconds: number }[];
  /** the sweep's throughput, when this process ran it */
  passesPerSecond?: number;
  /**
   * bytes of attribution rows read at a time (default 32 MiB): the report reads
   * attributions.npy once, a block of component rows at a time, never whole
   */
  blockBytes?: number;
}

/** Render the report of `store` to `path`; returns the path. */
export function writeStoreReport(store: string, path: string, opts: ReportOptions = {}): string {
  const manifest = readManifest(store);
  const results = opts.results ?? store;
  const ex = storeExamples(manifest);
  const n = ex.indices.length, C = manifest.components.length;
  const attr = openAttributionRows(results, C, n, opts.blockBytes);
  try {
    const fitFile = join(results, 'fit.json');
    const fit = existsSync(fitFile) ? JSON.parse(readFileSync(fitFile, 'utf8')) as { method: string; seconds?: number } : { method: 'unknown' };
    const evalFile = join(results, 'eval.json');
    const records = existsSync(evalFile) ? JSON.parse(readFileSync(evalFile, 'utf8')) as EvalRecord[] : [];
    const at = records.findIndex((r) => Math.abs(r.alpha - manifest.alpha) < 1e-9);
    const shown = Math.min(SCATTER_EXAMPLES, n);
    const evals: ReportData['eval'] = records.map((r, ri) => {
      const corr = (xs: (number | null)[]) => Float32Array.from(xs, (v) => v ?? NaN);
      let scatter: ReportData['eval'][number]['scatter'] = [];
      if (ri === at) {
        // the scatter's few examples alone: columns [0, shown) of [masks, n], not the whole file
        const read = (f: string) => scatterColumns(join(results, f), r.masks, n, shown);
        const t = read(r.files[0]), p = read(r.files[1]);
        scatter = Array.from({ length: shown }, (_, e) => ({
          example: e,
          trueMargin: Float32Array.from({ length: r.masks }, (_, i) => t[i * shown + e]!),
          predicted: Float32Array.from({ length: r.masks }, (_, i) => p[i * shown + e]!),
        }));
      }
      return { alpha: r.alpha, pearson: corr(r.pearson), spearman: corr(r.spearman), scatter };
    });
    writeReport(path, {
      title: opts.title ?? `COAR on ${manifest.model.weights.split('/').pop()}`,
      model: { arch: manifest.model.arch, weights: manifest.model.weights, weightsSha256: manifest.model.sha256, components: C },
      sweep: { alpha: manifest.alpha, masks: manifest.masks, examples: n, seed: manifest.seed, passesPerSecond: opts.passesPerSecond },
      fit: { method: fit.method, seconds: fit.seconds },
      components: manifest.components.map((name) => ({ name, layer: componentLayer(name) })),
      attributions: attr.blocks, bias: attr.bias,
      examples: ex.indices.map((index, i) => ({ index, label: ex.labels[i]!, className: ex.classNames[ex.labels[i]!]! })),
      classNames: ex.classNames,
      eval: evals,
      stages: opts.stages ?? [],
    });
  } finally {
    attr.close();
  }
  return path;
}

/** Columns [0, w) of an evaluation margins file [masks, n] as [masks x w] float32, checked first. */
function scatterColumns(path: string, masks: number, n: number, w: number): Float32Array {
  const f = NpyFile.open(path, { convert: true });
  try {
    const h = f.header;
    check(h.dtype === 'f4' && h.shape.join() === `${masks},${n}`, () => `${path}: expected float32 [${masks}, ${n}], found ${h.dtype} [${h.shape.join(', ')}]; run coar eval again`);
    if (h.fortranOrder && masks > 1 && n > 1) {
      const a = readNpy(path).data as Float32Array;
      return Float32Array.from({ length: masks * w }, (_, k) => a[Math.floor(k / w) * n + (k % w)]!);
    }
    return f.readFloatColumns(0, masks, 0, w);
  } finally { f.close(); }
}
