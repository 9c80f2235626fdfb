/**
 * A store is never overwritten, no write or open hangs, and one writer holds a store at a
 * time (issue 22, items 0-2 and 5). The reference-layout stores here are written by numpy
 * the way the reference's sweep writes them, with margins from PyTorch zeroing real
 * weight rows; nothing in them comes from webcoar.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, constants, cpSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UserError } from '../src/errors.js';
import { writeFully } from '../src/io/files.js';
import { readNpy } from '../src/io/npy.js';
import { halvesToFloats } from '../src/io/f16.js';
import { coar } from './support/cli.js';
import { loadF32 } from './support/compare.js';
import { PYTHON, runReference } from './support/python.js';
import { tempDir } from './support/tmp.js';

const dir = tempDir();
const ref = join(dir, 'ref');
const net = ['mini-resnet', '--width', '8', '--blocks', '2', '--n', '6'];
runReference('resnet_reference.py', ['mini-resnet', ref, ...net.slice(1)]);
const model = ['--arch', 'mini-resnet', '--weights', join(ref, 'weights.safetensors'), '--inputs', join(ref, 'inputs.npy'), '--labels', join(ref, 'labels.npy')];
const M = 40, C = 40, K = 15;
const sweepArgs = (out: string, extra: string[] = []) => {
  // a flag in `extra` replaces the default
  const base: Record<string, string> = { '--masks': String(M), '--alpha': '0.1', '--seed': '3', '--out': out };
  for (let i = 0; i < extra.length; i++) if (extra[i]! in base) { base[extra[i]!] = extra[i + 1]!; extra = [...extra.slice(0, i), ...extra.slice(i + 2)]; i--; }
  return ['sweep', ...model, ...Object.entries(base).flat(), '--quiet', ...extra];
};
const digest = (d: string) => JSON.parse(runReference('store_reference.py', [d, readdirSync(d).find((f) => f.endsWith('_margins.npy'))!.replace('_margins.npy', '')])).digest as string;
const listing = (d: string) => readdirSync(d).sort().join(',');

// the reference's sweep, stopped after K of M rows: numpy masks, PyTorch margins, float16
const refMasks = join(dir, 'ref_masks.npy');
runReference('reference_layout_store.py', ['masks', refMasks, String(M), String(C), '0.1', '7']);
runReference('resnet_reference.py', ['mini-resnet', join(dir, 'refm'), ...net.slice(1), '--masks-from', refMasks]);
const referenceStore = (d: string, opts: { margins?: string; split?: string; completed?: number } = {}) => {
  runReference('reference_layout_store.py', ['store', d, refMasks, opts.margins ?? join(dir, 'refm', 'margins.npy'), String(opts.completed ?? K), opts.split ?? 'test', 'float16']);
  return d;
};

test('a reference-layout store is refused unless its margins file is named: nothing changes', () => {
  const s = referenceStore(join(dir, 'r1'));
  const before = digest(s), files = listing(s);
  const r = coar(sweepArgs(s));
  assert.is(r.code, 1);
  assert.match(r.stderr, /holds _completed\.npy, masks\.npy, test_margins\.npy without our manifest\.json: this sweep writes examples_margins\.npy; to resume the store add --split test/);
  assert.is(r.stderr.split('\n').filter((l) => l.trim()).length, 1);
  assert.is(digest(s), before);
  assert.is(listing(s), files);
});

test('a reference-layout store is adopted: its completed rows stay byte for byte, the rest are computed in float16, numpy and PyTorch agree', () => {
  const s = referenceStore(join(dir, 'r2'));
  const masksBefore = readNpy(join(s, 'masks.npy')).data as Uint8Array;
  const marginsBefore = readNpy(join(s, 'test_margins.npy')).data as Uint16Array;
  const r = coar(sweepArgs(s, ['--split', 'test']).filter((a) => a !== '--quiet'));
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`resuming the store there \\(${K} completed rows, float16 margins`));
  assert.match(r.stderr, new RegExp(`${K} already completed, ${M - K} to do`));
  const masks = readNpy(join(s, 'masks.npy'));
  const margins = readNpy(join(s, 'test_margins.npy'));
  assert.is(margins.dtype, 'f2');
  assert.equal([...(readNpy(join(s, '_completed.npy')).data as Uint8Array)], Array(M).fill(1));
  assert.equal([...(masks.data as Uint8Array).subarray(0, K * C)], [...masksBefore.subarray(0, K * C)]);
  assert.equal([...(margins.data as Uint16Array).subarray(0, K * 6)], [...marginsBefore.subarray(0, K * 6)]);
  // the new rows: PyTorch on the masks now in the store, to float16 precision
  runReference('resnet_reference.py', ['mini-resnet', join(dir, 'r2torch'), ...net.slice(1), '--masks-from', join(s, 'masks.npy')]);
  const torch = loadF32(join(dir, 'r2torch', 'margins.npy')).data;
  const ours = halvesToFloats(margins.data as Uint16Array);
  for (let i = K * 6; i < M * 6; i++) assert.ok(Math.abs(ours[i]! - torch[i]!) <= 1e-3 * Math.max(1, Math.abs(torch[i]!)) + 2e-3, `margin ${i}: ${ours[i]} vs ${torch[i]}`);
  const manifest = JSON.parse(readFileSync(join(s, 'manifest.json'), 'utf8'));
  assert.is(manifest.adopted.completedRows, K);
  assert.is(manifest.marginsDtype, 'f2');
  // resuming again computes nothing
  const again = coar(sweepArgs(s, ['--split', 'test']).filter((a) => a !== '--quiet'));
  assert.is(again.code, 0, again.stderr);
  assert.match(again.stderr, new RegExp(`${M} already completed, 0 to do`));
});

test('a partial reference-layout store fits as it is, and once adopted evaluates and reports', () => {
  const s = referenceStore(join(dir, 'r5'));
  let r = coar(['fit', s, '--method', 'ols']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`${K} of ${M} rows, ${C} components, examples 0-6 of 6 \\(test\\)`));
  assert.equal(readNpy(join(s, 'attributions.npy')).shape, [C, 6]);
  // adopted and extended to half of its rows: still partial, now with our manifest
  r = coar(sweepArgs(s, ['--split', 'test', '--shard', '0/2']));
  assert.is(r.code, 0, r.stderr);
  r = coar(['fit', s, '--method', 'ols']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`${M / 2} of ${M} rows`));
  r = coar(['eval', s, '--masks', '20', '--quiet']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /pearson mean/);
  r = coar(['report', s]);
  assert.is(r.code, 0, r.stderr);
  assert.ok(existsSync(join(s, 'report.html')));
});

test('a reference-layout store from other weights is refused after one recomputed row: nothing changes', () => {
  const other = join(dir, 'other');
  runReference('resnet_reference.py', ['mini-resnet', other, ...net.slice(1), '--seed', '9', '--masks-from', refMasks]);
  const s = referenceStore(join(dir, 'r3'), { margins: join(other, 'margins.npy') });
  const before = digest(s), files = listing(s);
  const r = coar(sweepArgs(s, ['--split', 'test']));
  assert.is(r.code, 1);
  assert.match(r.stderr, /its completed row 0 does not match this model on these examples .*nothing was changed/);
  assert.is(digest(s), before);
  assert.is(listing(s), files);
});

test('a reference-layout store of another shape, alpha or layout is refused naming what is there', () => {
  const s = referenceStore(join(dir, 'r4'));
  const before = digest(s);
  let r = coar(sweepArgs(s, ['--split', 'test', '--masks', '50']));
  assert.is(r.code, 1);
  assert.match(r.stderr, /it is 40 masks x 40 components x 6 examples, this sweep is 50 x 40 x 6/);
  r = coar(sweepArgs(s, ['--split', 'test', '--alpha', '0.3']));
  assert.is(r.code, 1);
  assert.match(r.stderr, /completed masks keep \d+\.\d\d% of components, alpha 0\.3 keeps 70\.00%/);
  r = coar(sweepArgs(s, ['--split', 'test', '--margins-dtype', 'f32']));
  assert.is(r.code, 1);
  assert.match(r.stderr, /float16 margins .*--margins-dtype asks for float32/);
  assert.is(digest(s), before);
  // margins without masks, and two margin files sharing one _completed.npy
  const lone = join(dir, 'lone');
  mkdirSync(lone);
  cpSync(join(s, 'test_margins.npy'), join(lone, 'test_margins.npy'));
  r = coar(sweepArgs(lone));
  assert.is(r.code, 1);
  assert.match(r.stderr, /holds test_margins\.npy without our manifest\.json: no masks\.npy/);
  assert.equal(readdirSync(lone), ['test_margins.npy']);
  const two = join(dir, 'two');
  cpSync(s, two, { recursive: true });
  cpSync(join(s, 'test_margins.npy'), join(two, 'train_margins.npy'));
  r = coar(sweepArgs(two, ['--split', 'test']));
  assert.is(r.code, 1);
  assert.match(r.stderr, /2 margin files share one _completed\.npy/);
});

test('our store with a hand-edited file is refused: truncated margins, a missing file, a FIFO', () => {
  const s = join(dir, 'ours');
  assert.is(coar(sweepArgs(s, ['--masks', '8'])).code, 0);
  const cut = join(dir, 'cut');
  cpSync(s, cut, { recursive: true });
  execFileSync('truncate', ['-s', '-10', join(cut, 'examples_margins.npy')]);
  let r = coar(sweepArgs(cut, ['--masks', '8']));
  assert.is(r.code, 1);
  assert.match(r.stderr, /examples_margins\.npy: truncated \.npy file/);
  const gone = join(dir, 'gone');
  cpSync(s, gone, { recursive: true });
  execFileSync('rm', [join(gone, 'masks.npy')]);
  r = coar(sweepArgs(gone, ['--masks', '8']));
  assert.is(r.code, 1);
  assert.match(r.stderr, /manifest\.json names a sweep but masks\.npy is missing/);
  const fifo = join(dir, 'fifo');
  cpSync(s, fifo, { recursive: true });
  execFileSync('rm', [join(fifo, 'masks.npy')]);
  execFileSync('mkfifo', [join(fifo, 'masks.npy')]);
  r = coar(sweepArgs(fifo, ['--masks', '8']), { timeoutMs: 60_000 });
  assert.is(r.code, 1, 'a FIFO must not block the sweep');
  assert.match(r.stderr, /masks\.npy is a FIFO, not a regular file/);
});

/** Set row `row`'s flag in DIR/_completed.npy with numpy, as a user editing the store would. */
const setFlag = (d: string, row: number, value: boolean) => execFileSync(PYTHON, ['-c',
  `import numpy as np; p='${join(d, '_completed.npy')}'; c=np.load(p); c[${row}]=${value ? 'True' : 'False'}; np.save(p, c)`]);

