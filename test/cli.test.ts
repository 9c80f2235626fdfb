/**
 * The command line a user meets: an unknown flag is an error naming the closest valid one
 * (issue 20, item 2); Dawn's and the driver's own notices only with --verbose (item 1).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { coar } from './support/cli.js';

test('an unknown flag names the closest valid one, per command', () => {
  let r = coar(['fit', 'store', '--metod', 'ols']);
  assert.is(r.code, 1);
  assert.is(r.stderr, 'coar: unknown option --metod: did you mean --method? (coar <command> --help lists the options)');
  r = coar(['sweep', '--arch', 'x', '--weights', 'y', '--masks', '3', '--out', 'z', '--margins-dtyp', 'f16']);
  assert.is(r.code, 1);
  assert.match(r.stderr, /--margins-dtyp: did you mean --margins-dtype\?/);
});

test('a flag far from every valid one is named without a guess', () => {
  const r = coar(['info', '--zzzzzzzz']);
  assert.is(r.code, 1);
  assert.is(r.stderr, 'coar: unknown option --zzzzzzzz (coar <command> --help lists the options)');
});

test('Dawn\'s notices from C++ are kept off stderr unless --verbose; stdout is untouched', () => {
  const quiet = coar(['info']);
  assert.is(quiet.code, 0, quiet.stderr);
  assert.is(quiet.stderr, '', 'a default run shows no Dawn notice');
  assert.match(quiet.stdout, /^adapter /);
  const loud = coar(['info', '--verbose']);
  assert.is(loud.code, 0, loud.stderr);
  assert.is(loud.stdout, quiet.stdout);
  // lavapipe reports unbounded dynamic-offset limits, which Dawn announces it clamps
  if (/llvmpipe/.test(quiet.stdout)) assert.match(loud.stderr, /artificially reduced/);
  else console.log('  (not lavapipe: this adapter may print no notice to show)');
});

test.run();
