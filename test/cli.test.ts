/** The command line a user meets: an unknown flag is an error naming the closest valid one (issue 20, item 2). */
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

test.run();