test('hand-edited completed flags: a row marked completed but never written is refused by sweep and fit; clearing its flag recomputes it byte-identically', () => {
  const whole = join(dir, 'flags-whole');
  assert.is(coar(sweepArgs(whole, ['--masks', '8'])).code, 0);
  const s = join(dir, 'flags');
  assert.is(coar(sweepArgs(s, ['--masks', '8', '--shard', '0/2'])).code, 0);
  setFlag(s, 6, true);
  let r = coar(sweepArgs(s, ['--masks', '8']));
  assert.is(r.code, 1, r.stderr);
  assert.match(r.stderr, /row 6 marked completed in _completed\.npy holds a mask other than the one this sweep's seed draws/);
  assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  r = coar(['fit', s, '--method', 'ols', '--out', join(dir, 'flags-fit')]);
  assert.is(r.code, 1, r.stderr);
  assert.match(r.stderr, /row 6 marked completed/);
  assert.not.ok(existsSync(join(dir, 'flags-fit')), 'a refused fit writes nothing');
  // the remedy the message names
  setFlag(s, 6, false);
  r = coar(sweepArgs(s, ['--masks', '8']));
  assert.is(r.code, 0, r.stderr);
  for (const f of ['masks.npy', 'examples_margins.npy', '_completed.npy']) {
    assert.ok(readFileSync(join(s, f)).equals(readFileSync(join(whole, f))), `${f} differs from an uninterrupted sweep`);
  }
  // a reference-layout store: its unwritten row 30 (zeros in masks and margins) marked completed
  const ref30 = referenceStore(join(dir, 'flags-ref'));
  setFlag(ref30, 30, true);
  r = coar(['fit', ref30, '--method', 'ols']);
  assert.is(r.code, 1, r.stderr);
  assert.match(r.stderr, /row 30 marked completed in _completed\.npy holds only zeros in masks\.npy and the margins \(never written\)/);
});

test('no hangs: a write that would block (EAGAIN, a full non-blocking FIFO) or a full device fails at once naming the path', () => {
  const fifo = join(dir, 'eagain.fifo');
  execFileSync('mkfifo', [fifo]);
  const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  const writer = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
  try {
    // 4 MiB into a pipe that holds 64 KiB and is never read: the kernel answers EAGAIN
    assert.throws(() => writeFully(writer, new Uint8Array(4 << 20), null, fifo), (e: Error) => e instanceof UserError && e.message === `cannot write ${fifo}: the file would block (EAGAIN): not a regular file`);
  } finally { closeSync(writer); closeSync(reader); }
  const full = openSync('/dev/full', 'w');
  try {
    assert.throws(() => writeFully(full, new Uint8Array(16), null, '/dev/full'), (e: Error) => e instanceof UserError && e.message === 'cannot write /dev/full: disk full');
  } finally { closeSync(full); }
});

// a C shim for LD_PRELOAD: writes to a file whose path contains ZERO_WRITE_MATCH accept
// nothing after the first ZERO_WRITE_ALLOW of them, as a broken network or FUSE file
// system may; everything else passes through to libc
const ZERO_WRITE_SHIM = `
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>
static int hits;
static int zero(int fd, size_t n) {
  const char *m = getenv("ZERO_WRITE_MATCH"), *a = getenv("ZERO_WRITE_ALLOW");
  char link[64], path[4096];
  if (!m || n == 0) return 0;
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t k = readlink(link, path, sizeof path - 1);
  if (k <= 0) return 0;
  path[k] = 0;
  if (!strstr(path, m)) return 0;
  return __atomic_add_fetch(&hits, 1, __ATOMIC_SEQ_CST) > (a ? atoi(a) : 0);
}
#define PASS(name, ret, params, args, n) \\
  ret name params { static ret (*real) params; if (!real) real = dlsym(RTLD_NEXT, #name); \\
    if (zero(fd, n)) return 0; return real args; }
PASS(write, ssize_t, (int fd, const void *b, size_t c), (fd, b, c), c)
PASS(pwrite, ssize_t, (int fd, const void *b, size_t c, off_t o), (fd, b, c, o), c)
PASS(pwrite64, ssize_t, (int fd, const void *b, size_t c, off_t o), (fd, b, c, o), c)
PASS(writev, ssize_t, (int fd, const struct iovec *v, int c), (fd, v, c), (c > 0 ? v[0].iov_len : 0))
PASS(pwritev, ssize_t, (int fd, const struct iovec *v, int c, off_t o), (fd, v, c, o), (c > 0 ? v[0].iov_len : 0))
PASS(pwritev64, ssize_t, (int fd, const struct iovec *v, int c, off_t o), (fd, v, c, o), (c > 0 ? v[0].iov_len : 0))
`;

test('no hangs: a file system that accepts 0 bytes of a write fails the sweep at once naming the file', () => {
  const src = join(dir, 'zero_write.c'), lib = join(dir, 'zero_write.so');
  writeFileSync(src, ZERO_WRITE_SHIM);
  execFileSync('gcc', ['-shared', '-fPIC', '-O1', '-o', lib, src, '-ldl']);
  const out = join(dir, 'zero');
  // the header of masks.npy is written, then every row write to it accepts 0 bytes
  const r = coar(sweepArgs(out), { timeoutMs: 120_000, env: { LD_PRELOAD: lib, ZERO_WRITE_MATCH: 'masks.npy', ZERO_WRITE_ALLOW: '1' } });
  assert.is(r.code, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`cannot write ${out}/masks\\.npy: the file system accepted 0 of \\d+ bytes`));
});

