/**
 * A `coar worker`'s fit process (bin/fit-server.js): one per fit, kept between the fit's jobs,
 * replaced by a job of another fit, and a crash of it fails only the job in hand, whose next
 * try gets a fresh process. Each fit is on a real redis-server started here, and each equals
 * one `coar fit` process's to 1e-6 relative (numpy compares the files).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { coar } from './support/cli.js';
import { npyRelDiff } from './support/npy_compare.js';
import { processes } from './support/processes.js';
import { runReference } from './support/python.js';
import { tempDir } from './support/tmp.js';

const dir = tempDir('coar-fit-server-');
const ref = join(dir, 'ref');
const N = 8;
runReference('resnet_reference.py', ['mini-resnet', ref, '--width', '8', '--blocks', '2', '--n', String(N)]);
const store = join(dir, 'store');
const swept = coar(['sweep', '--arch', 'mini-resnet', '--weights', join(ref, 'weights.safetensors'), '--inputs', join(ref, 'inputs.npy'), '--labels', join(ref, 'labels.npy'),
  '--masks', '96', '--alpha', '0.1', '--seed', '3', '--out', store, '--quiet']);
if (swept.code !== 0) throw new Error(swept.stderr);
const single = join(dir, 'single');
const fitted = coar(['fit', store, '--out', single, '--quiet']);
if (fitted.code !== 0) throw new Error(fitted.stderr);

const { startCoar, kill, startRedis, killAll } = processes(dir);
test.after.each(killAll);

const coordinator = (out: string, url: string, perJob: number) =>
  startCoar(['fit', store, '--out', out, '--queue', url, '--examples-per-job', String(perJob), '--poll-ms', '300']);
const FILES = ['attributions.npy', 'bias.npy', 'lambda.npy'];
function assertSameFit(out: string): void {
  const d = npyRelDiff(out, single, FILES);
  for (const f of FILES) assert.ok(d[f]!.same && d[f]!.rel !== null && d[f]!.rel! <= 1e-6, `${f}: ${JSON.stringify(d[f])}`);
}
/** pids of the fit processes whose parent is `pid` (not tsx's esbuild; ps exits 1 when there are none) */
function childrenOf(pid: number): number[] {
  let out = '';
  try { out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(pid)], { encoding: 'utf8' }); } catch { return []; }
  return out.split('\n').filter((l) => l.includes('fit-server.js')).map((l) => Number(l.trim().split(/\s+/)[0]));
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every child pid the worker has while `until` is pending, polled. */
async function watchChildren(pid: number, until: Promise<unknown>): Promise<Set<number>> {
  const seen = new Set<number>();
  let done = false;
  void until.finally(() => { done = true; });
  while (!done) { for (const k of childrenOf(pid)) seen.add(k); await sleep(30); }
  return seen;
}

test('one fit process serves every job of a fit; a job of another fit replaces it; both fits equal one process\'s', async () => {
  const redis = await startRedis();
  try {
    const w = startCoar(['worker', '--queue', redis.url, '--name', 'W', '--idle-exit', '30']);
    await w.waitFor(/taking jobs/);
    const c1 = coordinator(join(dir, 'fit-a'), redis.url, 2);
    const first = await watchChildren(w.proc.pid!, c1.exit);
    assert.is(await c1.exit, 0, c1.log());
    assert.is(w.log().match(/examples \d+-\d+ done/g)?.length, 4);
    assert.is(first.size, 1, `one fit process for the 4 jobs of a fit, saw ${[...first]}`);
    assertSameFit(join(dir, 'fit-a'));
    // --examples-per-job is part of the fit's identity: another fit
    const c2 = coordinator(join(dir, 'fit-b'), redis.url, 4);
    const second = await watchChildren(w.proc.pid!, c2.exit);
    assert.is(await c2.exit, 0, c2.log());
    assert.is([...second].filter((p) => !first.has(p)).length, 1, `a new fit process for the other fit: ${[...first]} then ${[...second]}`);
    assert.not.ok([...first].some((p) => childrenOf(w.proc.pid!).includes(p)), 'the first fit\'s process is gone');
    assertSameFit(join(dir, 'fit-b'));
    await kill(w, 'SIGTERM');
    assert.match(w.log(), /worker: 6 jobs, 0 rows computed, 16 examples fitted/);
  } finally { await redis.stop(); }
});

test('the fit process killed mid-job: that job fails with the reason, its next try gets a fresh process, the fit equals one process\'s', async () => {
  const redis = await startRedis();
  const out = join(dir, 'crashed');
  try {
    const w = startCoar(['worker', '--queue', redis.url, '--name', 'W', '--idle-exit', '30']);
    await w.waitFor(/taking jobs/);
    const c = coordinator(out, redis.url, 2);
    await w.waitFor(/examples \d+-\d+ done/);
    const [crashed] = childrenOf(w.proc.pid!);
    assert.ok(crashed, 'the fit process stays after its first job');
    // stopped, it holds the next job until it is killed: the kill lands mid-job
    process.kill(crashed!, 'SIGSTOP');
    // a job it finished just before it stopped may still have its result in the pipe: let that arrive
    // first, so the job held is the one started with no result after it
    await sleep(500);
    const [, a, b] = await w.waitFor(/examples (\d+)-(\d+) started\n(?![\s\S]*done)/);
    await sleep(300);
    process.kill(crashed!, 'SIGKILL');
    await w.waitFor(new RegExp(`examples ${a}-${b} failed: worker W: the fit process of examples ${a}-${b} exited SIGKILL`));
    assert.is(await c.exit, 0, c.log());
    assert.match(c.log(), new RegExp(`examples ${a}-${b} from W`));
    assertSameFit(out);
    const after = childrenOf(w.proc.pid!);
    assert.is(after.length, 1, 'one fit process after the crash');
    assert.is.not(after[0], crashed, 'a fresh one');
    await kill(w, 'SIGTERM');
    assert.match(w.log(), /worker: 4 jobs, 0 rows computed, 8 examples fitted/);
  } finally { await redis.stop(); }
});

test('fits with a given lambda keep the design (Gram, Cholesky factor) between slices: attributions and bias byte-identical (cmp) to one coar fit process\'s', async () => {
  const redis = await startRedis();
  try {
    const w = startCoar(['worker', '--queue', redis.url, '--name', 'W', '--idle-exit', '30']);
    await w.waitFor(/taking jobs/);
    for (const [name, flags] of [['gram', ['--lambda', '10', '--solver', 'gram']], ['cholesky', ['--lambda', '10', '--solver', 'cholesky']], ['lasso', ['--method', 'lasso', '--lambda', '0.01']]] as const) {
      const one = join(dir, `${name}-single`), queued = join(dir, `${name}-queued`);
      const r = coar(['fit', store, '--out', one, '--quiet', ...flags]);
      assert.is(r.code, 0, r.stderr);
      const c = startCoar(['fit', store, '--out', queued, '--queue', redis.url, '--examples-per-job', '2', '--poll-ms', '300', ...flags]);
      assert.is(await c.exit, 0, c.log());
      for (const f of ['attributions.npy', 'bias.npy']) execFileSync('cmp', [join(one, f), join(queued, f)]);
      const d = npyRelDiff(queued, one, ['attributions.npy']);
      assert.ok(d['attributions.npy']!.same && d['attributions.npy']!.rel === 0, `${name}: ${JSON.stringify(d)}`);
    }
    await kill(w, 'SIGTERM');
    assert.match(w.log(), /worker: 12 jobs, 0 rows computed, 24 examples fitted/);
  } finally { await redis.stop(); }
});

test.run();
