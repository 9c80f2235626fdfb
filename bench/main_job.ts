/**
 * The main job, timed: `coar run` on each bundled model with its defaults (a fresh output
 * folder, so the sweep starts from nothing and pays pipeline compilation as a user would),
 * the time of every stage, the sweep's ablated passes per second, and in the same run
 * PyTorch on the CPU doing the reference procedure (one deep copy per mask, rows zeroed,
 * forward the examples) on the first masks of the same store and the same examples.
 *
 * usage: node --import tsx bench/main_job.ts [cnn] [vit] [-- extra coar run flags]
 * prints a markdown table (and the load average before and after)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readNpy, writeNpy } from '../src/io/npy.js';
import { PYTHON, REFERENCE_DIR } from '../test/support/python.js';
import { tempDir } from '../test/support/tmp.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const dash = process.argv.indexOf('--');
const extra = dash >= 0 ? process.argv.slice(dash + 1) : [];
const picked = (dash >= 0 ? process.argv.slice(2, dash) : process.argv.slice(2)).filter((a) => a === 'cnn' || a === 'vit');
const models = picked.length ? picked : ['cnn', 'vit'];
const WEIGHTS: Record<string, string> = { cnn: 'fashion-cnn.safetensors', vit: 'fashion-vit.safetensors' };
const TORCH_MASKS = 8;

const load = () => loadavg().map((l) => l.toFixed(1)).join(' ');
const rows: string[] = [];
const loads = [`before: ${load()}`];
const root = tempDir('coar-bench-run-');
for (const model of models) {
  const out = join(root, model);
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'coar.js'), 'run', '--model', model, '--out', out, '--quiet', ...extra], { encoding: 'utf8' });
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`coar run --model ${model} failed: ${r.stderr}`);
  const stageLine = /time by stage: (.*); total/.exec(r.stdout)?.[1] ?? '';
  const stages = Object.fromEntries([...stageLine.matchAll(/(\w+) ([\d.]+) s/g)].map((m) => [m[1]!, Number(m[2])]));
  const head = /(\d+) masks x (\d+) examples/.exec(r.stdout)!;
  const masks = Number(head[1]), examples = Number(head[2]);
  const corr = /^0\.0500\s+\d+\s+([\d.-]+)\s+[\d.-]+\s+([\d.-]+)/m.exec(r.stdout);
  const manifest = JSON.parse(execFileSync('cat', [join(out, 'manifest.json')], { encoding: 'utf8' })) as { examples: number[]; components: string[] };
  const C = manifest.components.length;
  // PyTorch on the first masks of the same store, the same examples
  const all = readNpy(join(out, 'masks.npy')).data as Uint8Array;
  const few = join(root, `${model}-masks.npy`);
  writeNpy(few, 'b1', [TORCH_MASKS, C], all.subarray(0, TORCH_MASKS * C));
  const torch = JSON.parse(execFileSync(PYTHON, [join(REFERENCE_DIR, 'fashion_reference.py'), 'ablate', join(ROOT, 'weights', WEIGHTS[model]!), few,
    manifest.examples.join(','), join(root, `${model}-torch.npy`)], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '2' } })) as { seconds: number; passes: number; threads: number };
  const ours = (masks * examples) / stages.sweep!;
  const theirs = torch.passes / torch.seconds;
  rows.push(`| ${model} | ${C} | ${masks} × ${examples} | ${stages.sweep!.toFixed(1)} | ${ours.toFixed(1)} | ${theirs.toFixed(1)} (${torch.threads} threads) | ${(ours / theirs).toFixed(2)} | ${stages.fit!.toFixed(1)} | ${stages.eval!.toFixed(1)} | ${stages.report!.toFixed(1)} | ${wall.toFixed(1)} | ${corr ? `${corr[1]} / ${corr[2]}` : '?'} |`);
  console.error(rows[rows.length - 1]);
  loads.push(`after ${model}: ${load()}`);
}
console.log(`load average (1, 5, 15 min) ${loads.join('; ')}`);
console.log('| model | components | masks × examples | sweep (s) | sweep passes/s | PyTorch reference passes/s | ours / PyTorch | fit (s) | eval (s) | report (s) | whole run, wall (s) | Pearson / Spearman at α |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const row of rows) console.log(row);