test('no hangs: /proc, /sys and /dev are refused before anything is opened', () => {
  for (const p of ['/proc/self/store', '/sys/kernel/store', '/dev/shm/../store']) {
    const r = coar(sweepArgs(p), { timeoutMs: 60_000 });
    assert.is(r.code, 1, `${p}: ${r.stderr}`);
    assert.match(r.stderr, /cannot hold a store; choose a folder on a disk/);
  }
});

test('no hangs: a read-only file system and a file-size limit fail with the path and the reason', () => {
  const ro = join(dir, 'ro');
  mkdirSync(ro);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,ro', 'tmpfs', ro]);
  try {
    const r = coar(sweepArgs(join(ro, 'store')), { timeoutMs: 60_000 });
    assert.is(r.code, 1);
    assert.match(r.stderr, /ro\/store: read-only file system/);
  } finally { execFileSync('umount', [ro]); }
  // ulimit -f: the kernel refuses writes past 16 kB (EFBIG), the sweep names the file
  const out = join(dir, 'fsize');
  const r = spawnSync('bash', ['-c', `ulimit -f 16; exec "${process.execPath}" "${join(import.meta.dirname ?? 'test', '..', 'bin', 'coar.js')}" "$@"`, 'coar', ...sweepArgs(out, ['--masks', '2000'])], { encoding: 'utf8', timeout: 120_000 });
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, /cannot write .*fsize\/.*: file too large for this file system or the process limit/);
  assert.not.ok(existsSync(join(out, 'manifest.json')));
});

