/**
 * The HTML report of a store that has been swept, fitted and evaluated, rendered from the
 * files on disk alone (manifest, attributions, eval.json and the evaluation margins): no
 * model runs and no weights or images are read, so a store moved to another machine
 * reports as it is. `coar report` and `coar run` both write it through this function.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readAttributions } from '../coar/results.js';
import { storeExamples } from '../coar/store_examples.js';
import { readManifest } from '../coar/store_manifest.js';
import { componentLayer } from '../models/components.js';
import { check } from '../errors.js';
import { readNpy } from '../io/npy.js';
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
}

/** Render the report of `store` to `path`; returns the path. */
export function writeStoreReport(store: string, path: string, opts: ReportOptions = {}): string {
  const manifest = readManifest(store);
  const results = opts.results ?? store;
  const ex = storeExamples(manifest);
  const n = ex.indices.length, C = manifest.components.length;
  const { attributions, bias } = readAttributions(results, C, n);
  const fitFile = join(results, 'fit.json');
  const fit = existsSync(fitFile) ? JSON.parse(readFileSync(fitFile, 'utf8')) as { method: string; seconds?: number } : { method: 'unknown' };
  const evalFile = join(results, 'eval.json');
  const records = existsSync(evalFile) ? JSON.parse(readFileSync(evalFile, 'utf8')) as EvalRecord[] : [];
  const at = records.findIndex((r) => Math.abs(r.alpha - manifest.alpha) < 1e-9);
  const evals: ReportData['eval'] = records.map((r, ri) => {
    const corr = (xs: (number | null)[]) => Float32Array.from(xs, (v) => v ?? NaN);
    let scatter: ReportData['eval'][number]['scatter'] = [];
    if (ri === at) {
      const read = (f: string) => {
        const a = readNpy(join(results, f));
        check(a.dtype === 'f4' && a.shape.join() === `${r.masks},${n}`, () => `${join(results, f)}: expected float32 [${r.masks}, ${n}], found ${a.dtype} [${a.shape.join(', ')}]; run coar eval again`);
        return a.data as Float32Array;
      };
      const t = read(r.files[0]), p = read(r.files[1]);
      scatter = Array.from({ length: Math.min(SCATTER_EXAMPLES, n) }, (_, e) => ({
        example: e,
        trueMargin: Float32Array.from({ length: r.masks }, (_, i) => t[i * n + e]!),
        predicted: Float32Array.from({ length: r.masks }, (_, i) => p[i * n + e]!),
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
    attributions, bias,
    examples: ex.indices.map((index, i) => ({ index, label: ex.labels[i]!, className: ex.classNames[ex.labels[i]!]! })),
    classNames: ex.classNames,
    eval: evals,
    stages: opts.stages ?? [],
  });
  return path;
}
