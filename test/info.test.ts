/** `coar info` names the adapter; with no adapter at all, one message says what to install. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { coar } from './support/cli.js';

test('coar info prints the adapter, backend, features and limits', () => {
  const r = coar(['info']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /^adapter\s+\S+/m);
  assert.match(r.stdout, /^backend\s+vulkan/m);
  assert.match(r.stdout, /^features\s+.*/m);
  assert.match(r.stdout, /maxStorageBufferBindingSize\s+\d+/);
});

test('coar info --json is machine-readable', () => {
  const r = coar(['info', '--json']);
  assert.is(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.type(j.adapter, 'string');
  assert.ok(j.limits.maxComputeInvocationsPerWorkgroup >= 256);
});

test('with no Vulkan driver there is one clear message saying what to install, and exit 1', () => {
  const r = coar(['info'], { env: { VK_ICD_FILENAMES: '/nonexistent-icd.json', VK_DRIVER_FILES: '/nonexistent-icd.json' } });
  assert.is(r.code, 1);
  const ours = r.stderr.split('\n').filter((l) => l.startsWith('coar: '));
  assert.is(ours.length, 1, r.stderr);
  assert.match(ours[0]!, /no WebGPU adapter found/);
  assert.match(ours[0]!, /scripts\/setup\.sh/);
  assert.match(ours[0]!, /mesa-vulkan-drivers/);
});

test('an unknown command is refused with a hint', () => {
  const r = coar(['ablat']);
  assert.is(r.code, 1);
  assert.match(r.stderr, /coar: /);
});

test.run();