test('one writer per store: a second sweep is refused naming the holder; a stale lock is taken over; fit reads completed rows and says so', async () => {
  const s = join(dir, 'locked');
  const bin = join(import.meta.dirname ?? 'test', '..', 'bin', 'coar.js');
  const child = spawn(process.execPath, [bin, ...sweepArgs(s, ['--masks', '4000', '--chunk', '8'])], { stdio: 'ignore' });
  const t0 = Date.now();
  while (Date.now() - t0 < 120_000) {
    await new Promise((r) => setTimeout(r, 100));
    if (existsSync(join(s, 'manifest.json')) && (readNpy(join(s, '_completed.npy')).data as Uint8Array).some((v) => v)) break;
  }
  try {
    const r = coar(sweepArgs(s, ['--masks', '4000']));
    assert.is(r.code, 1);
    assert.match(r.stderr, new RegExp(`is being written by coar sweep \\(pid ${child.pid} on ${hostname()}, since .*\\); wait for it to finish or stop it`));
    const m = coar(['merge', s, s]);
    assert.is(m.code, 1);
    assert.match(m.stderr, /is being written by coar sweep/);
    const f = coar(['fit', s, '--method', 'ols', '--out', join(dir, 'lockedfit')]);
    assert.is(f.code, 0, f.stderr);
    assert.match(f.stderr, /still being written by coar sweep .*: using its \d+ completed rows/);
  } finally {
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
  }
  // the killed writer's lock is stale: the next sweep takes it over and resumes
  assert.ok(existsSync(join(s, '.coar-lock')));
  const r = coar(sweepArgs(s, ['--masks', '4000']).filter((a) => a !== '--quiet'), { timeoutMs: 20 * 60_000 });
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, /already completed/);
  assert.not.ok(existsSync(join(s, '.coar-lock')));
  // a lock held by another host cannot be checked from here: refused with how to clear it
  writeFileSync(join(s, '.coar-lock'), JSON.stringify({ host: 'elsewhere', pid: 1, command: 'coar sweep', since: 'then' }));
  const o = coar(sweepArgs(s, ['--masks', '4000']));
  assert.is(o.code, 1);
  assert.match(o.stderr, /pid 1 on elsewhere.*if that process is gone, delete .*\.coar-lock/);
});

