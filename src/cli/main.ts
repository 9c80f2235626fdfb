/**
 * `coar <command>`: one module per command in ./commands. A UserError (bad file, flag or
 * shape) or a failed GPU (gpu/failure.ts) prints one line and exits 1; anything else is a bug and prints its stack.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { UserError } from '../errors.js';
import { GpuFailure } from '../gpu/failure.js';
import { commands } from './commands/index.js';

/** Edit distance, for naming the flag a user meant. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const t = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = t;
    }
  }
  return d[b.length]!;
}

/** "Unknown argument: masksx" becomes "... (did you mean --masks?)" when a flag is close. */
function withSuggestion(msg: string, cli: unknown): string {
  const y = cli as { getOptions?(): { key: Record<string, unknown> } } | undefined;
  const m = /^Unknown arguments?: (.+)$/.exec(msg);
  if (!m || !y?.getOptions) return msg;
  const known = Object.keys(y.getOptions().key).filter((k) => k.length > 1 && k !== '$0');
  const hints = m[1]!.split(', ').map((bad) => {
    const best = known.map((k) => [k, distance(bad, k)] as const).sort((a, b) => a[1] - b[1])[0];
    return best && best[1] <= Math.max(2, Math.floor(bad.length / 3)) ? `--${bad}: did you mean --${best[0]}?` : `--${bad}`;
  });
  return `unknown option ${hints.join('; ')} (coar <command> --help lists the options)`;
}

export async function main(argv: string[]): Promise<number> {
  let code = 0;
  const cli = yargs(argv)
    .scriptName('coar')
    .usage('$0 <command> [options]')
    .strict()
    .demandCommand(1, 'name a command: coar --help lists them')
    .recommendCommands()
    .option('verbose', { type: 'boolean', global: true, describe: 'also solver iterations, tuning details and Dawn\'s own notices' })
    .option('quiet', { type: 'boolean', global: true, describe: 'only results and errors' })
    .example('$0 run', 'the main job: attributions of the bundled CNN on 32 Fashion-MNIST images, out/run-cnn/report.html')
    .example('$0 <command> --help', 'a command\'s options, defaults and an example')
    .wrap(Math.min(100, process.stdout.columns ?? 100))
    .fail((msg, err) => {
      if (err) throw err;
      throw new UserError(withSuggestion(msg, cli));
    });
  for (const c of commands) cli.command(c);
  try {
    await cli.parseAsync();
  } catch (e) {
    code = 1;
    // a GPU error is the device's own message: its stack (a read back) says nothing more
    if (e instanceof UserError || e instanceof GpuFailure) console.error(`coar: ${e.message}`);
    else console.error(e);
  }
  return code;
}

const code = await main(hideBin(process.argv));
// Dawn may keep handles open after the device is destroyed: leave explicitly, but only
// once stdout and stderr are flushed (writes to a pipe are asynchronous).
await Promise.all([process.stdout, process.stderr].map((s) => new Promise((resolve) => s.write('', resolve))));
process.exit(code);
