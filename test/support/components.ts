/** `coar components --json` against the names and order the PyTorch reference wrote. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { coar } from './cli.js';

/** `args`: the model flags (--arch, --weights, ...); `refDir`: holds the reference's components.json. */
export function assertComponentTable(args: string[], refDir: string, count: number): void {
  const r = coar(['components', ...args, '--json']);
  assert.is(r.code, 0, r.stderr);
  const ours = JSON.parse(r.stdout) as { index: number; name: string }[];
  const ref = JSON.parse(readFileSync(join(refDir, 'components.json'), 'utf8')) as { names: string[] };
  assert.is(ours.length, count);
  assert.is(ref.names.length, count);
  assert.equal(ours.map((x) => x.name), ref.names);
  assert.equal(ours.map((x) => x.index), ref.names.map((_, i) => i));
}