test('SIGKILL at random points of a sweep, three times, then resumed: byte-identical to an uninterrupted sweep; a killed fit leaves nothing partial', async () => {
  const bin = join(import.meta.dirname ?? 'test', '..', 'bin', 'coar.js');
  const whole = join(dir, 'whole'), killed = join(dir, 'killed3');
  const args = (out: string) => sweepArgs(out, ['--masks', '1200', '--chunk', '8']);
  const t0 = Date.now();
  assert.is(coar(args(whole)).code, 0);
  // kill times from the uninterrupted sweep's own duration: three runs of at most a quarter of it each
  // cannot finish it, on a fast machine or a loaded one
  const wholeMs = Date.now() - t0;
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  // start, wait a random time, SIGKILL; the exit promise is made at spawn so a child that ends first is seen
  const killAfter = async (argv: string[], ms: number) => {
    const child = spawn(process.execPath, [bin, ...argv], { stdio: 'ignore' });
    const exited = new Promise((r) => child.on('exit', r));
    await Promise.race([exited, new Promise((r) => setTimeout(r, ms))]);
    child.kill('SIGKILL');
    await exited;
  };
  const done = () => existsSync(join(killed, '_completed.npy')) ? (readNpy(join(killed, '_completed.npy')).data as Uint8Array).reduce((a, b) => a + b, 0) : 0;
  const seen: number[] = [];
  for (let k = 0; k < 3; k++) {
    await killAfter(args(killed), wholeMs * (0.15 + 0.1 * rand()));
    seen.push(done());
  }
  assert.ok(seen[2]! < 1200, `the kills landed mid-sweep (${seen.join(', ')} rows completed)`);
  const r = coar(args(killed));
  assert.is(r.code, 0, r.stderr);
  for (const f of ['masks.npy', 'examples_margins.npy', '_completed.npy']) execFileSync('cmp', [join(whole, f), join(killed, f)]);
  // the fit: killed early; whatever it left under the output names is whole; run again, equal to an uninterrupted fit
  assert.is(coar(['fit', whole, '--method', 'ridge', '--quiet']).code, 0);
  await killAfter(['fit', killed, '--method', 'ridge', '--quiet'], 1000 + rand() * 2000);
  for (const f of ['attributions.npy', 'bias.npy']) if (existsSync(join(killed, f))) execFileSync('cmp', [join(whole, f), join(killed, f)]);
  assert.is(coar(['fit', killed, '--method', 'ridge', '--quiet']).code, 0);
  for (const f of ['attributions.npy', 'bias.npy']) execFileSync('cmp', [join(whole, f), join(killed, f)]);
});

