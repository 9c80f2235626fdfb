/**
 * Fits on a Redis queue (issue 19.4): `coar fit --queue` puts slices of the examples on a real
 * redis-server started here on a free loopback port, `coar worker` processes fit them, and the
 * coordinator's attributions, bias and lambdas equal one `coar fit` process's to 1e-6 relative
 * (numpy compares the files), whether a worker is SIGKILLed mid-job, the coordinator is
 * killed and run again, Redis is restarted without its data, a worker sees another store at
 * the job's path, or the only worker joins late.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Queue } from 'bullmq';
import { openStore } from '../src/coar/store.js';
import { QUEUE_NAME } from '../src/queue/job.js';
import { ioredisOptions, parseQueueUrl } from '../src/queue/url.js';
import { decodeFitResult, encodeFloats, fitJobTemplate, storeFacts, validateFitJob } from '../src/queue/fit_job.js';
import { coar } from './support/cli.js';
import { npyRelDiff } from './support/npy_compare.js';
import { processes } from './support/processes.js';
import { runReference } from './support/python.js';
import { tempDir } from './support/tmp.js';

const dir = tempDir('coar-fit-queue-');
const ref = join(dir, 'ref');
const N = 8, PER_JOB = 4;
runReference('resnet_reference.py', ['mini-resnet', ref, '--width', '8', '--blocks', '2', '--n', String(N)]);
// the store, swept by the CLI; the fit every queue fit below must equal
const store = join(dir, 'store');
const swept = coar(['sweep', '--arch', 'mini-resnet', '--weights', join(ref, 'weights.safetensors'), '--inputs', join(ref, 'inputs.npy'), '--labels', join(ref, 'labels.npy'),
  '--masks', '96', '--alpha', '0.1', '--seed', '3', '--out', store, '--quiet']);
if (swept.code !== 0) throw new Error(swept.stderr);
const single = join(dir, 'single');
const fitted = coar(['fit', store, '--out', single, '--quiet']);
if (fitted.code !== 0) throw new Error(fitted.stderr);

const { startCoar, kill, startRedis, killAll } = processes(dir);
test.after.each(killAll);

// short locks and polls, so that a dead worker's job is free again within seconds
// (`path` and `cwd`: see the poisoned worker's test)
const coordinator = (out: string, url: string, extra: string[] = [], path = store, cwd?: string) =>
  startCoar(['fit', path, '--out', out, '--queue', url, '--examples-per-job', String(PER_JOB), '--poll-ms', '300', ...extra], { cwd });
const worker = (url: string, name: string, idle = 6, extra: string[] = [], cwd?: string) =>
  startCoar(['worker', '--queue', url, '--name', name, '--lock-ms', '2000', '--stalled-ms', '1000', '--idle-exit', String(idle), ...extra], { cwd });
const JOBS = Math.ceil(N / PER_JOB);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const FILES = ['attributions.npy', 'bias.npy', 'lambda.npy'];
function assertSameFit(out: string): void {
  const d = npyRelDiff(out, single, FILES);
  for (const f of FILES) assert.ok(d[f]!.same && d[f]!.rel !== null && d[f]!.rel! <= 1e-6, `${f}: ${JSON.stringify(d[f])}`);
  assert.equal(d['attributions.npy']!.shape, [JSON.parse(readFileSync(join(single, 'fit.json'), 'utf8')).components, N]);
  const q = JSON.parse(readFileSync(join(out, 'fit.json'), 'utf8')), s = JSON.parse(readFileSync(join(single, 'fit.json'), 'utf8'));
  for (const k of ['method', 'solver', 'chosen', 'valFrac', 'lambdaGrid', 'rows', 'components', 'examples']) assert.equal(q[k], s[k], `fit.json ${k}`);
  assert.is(q.queue.jobs, Math.ceil(N / PER_JOB));
}

/** pids of the processes whose parent is `pid` */
const childrenOf = (pid: number) => execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' }).split('\n').filter((l) => l.trim()).map(Number);
const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };

