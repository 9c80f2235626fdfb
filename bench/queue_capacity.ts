/**
 * How many rows per second one coordinator absorbs (issue 19.6): a real `coar sweep --queue`
 * coordinator over n examples in float16, fed by W synthetic workers in this process that
 * return margins of the right size at once (random bytes, no model), so the coordinator's
 * side (Redis round trips, base64, the fsynced store writes) is the only limit. A bench, not
 * a test: the store it fills holds no real margins and is thrown away.
 *
 *   nice -n 10 node --import tsx bench/queue_capacity.ts [--examples 50000] [--masks 1024] [--chunk 64] [--workers 4]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { processes } from '../test/support/processes.js';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'bullmq';
import { QUEUE_NAME, validateJob, type RowsResult } from '../src/queue/job.js';
import { ioredisOptions, parseQueueUrl } from '../src/queue/url.js';
import { tempDir } from '../test/support/tmp.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const flag = (name: string, d: string) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1]! : d; };
const n = Number(flag('--examples', '50000')), masks = Number(flag('--masks', '1024')), chunk = Number(flag('--chunk', '64')), nWorkers = Number(flag('--workers', '4'));
const dir = tempDir('coar-bench-capacity-');
const procs: ChildProcess[] = [];
process.on('exit', () => { for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL'); });

// a redis-server of our own on a free loopback port, without persistence (the queue tests' helper)
const redis = await processes(dir).startRedis();
const url = redis.url;

// one buffer of random float16 bits per job size, encoded once: the workers cost nothing
const payload = new Map<number, string>();
const workers = Array.from({ length: nWorkers }, (_, i) => new Worker(QUEUE_NAME, async (job): Promise<RowsResult> => {
  const j = validateJob(job.data);
  let p = payload.get(j.count);
  if (!p) { p = randomBytes(j.count * n * 2).toString('base64'); payload.set(j.count, p); }
  return { worker: `synthetic${i}`, seconds: 0.001, margins: p };
}, { connection: ioredisOptions(parseQueueUrl(url)), concurrency: 1 }));

const t0 = performance.now();
let tFirst = 0, tLast = 0, rows = 0;
const coord = spawn(process.execPath, [join(ROOT, 'bin', 'coar.js'), 'sweep', '--arch', 'mini-resnet', '--weights', join(ROOT, 'weights', 'fashion-cnn.safetensors'),
  '--data', 'fashion-mnist:train', '--examples', String(n), '--masks', String(masks), '--margins-dtype', 'f16', '--chunk', String(chunk),
  '--out', join(dir, 'store'), '--queue', url, '--poll-ms', '1000'], { stdio: ['ignore', 'ignore', 'pipe'] });
procs.push(coord);
let text = '';
coord.stderr!.on('data', (d: Buffer) => {
  text += d;
  for (const m of d.toString().matchAll(/rows (\d+)-(\d+) from/g)) {
    const now = performance.now();
    if (!tFirst) tFirst = now;
    tLast = now; rows += Number(m[2]) - Number(m[1]) + 1;
  }
});
const code = await new Promise<number | null>((r) => coord.on('exit', r));
if (code !== 0) throw new Error(text);
await Promise.all(workers.map((w) => w.close()));
await redis.stop();
// the first job's rows arrive at tFirst: count the rows after it over the time after it
const firstRows = Math.min(chunk, masks);
const rate = (rows - firstRows) / ((tLast - tFirst) / 1000);
console.log(`# ${new Date().toISOString()}, ${cpus().length} x ${cpus()[0]?.model}, load ${loadavg().map((l) => l.toFixed(1)).join('/')}`);
console.log(`| examples n | masks | chunk | synthetic workers | coordinator wall (s) | rows absorbed/s | MB/s of float16 margins written |`);
console.log(`|---|---|---|---|---|---|---|`);
console.log(`| ${n} | ${masks} | ${chunk} | ${nWorkers} | ${((performance.now() - t0) / 1000).toFixed(1)} | ${rate.toFixed(1)} | ${(rate * n * 2 / 1e6).toFixed(1)} |`);
