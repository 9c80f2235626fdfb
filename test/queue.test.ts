/**
 * Sweeps on a Redis queue (issue 19): a coordinator (`coar sweep --queue`) and workers
 * (`coar worker`), each a real process, on a real redis-server started here on a free
 * loopback port. Whatever fails midway (a worker, the coordinator, Redis itself, a worker
 * with other weights), the finished store is byte for byte the store one `coar sweep`
 * process writes with the same seed; and one coordinator at a time holds a store.
 */
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Job, Queue } from 'bullmq';
import { readNpy } from '../src/io/npy.js';
import { decodeIndices, encodeIndices, jobTemplate, QUEUE_NAME, validateJob } from '../src/queue/job.js';
import { ioredisOptions, parseQueueUrl } from '../src/queue/url.js';
import { coar } from './support/cli.js';
import { runReference } from './support/python.js';
import { tempDir } from './support/tmp.js';
import { processes } from './support/processes.js';

const dir = tempDir('coar-queue-');
const ref = join(dir, 'ref');
runReference('resnet_reference.py', ['mini-resnet', ref, '--width', '8', '--blocks', '2', '--n', '6']);
const model = ['--arch', 'mini-resnet', '--weights', join(ref, 'weights.safetensors'), '--inputs', join(ref, 'inputs.npy'), '--labels', join(ref, 'labels.npy')];
const M = 96, CHUNK = 16;
const sweepArgs = (out: string, extra: string[] = []) => ['sweep', ...model, '--masks', String(M), '--alpha', '0.1', '--seed', '3', '--out', out, ...extra];
// short locks and polls, so that a dead worker's job is free again within seconds
const coordArgs = (out: string, url: string, extra: string[] = []) => sweepArgs(out, ['--queue', url, '--chunk', String(CHUNK), '--poll-ms', '300', ...extra]);
const workerArgs = (url: string, name: string, extra: string[] = []) => {
  const flags: Record<string, string> = { '--queue': url, '--name': name, '--lock-ms': '2000', '--stalled-ms': '1000', '--idle-exit': '4' };
  for (let i = 0; i < extra.length; i += 2) flags[extra[i]!] = extra[i + 1]!;
  return ['worker', ...Object.entries(flags).flat()];
};

const { startCoar, kill, startRedis, killAll } = processes(dir);
// a failed test leaves its processes: they would keep this one alive
test.after.each(killAll);

const FILES = ['masks.npy', 'examples_margins.npy', '_completed.npy'];
function assertSameStore(a: string, b: string): void {
  for (const f of FILES) assert.ok(readFileSync(join(a, f)).equals(readFileSync(join(b, f))), `${f} of ${a} differs from ${b}`);
}
const completedRows = (d: string) => (readNpy(join(d, '_completed.npy')).data as Uint8Array).reduce((a, b) => a + b, 0);

// the store one process writes: every queue store below must equal it byte for byte
const single = join(dir, 'single');
const base = coar([...sweepArgs(single), '--quiet']);
if (base.code !== 0) throw new Error(base.stderr);

test('URLs: host, port, database, user and percent-encoded password; rediss:// is TLS; the password is never shown', () => {
  assert.equal(ioredisOptions(parseQueueUrl('redis://10.0.0.5')), { host: '10.0.0.5', port: 6379, db: 0, maxRetriesPerRequest: null });
  const c = parseQueueUrl('rediss://coar:p%40ss%3Aw%2Fd@redis.example.org:6380/3');
  assert.equal(ioredisOptions(c), { host: 'redis.example.org', port: 6380, db: 3, maxRetriesPerRequest: null, username: 'coar', password: 'p@ss:w/d', tls: { servername: 'redis.example.org' } });
  assert.is(c.shown, 'rediss://coar:***@redis.example.org:6380/3');
  assert.equal(ioredisOptions(parseQueueUrl('redis://:secret@[::1]:7000')), { host: '::1', port: 7000, db: 0, maxRetriesPerRequest: null, password: 'secret' });
  for (const [bad, why] of [['http://h:1', /scheme http/], ['redis://h:99999', /not a URL|out of range/], ['redis://h/x', /database 'x'/], ['redis://:secret@h/1?tls=1', /query strings/], ['h:6379', /not a URL|scheme/]] as const) {
    assert.throws(() => parseQueueUrl(bad), (e: Error) => why.test(e.message) && !e.message.includes('secret'));
  }
});