test('a fit job is validated field by field, and a result must be the job\'s columns from the job\'s solver', () => {
  const s = openStore(store);
  const facts = storeFacts(s);
  s.close();
  const job = { ...fitJobTemplate({ perJob: PER_JOB, store: facts, method: 'ridge', lambda: null, valFrac: 0.1, solver: 'gram', tol: null, maxIter: null, examplesPerChunk: null }), first: 3, count: 3 };
  assert.equal(validateFitJob(JSON.parse(JSON.stringify(job))), job);
  assert.throws(() => validateFitJob({ ...job, lambda: 5 }), /not the hash of the job's parameters/);
  assert.throws(() => validateFitJob({ ...job, code: 'process.exit()' }), /unknown field\(s\) code/);
  assert.throws(() => validateFitJob({ ...job, store: { ...facts, path: 'store' } }), /job\.store\.path/);
  assert.throws(() => validateFitJob({ ...job, count: PER_JOB + 1 }), /job\.count/);
  assert.throws(() => validateFitJob({ ...job, solver: 'eval' }), /job\.solver/);
  const C = facts.components;
  const result = { worker: 'W', seconds: 1, attributions: encodeFloats(new Float32Array(C * 3)), bias: encodeFloats(new Float32Array(3)), lambda: encodeFloats(new Float32Array(3)),
    solver: 'gram', iterations: 3, converged: true, residual: 1e-7, lambdaGrid: [1, 2], chunks: 1, peakDeviceBytes: 10 };
  assert.is(decodeFitResult(result, job).attributions.length, C * 3);
  assert.throws(() => decodeFitResult({ ...result, attributions: encodeFloats(new Float32Array(C * 2)) }, job), /bytes of attributions/);
  assert.throws(() => decodeFitResult({ ...result, solver: 'dual' }, job), /the fit's solver is gram/);
  assert.throws(() => decodeFitResult({ ...result, lambda: null }, job), /no lambdas/);
  assert.throws(() => decodeFitResult({ ...result, bias: encodeFloats(new Float32Array([0, NaN, 0])) }, job), /non-finite bias/);
});

test('two workers fit the slices; the assembled attributions, bias and lambdas equal one coar fit process\'s (numpy, 1e-6 relative)', async () => {
  const redis = await startRedis();
  const out = join(dir, 'two-workers');
  try {
    const c = coordinator(out, redis.url);
    await c.waitFor(/waiting for coar worker/);
    const a = worker(redis.url, 'A'), b = worker(redis.url, 'B');
    assert.is(await c.exit, 0, c.log());
    assert.match(c.log(), new RegExp(`${Math.ceil(N / PER_JOB)} jobs for ${N} of ${N} examples`));
    assertSameFit(out);
    await Promise.all([a.exit, b.exit]);
    const fittedBy = (l: string) => Number(/(\d+) examples fitted/.exec(l)?.[1] ?? 0);
    assert.is(fittedBy(a.log()) + fittedBy(b.log()), N, 'every example fitted once');
  } finally { await redis.stop(); }
});

test('a worker SIGKILLed mid-job (its coar fit child leaves with it): another worker finishes its slice, the fit equals one process\'s', async () => {
  const redis = await startRedis();
  const out = join(dir, 'killed-worker');
  try {
    const c = coordinator(out, redis.url);
    await c.waitFor(/waiting for coar worker/);
    const a = worker(redis.url, 'A');
    const [, first, last] = await a.waitFor(/examples (\d+)-(\d+) started/);
    let kids: number[] = [];
    for (let t = 0; t < 100 && !kids.length; t++) { kids = childrenOf(a.proc.pid!); await new Promise((r) => setTimeout(r, 50)); }
    assert.ok(kids.length > 0, 'the job runs in a child coar fit');
    await kill(a);
    assert.not.match(a.log(), /done in/);
    for (let t = 0; t < 100 && kids.some(alive); t++) await new Promise((r) => setTimeout(r, 100));
    assert.not.ok(kids.some(alive), 'the child coar fit left with its worker');
    const b = worker(redis.url, 'B');
    assert.is(await c.exit, 0, c.log());
    assert.match(c.log(), new RegExp(`examples ${first}-${last} from B`));
    assert.not.match(c.log(), / from A/);
    assertSameFit(out);
    await b.exit;
  } finally { await redis.stop(); }
});

test('the coordinator SIGKILLed and run again: the slices it kept are not fitted again, the fit equals one process\'s', async () => {
  const redis = await startRedis();
  const out = join(dir, 'killed-coordinator');
  try {
    const c1 = coordinator(out, redis.url);
    await c1.waitFor(/waiting for coar worker/);
    const w = worker(redis.url, 'W', 15);
    await c1.waitFor(/examples \d+-\d+ from W/);
    await kill(c1);
    const c2 = coordinator(out, redis.url);
    const [, jobs, todo] = await c2.waitFor(/(\d+) jobs for (\d+) of 8 examples/);
    assert.ok(Number(jobs) < Math.ceil(N / PER_JOB) && Number(todo) < N, `${jobs} jobs for ${todo} examples after the restart`);
    assert.is(await c2.exit, 0, c2.log());
    assertSameFit(out);
    assert.is(JSON.parse(readFileSync(join(out, 'fit.json'), 'utf8')).resumedChunks, Math.ceil(N / PER_JOB) - Number(jobs));
    await w.exit;
    // every slice fitted exactly once over both coordinators
    assert.match(w.log(), new RegExp(`worker: ${Math.ceil(N / PER_JOB)} jobs, 0 rows computed, ${N} examples fitted`));
  } finally { await redis.stop(); }
});

test('Redis restarted mid-fit (no persistence: its jobs lost): the coordinator adds again only the missing slice, the fit equals one process\'s', async () => {
  const redis = await startRedis();
  const out = join(dir, 'redis-restart');
  try {
    const c = coordinator(out, redis.url);
    await c.waitFor(/waiting for coar worker/);
    // one job, then W leaves: the first slice is kept at the coordinator and the others wait
    // on the queue with no worker when Redis goes (a worker still fitting could finish first)
    const w = worker(redis.url, 'W', 15, ['--max-jobs', '1']);
    await c.waitFor(/examples \d+-\d+ from W/);
    await w.exit;
    await redis.restart();
    const [, lost] = await c.waitFor(/Redis had lost (\d+) job/);
    assert.is(Number(lost), JOBS - 1, 'only the slices not yet kept are added again');
    const v = worker(redis.url, 'V', 15);
    assert.is(await c.exit, 0, c.log());
    assertSameFit(out);
    assert.is(c.log().match(/examples \d+-\d+ from [WV]\b/g)!.length, JOBS, 'every slice kept once');
    assert.is(c.log().match(/examples \d+-\d+ from W\b/g)!.length, 1, 'W fitted one slice');
    await kill(v, 'SIGTERM');
  } finally { await redis.stop(); }
});

test('a worker that sees another store at the job\'s path fails its jobs with the reason shown at the coordinator; a healthy worker finishes, the fit equals one process\'s', async () => {
  // /proc/self/cwd/store is, in each process, the store under its own working folder: the
  // coordinator and the healthy worker see the fit's store, the poisoned worker a sweep of
  // other weights with the same masks, rows and file sizes (a stale copy on one machine's mount)
  const other = join(dir, 'other');
  runReference('resnet_reference.py', ['mini-resnet', other, '--width', '8', '--blocks', '2', '--n', String(N), '--seed', '9']);
  const poisonedCwd = join(dir, 'poisoned-cwd');
  mkdirSync(poisonedCwd);
  const r = coar(['sweep', '--arch', 'mini-resnet', '--weights', join(other, 'weights.safetensors'), '--inputs', join(other, 'inputs.npy'), '--labels', join(other, 'labels.npy'),
    '--masks', '96', '--alpha', '0.1', '--seed', '3', '--out', join(poisonedCwd, 'store'), '--quiet']);
  assert.is(r.code, 0, r.stderr);
  const redis = await startRedis();
  const out = join(dir, 'poisoned');
  try {
    const c = coordinator(out, redis.url, ['--attempts', '2'], '/proc/self/cwd/store', dir);
    await c.waitFor(/waiting for coar worker/);
    const p = worker(redis.url, 'P', 30, ['--fail-pause', '1'], poisonedCwd);
    await c.waitFor(/examples \d+-\d+ failed \(1, put back\): worker P: store \/proc\/self\/cwd\/store is not the coordinator's: manifestSha256 is "[0-9a-f]{64}" here, "[0-9a-f]{64}" at the coordinator/);
    const g = worker(redis.url, 'G', 6, [], dir);
    assert.is(await c.exit, 0, c.log());
    assert.not.match(c.log(), / from P/);
    assert.not.match(p.log(), /done in/);
    assertSameFit(out);
    // SIGTERM: leave now rather than after --idle-exit
    await Promise.all([kill(p, 'SIGTERM'), kill(g, 'SIGTERM')]);
  } finally { await redis.stop(); }
});

test('a worker joining late: the coordinator waits with its jobs on the queue and no worker, then one worker fits them all; the fit equals one process\'s', async () => {
  const redis = await startRedis();
  const out = join(dir, 'late-worker');
  const queue = new Queue(QUEUE_NAME, { connection: ioredisOptions(parseQueueUrl(redis.url)) });
  try {
    const c = coordinator(out, redis.url);
    await c.waitFor(/waiting for coar worker/);
    await sleep(3000);
    assert.is(c.proc.exitCode, null, 'the coordinator waits for a worker');
    assert.is((await queue.getJobCounts('waiting')).waiting, JOBS, 'every slice waits on the queue');
    const w = worker(redis.url, 'L');
    assert.is(await c.exit, 0, c.log());
    assert.not.match(c.log(), /Redis had lost|failed/);
    assertSameFit(out);
    await kill(w, 'SIGTERM');
    assert.match(w.log(), new RegExp(`worker: ${JOBS} jobs, 0 rows computed, ${N} examples fitted`));
  } finally { await queue.close(); await redis.stop(); }
});

test.run();
