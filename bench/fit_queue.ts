/**
 * The per-job cost of a fit on the Redis queue (issue 19.4): one store, fitted (a) by one
 * `coar fit` process and (b) by one `coar fit --queue … --examples-per-job E` coordinator and
 * one `coar worker` started first and waiting, so that many small slices expose what each job
 * costs beyond its share of the fit's solves. Per-job overhead = (queue wall − direct wall) / jobs;
 * the worker's own wall per job (first job, then the median of the others) says where it goes.
 * Every queue output is compared with `cmp` against the direct fit's.
 *
 *   nice -n 10 node --import tsx bench/fit_queue.ts [--examples 16] [--masks 192] [--per-job 2] [--method ridge] [--lambda L] [--solver S]
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runReference } from '../test/support/python.js';
import { tempDir } from '../test/support/tmp.js';
import { processes } from '../test/support/processes.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'bin', 'coar.js');
const argv = process.argv.slice(2);
const flag = (name: string, d: string) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1]! : d; };
const n = Number(flag('--examples', '16')), masks = Number(flag('--masks', '192')), perJob = Number(flag('--per-job', '2'));
const method = flag('--method', 'ridge');
// a given lambda / solver, passed to both fits (absent: lambda chosen per example, solver auto)
const extra = [...(argv.includes('--lambda') ? ['--lambda', flag('--lambda', '')] : []), ...(argv.includes('--solver') ? ['--solver', flag('--solver', '')] : [])];
const dir = tempDir('coar-bench-fit-queue-');

const procs: ChildProcess[] = [];
process.on('exit', () => { for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL'); });

function run(args: string[]): Promise<{ code: number | null; text: string; seconds: number }> & { proc: ChildProcess } {
  const t0 = performance.now();
  const p = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  procs.push(p);
  let text = '';
  p.stderr!.on('data', (d) => { text += d; });
  const done = new Promise<{ code: number | null; text: string; seconds: number }>((r) => p.on('exit', (code) => r({ code, text, seconds: (performance.now() - t0) / 1000 })));
  return Object.assign(done, { proc: p });
}
const ok = async (p: ReturnType<typeof run>) => { const r = await p; if (r.code !== 0) throw new Error(r.text); return r; };
const load = () => loadavg().map((l) => l.toFixed(1)).join('/');

const ref = join(dir, 'ref');
runReference('resnet_reference.py', ['mini-resnet', ref, '--width', '8', '--blocks', '2', '--n', String(n)]);
const store = join(dir, 'store');
await ok(run(['sweep', '--arch', 'mini-resnet', '--weights', join(ref, 'weights.safetensors'), '--inputs', join(ref, 'inputs.npy'), '--labels', join(ref, 'labels.npy'),
  '--masks', String(masks), '--alpha', '0.1', '--seed', '3', '--out', store, '--quiet']));

// a redis-server of our own on a free loopback port, without persistence (the queue tests' helper)
const redis = await processes(dir).startRedis();
const url = redis.url;

console.log(`# ${new Date().toISOString()}, ${cpus().length} x ${cpus()[0]?.model}, load ${load()}`);
const direct = join(dir, 'direct'), queued = join(dir, 'queued');
const d = await ok(run(['fit', store, '--out', direct, '--method', method, ...extra, '--quiet']));
const fitSeconds = JSON.parse(readFileSync(join(direct, 'fit.json'), 'utf8')).seconds as number;
const w = run(['worker', '--queue', url, '--name', 'w']);
// let the worker connect and wait: its start-up is not a job's cost
await new Promise((r) => setTimeout(r, 6000));
const q = await ok(run(['fit', store, '--out', queued, '--method', method, ...extra, '--queue', url, '--examples-per-job', String(perJob), '--poll-ms', '200']));
w.proc.kill('SIGTERM');
const wr = await w;
const jobs = [...wr.text.matchAll(/done in ([\d.]+) s/g)].map((m) => Number(m[1]));
const rest = jobs.slice(1).sort((a, b) => a - b);
const median = rest.length ? rest[Math.floor(rest.length / 2)]! : NaN;
const files = ['attributions.npy', 'bias.npy', ...(existsSync(join(direct, 'lambda.npy')) ? ['lambda.npy'] : [])];
for (const f of files) execFileSync('cmp', [join(direct, f), join(queued, f)]);
console.log(`# mini-resnet (40 components) reference model, ${masks} masks x ${n} examples, ${method} ${extra.join(' ')}; direct fit's own solve ${fitSeconds.toFixed(2)} s`);
console.log('| jobs | examples/job | direct fit wall (s) | queue wall (s) | per-job overhead (s) | worker wall, first job (s) | worker wall, median other job (s) |');
console.log('|---|---|---|---|---|---|---|');
console.log(`| ${jobs.length} | ${perJob} | ${d.seconds.toFixed(1)} | ${q.seconds.toFixed(1)} | ${((q.seconds - d.seconds) / jobs.length).toFixed(2)} | ${jobs[0]?.toFixed(2)} | ${median.toFixed(2)} |`);
console.log(`# ${files.join(', ')} byte-identical (cmp) to the direct fit; load after ${load()}`);
await redis.stop();
