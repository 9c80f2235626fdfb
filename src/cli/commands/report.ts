/**
 * `coar report STORE`: the HTML report of a store that has been swept, fitted and evaluated,
 * rendered from the files on disk (manifest, attributions, eval.json and the evaluation
 * margins) without running the model again. `coar run` writes it through the same function.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CommandModule } from 'yargs';
import { loadExamples } from '../../coar/examples.js';
import { readManifest } from '../../coar/store_manifest.js';
import { check, UserError } from '../../errors.js';
import { readNpy } from '../../io/npy.js';
import { writeReport, type ReportData } from '../../report/html.js';
import { readAttributions, storeModel } from './eval.js';

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
  weights?: string;
}

/** Render the report of `store` to `path`; returns the path. */
export async function writeStoreReport(store: string, path: string, opts: ReportOptions = {}): Promise<string> {
  const manifest = readManifest(store);
  const results = opts.results ?? store;
  const model = storeModel(manifest, opts.weights);
  const ex = await loadExamples(manifest.data, model, { indices: manifest.examples });
  const n = ex.shape.n;
  const { attributions, bias } = readAttributions(results, model.components.size, n);
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
    model: { arch: manifest.model.arch, weights: manifest.model.weights, weightsSha256: manifest.model.sha256, components: model.components.size },
    sweep: { alpha: manifest.alpha, masks: manifest.masks, examples: n, seed: manifest.seed, passesPerSecond: opts.passesPerSecond },
    fit: { method: fit.method, seconds: fit.seconds },
    components: [...model.components.entries()].map((c) => ({ name: c.name, layer: c.layer })),
    attributions, bias,
    examples: ex.indices.map((index, i) => ({ index, label: ex.labels[i]!, className: ex.classNames[ex.labels[i]!]! })),
    classNames: ex.classNames,
    eval: evals,
    stages: opts.stages ?? [],
  });
  return path;
}

interface ReportArgs { store: string; results?: string; out?: string; title?: string; weights?: string }

export const report: CommandModule<{}, ReportArgs> = {
  command: 'report <store>',
  describe: 'write the HTML report of a swept, fitted and evaluated store (no model runs)',
  builder: (y) => y
    .positional('store', { type: 'string', demandOption: true, describe: 'a sweep store (with manifest.json)' })
    .option('results', { type: 'string', describe: 'folder with attributions.npy, bias.npy, fit.json, eval.json (default: the store)' })
    .option('out', { type: 'string', describe: 'the HTML file (default: <results>/report.html)' })
    .option('title', { type: 'string', describe: 'page title' })
    .option('weights', { type: 'string', describe: "the model's weights, if moved since the sweep (hash checked)" }) as any,
  handler: async (args) => {
    const results = args.results ?? args.store;
    if (!existsSync(join(results, 'attributions.npy'))) throw new UserError(`${results} has no attributions.npy: run coar fit ${args.store} first`);
    const path = await writeStoreReport(args.store, resolve(args.out ?? join(results, 'report.html')), { results, title: args.title, weights: args.weights });
    console.log(`report: ${path}`);
  },
};
