/**
 * The Redis queue's cost against a plain sweep on one machine (issue 19): the bundled CNN on
 * Fashion-MNIST, the same masks computed (a) by one `coar sweep` process and (b) by one
 * `coar sweep --queue` coordinator and W `coar worker`s on a redis-server started here.
 * Workers are started first and wait, so (b) does not count their start-up; both count model
 * load, pipeline compilation and store writes. Overhead = queue wall / direct wall − 1, and the
 * share of the coordinator's wall its workers spent computing.
 *
 *   nice -n 10 node --import tsx bench/queue.ts [--masks 512] [--examples 32] [--chunks 64,16] [--workers 1]
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../test/support/tmp.js';
import { processes } from '../test/support/processes.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'bin', 'coar.js');
const argv = process.argv.slice(2);
const flag = (name: string, d: string) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1]! : d; };
const masks = Number(flag('--masks', '512')), examples = Number(flag('--examples', '32'));
const chunks = flag('--chunks', '64,16').split(',').map(Number);
const nWorkers = Number(flag('--workers', '1'));
const dir = tempDir('coar-bench-queue-');
const model = ['--arch', 'mini-resnet', '--weights', join(ROOT, 'weights', 'fashion-cnn.safetensors'), '--data', 'fashion-mnist', '--examples', String(examples), '--masks', String(masks), '--alpha', '0.05', '--seed', '1'];

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

// a redis-server of our own on a free loopback port, without persistence (the queue tests' helper)
const redis = await processes(dir).startRedis();
const url = redis.url;

const cmpStores = (a: string, b: string) => {
  for (const f of ['masks.npy', 'test_margins.npy', '_completed.npy']) execFileSync('cmp', [join(a, f), join(b, f)]);
};

console.log(`# ${new Date().toISOString()}, ${cpus().length} x ${cpus()[0]?.model}, load ${loadavg().map((l) => l.toFixed(1)).join('/')}`);
console.log(`# bundled CNN, ${masks} masks x ${examples} examples, ${nWorkers} worker(s), redis-server on loopback`);
console.log('| chunk | jobs | direct sweep wall (s) | queue wall (s) | overhead | workers computing / queue wall |');
console.log('|---|---|---|---|---|---|');
for (const chunk of chunks) {
  const direct = join(dir, `direct-${chunk}`), queued = join(dir, `queue-${chunk}`);
  const d = await run(['sweep', ...model, '--chunk', String(chunk), '--out', direct, '--quiet']);
  if (d.code !== 0) throw new Error(d.text);
  const workers = Array.from({ length: nWorkers }, (_, i) => run(['worker', '--queue', url, '--name', `w${i}`]));
  // let the workers connect and wait: their start-up is not the queue's cost
  await new Promise((r) => setTimeout(r, 6000));
  const q = await run(['sweep', ...model, '--chunk', String(chunk), '--out', queued, '--queue', url, '--poll-ms', '1000']);
  if (q.code !== 0) throw new Error(q.text);
  // SIGTERM: an idle worker leaves at once
  for (const w of workers) w.proc.kill('SIGTERM');
  const ws = await Promise.all(workers);
  const busy = ws.reduce((a, w) => a + [...w.text.matchAll(/done in ([\d.]+) s/g)].reduce((s, m) => s + Number(m[1]), 0), 0);
  cmpStores(direct, queued);
  console.log(`| ${chunk} | ${Math.ceil(masks / chunk)} | ${d.seconds.toFixed(1)} | ${q.seconds.toFixed(1)} | ${(100 * (q.seconds / d.seconds - 1)).toFixed(1)}% | ${(100 * busy / q.seconds / nWorkers).toFixed(0)}% |`);
}
console.log(`# stores byte-identical (cmp) in every row; load after ${loadavg().map((l) => l.toFixed(1)).join('/')}`);
await redis.stop();