test('a job is validated field by field: an altered parameter, an unknown field or a relative path is refused', () => {
  const manifest = JSON.parse(readFileSync(join(single, 'manifest.json'), 'utf8'));
  const job = { ...jobTemplate(manifest, CHUNK, 'f32'), first: 16, count: 16 };
  assert.equal(validateJob(JSON.parse(JSON.stringify(job))), job);
  assert.throws(() => validateJob({ ...job, seed: 4 }), /not the hash of the job's parameters/);
  assert.throws(() => validateJob({ ...job, code: 'process.exit()' }), /unknown field\(s\) code/);
  assert.throws(() => validateJob({ ...job, data: { ...job.data, inputs: '../x.npy' } }), /job\.data\.inputs/);
  assert.throws(() => validateJob({ ...job, count: CHUNK + 1 }), /job\.count/);
  assert.throws(() => validateJob({ ...job, first: M }), /job\.first/);
  assert.throws(() => validateJob({ ...job, model: { ...job.model, sha256: 'x' } }), /job\.model\.sha256/);
  const images = { source: 'imagefolder', path: '/data/val', listingSha256: 'a'.repeat(64), badImages: 'fail', preprocessing: { kind: 'torchvision', resize: 256, crop: 224, interpolation: 'bilinear', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } };
  const imageJob = { ...jobTemplate({ ...manifest, data: images }, CHUNK, 'f32'), first: 0, count: 16 };
  assert.equal(validateJob(JSON.parse(JSON.stringify(imageJob))), imageJob);
  assert.throws(() => validateJob({ ...imageJob, data: { ...images, preprocessing: { ...images.preprocessing, resize: '256' } } }), /job\.data\.preprocessing\.resize/);
  assert.throws(() => validateJob({ ...imageJob, data: { ...images, preprocessing: { ...images.preprocessing, mean: [0, 0] } } }), /job\.data\.preprocessing\.mean/);
  assert.equal(decodeIndices(encodeIndices([0, 1, 2, 3, 7, 9, 10])), [0, 1, 2, 3, 7, 9, 10]);
  assert.is(encodeIndices([0, 1, 2, 3, 7, 9, 10]), '0-3+7+9-10');
});

test('a worker SIGKILLed mid-job: its stalled job is taken by a worker that joins late; the store equals one process\'s', async () => {
  const redis = await startRedis();
  const out = join(dir, 'killed-worker');
  try {
    const c = startCoar(coordArgs(out, redis.url));
    await c.waitFor(/waiting for coar worker/);
    const a = startCoar(workerArgs(redis.url, 'A'));
    await a.waitFor(/rows \d+-\d+ done/);
    const [, first, last] = await a.waitFor(/rows \d+-\d+ done[^]*rows (\d+)-(\d+) started/);
    await kill(a);
    assert.not.match(a.log(), new RegExp(`rows ${first}-${last} done`));
    const b = startCoar(workerArgs(redis.url, 'B'));
    assert.is(await c.exit, 0, c.log());
    assert.match(c.log(), new RegExp(`rows ${first}-${last} from B`));
    assert.match(c.log(), /A [\d.]+ masks\/s, B [\d.]+ masks\/s/);
    assertSameStore(out, single);
    await b.exit;
  } finally { await redis.stop(); }
});

test('the coordinator SIGKILLed and restarted: only the missing rows are computed, once', async () => {
  const redis = await startRedis();
  const out = join(dir, 'killed-coordinator');
  try {
    const c1 = startCoar(coordArgs(out, redis.url));
    await c1.waitFor(/waiting for coar worker/);
    const w = startCoar(workerArgs(redis.url, 'W', ['--idle-exit', '8']));
    await c1.waitFor(/from W[^]*from W/);
    await kill(c1);
    const k = completedRows(out);
    assert.ok(k >= 2 * CHUNK && k < M, `${k} rows completed when the coordinator died`);
    const c2 = startCoar(coordArgs(out, redis.url));
    assert.is(await c2.exit, 0, c2.log());
    assert.match(c2.log(), new RegExp(`${k} already completed, ${M - k} to do`));
    assertSameStore(out, single);
    await w.exit;
    // every row computed exactly once over both coordinators
    assert.match(w.log(), new RegExp(`worker: ${M / CHUNK} jobs, ${M} rows computed`));
  } finally { await redis.stop(); }
});

test('Redis restarted mid-sweep (its jobs lost): the coordinator adds again what is missing', async () => {
  const redis = await startRedis();
  const out = join(dir, 'redis-restart');
  try {
    const c = startCoar(coordArgs(out, redis.url));
    await c.waitFor(/waiting for coar worker/);
    const w = startCoar(workerArgs(redis.url, 'W', ['--idle-exit', '10']));
    await c.waitFor(/from W/);
    await redis.restart();
    await c.waitFor(/Redis had lost \d+ job/);
    assert.is(await c.exit, 0, c.log());
    assertSameStore(out, single);
    await kill(w, 'SIGTERM');
  } finally { await redis.stop(); }
});

test('a worker with other weights fails its jobs with the reason shown at the coordinator; a healthy worker finishes the sweep', async () => {
  const other = join(dir, 'other');
  runReference('resnet_reference.py', ['mini-resnet', other, '--width', '8', '--blocks', '2', '--n', '6', '--seed', '9']);
  const poisoned = join(dir, 'poisoned-weights');
  mkdirSync(poisoned);
  copyFileSync(join(other, 'weights.safetensors'), join(poisoned, 'weights.safetensors'));
  const redis = await startRedis();
  const out = join(dir, 'poisoned');
  try {
    const c = startCoar(coordArgs(out, redis.url, ['--attempts', '2']));
    await c.waitFor(/waiting for coar worker/);
    const p = startCoar(workerArgs(redis.url, 'P', ['--weights-dir', poisoned, '--fail-pause', '0.3', '--idle-exit', '30']));
    await c.waitFor(/rows \d+-\d+ failed \(1, put back\): worker P: \S+weights\.safetensors has sha256 [0-9a-f]{12}…, the sweep's weights have [0-9a-f]{12}…/);
    // meanwhile the store is held: a second coordinator and a plain sweep are refused
    for (const args of [coordArgs(out, redis.url), sweepArgs(out)]) {
      const r = coar([...args, '--quiet']);
      assert.is(r.code, 1, r.stderr);
      assert.match(r.stderr, /is being written by coar sweep --queue \(pid \d+/);
    }
    const g = startCoar(workerArgs(redis.url, 'G'));
    assert.is(await c.exit, 0, c.log());
    assert.not.match(c.log(), / from P/);
    assert.not.match(p.log(), /done in/);
    assertSameStore(out, single);
    await kill(p, 'SIGTERM');
    await g.exit;
  } finally { await redis.stop(); }
});

test('float16 margins; SIGTERM finishes the job in hand; --max-jobs; a malformed job fails for good with the field named', async () => {
  const single16 = join(dir, 'single16');
  const r = coar([...sweepArgs(single16, ['--margins-dtype', 'f16']), '--quiet']);
  assert.is(r.code, 0, r.stderr);
  const redis = await startRedis();
  const out = join(dir, 'f16');
  const queue = new Queue(QUEUE_NAME, { connection: ioredisOptions(parseQueueUrl(redis.url)) });
  try {
    // not a webcoar job: the worker names the bad field and no worker retries it
    await queue.add('rows', { format: 'webcoar-rows-1', code: 'require("child_process")' }, { jobId: 'bad-1', attempts: 3 });
    const c = startCoar(coordArgs(out, redis.url, ['--margins-dtype', 'f16']));
    await c.waitFor(/waiting for coar worker/);
    const t = startCoar(workerArgs(redis.url, 'T'));
    const [, first, last] = await t.waitFor(/rows (\d+)-(\d+) started/);
    t.proc.kill('SIGTERM');
    assert.is(await t.exit, 0, t.log());
    assert.match(t.log(), new RegExp(`stopping after the current job[^]*rows ${first}-${last} done`));
    const u = startCoar(workerArgs(redis.url, 'U', ['--max-jobs', '2']));
    assert.is(await u.exit, 0, u.log());
    assert.match(u.log(), /worker: 2 jobs, 32 rows computed/);
    const v = startCoar(workerArgs(redis.url, 'V'));
    assert.is(await c.exit, 0, c.log());
    assert.match(c.log(), new RegExp(`rows ${first}-${last} from T`));
    assertSameStore(out, single16);
    assert.is(readNpy(join(out, 'examples_margins.npy')).dtype, 'f2');
    const bad = await Job.fromId(queue, 'bad-1');
    assert.is(await bad!.getState(), 'failed');
    assert.is(bad!.attemptsMade, 1);
    assert.match(bad!.failedReason, /invalid job: job has unknown field\(s\) code/);
    await v.exit;
  } finally { await queue.close(); await redis.stop(); }
});

test.run();