test('SIGKILL at random points of a merge, three times, then resumed: byte-identical to an uninterrupted merge', async () => {
  const bin = join(import.meta.dirname ?? 'test', '..', 'bin', 'coar.js');
  const shards = join(dir, 'bigshards');
  mkdirSync(shards);
  runReference('synthetic_shards.py', [shards, '10000', '4000', '1000', '2']);
  const parts = [join(shards, 'shard0'), join(shards, 'shard1')];
  const t0 = Date.now();
  assert.is(coar(['merge', join(shards, 'whole'), ...parts]).code, 0);
  const took = Date.now() - t0;
  let seed = 777;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const out = join(shards, 'killed');
  for (let k = 0; k < 3; k++) {
    const child = spawn(process.execPath, [bin, 'merge', out, ...parts], { stdio: 'ignore' });
    const exited = new Promise((r) => child.on('exit', r));
    await Promise.race([exited, new Promise((r) => setTimeout(r, (0.2 + 0.6 * rand()) * took))]);
    child.kill('SIGKILL');
    await exited;
  }
  const r = coar(['merge', out, ...parts]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, /has 10000\/10000 rows completed/);
  for (const f of ['masks.npy', 'examples_margins.npy', '_completed.npy']) execFileSync('cmp', [join(shards, 'whole', f), join(out, f)]);
  execFileSync('rm', ['-rf', shards]);
});

test.run();
