/**
 * Every command's --help shows an example (issue 20.2), and every example uses only
 * options the command lists and gives its required ones, so it can run as written.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { commands } from '../src/cli/commands/index.js';
import { EXAMPLES } from '../src/cli/examples.js';
import { coar } from './support/cli.js';

const names = commands.map((c) => String(c.command).split(' ')[0]!);

/** Option names and required ones, as `--help` lists them. */
function options(help: string): { all: Set<string>; required: string[] } {
  const all = new Set<string>(), required: string[] = [];
  let current: string | undefined;
  for (const line of help.split('\n')) {
    // an entry starts 2 spaces in (an option or a positional); its continuation lines are indented further
    if (/^\s{2}\S/.test(line)) {
      current = /^\s{2}--([\w-]+)/.exec(line)?.[1];
      if (current) all.add(current);
    }
    if (current && line.includes('[required]') && !required.includes(current)) required.push(current);
  }
  return { all, required };
}

test('coar --help shows examples', () => {
  const r = coar(['--help']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /\nExamples:\n\s+coar run\s/);
});

test('every command has an example in the table', () => {
  for (const n of names) assert.ok((EXAMPLES[n]?.length ?? 0) > 0 || n === 'convert', `${n} has an example`);
});

for (const [name, args] of [...names.map((n) => [n, [n]] as const), ['bench compare', ['bench', 'compare']] as const]) {
  test(`coar ${name} --help shows an example that uses only its options and gives the required ones`, () => {
    const r = coar([...args, '--help']);
    assert.is(r.code, 0, r.stderr);
    const at = r.stdout.indexOf('\nExamples:\n');
    assert.ok(at >= 0, `coar ${name} --help has no Examples section:\n${r.stdout}`);
    const shown = r.stdout.slice(at).split('\n').filter((l) => new RegExp(`^\\s+coar ${args[0]}\\b`).test(l));
    assert.ok(shown.length > 0, `an example line starts with coar ${args[0]}`);
    const { all, required } = options(r.stdout);
    const examples = name === 'bench compare' ? [] : (EXAMPLES[name] ?? []);
    for (const [cmd] of examples) {
      assert.ok(cmd.startsWith(`$0 ${name}`), cmd);
      const flags = [...cmd.matchAll(/(?:^|\s)--([\w-]+)/g)].map((m) => m[1]!);
      for (const f of flags) assert.ok(all.has(f), `coar ${name}: example flag --${f} is not an option (${[...all].join(', ')})`);
      // `coar run` and `bench` need none; their required options come with alternatives that the handler checks
      for (const q of required) assert.ok(flags.includes(q), `coar ${name}: the example lacks the required --${q}: ${cmd}`);
    }
  });
}

test.run();
