/**
 * `coar <command>`: one module per command in ./commands. A UserError (bad file, flag or
 * shape) prints one line and exits 1; anything else is a bug and prints its stack.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { UserError } from '../errors.js';
import { commands } from './commands/index.js';

export async function main(argv: string[]): Promise<number> {
  let code = 0;
  const cli = yargs(argv)
    .scriptName('coar')
    .usage('$0 <command> [options]')
    .strict()
    .demandCommand(1, 'name a command: coar --help lists them')
    .recommendCommands()
    .wrap(Math.min(100, process.stdout.columns ?? 100))
    .fail((msg, err) => {
      if (err) throw err;
      throw new UserError(msg);
    });
  for (const c of commands) cli.command(c);
  try {
    await cli.parseAsync();
  } catch (e) {
    code = 1;
    if (e instanceof UserError) console.error(`coar: ${e.message}`);
    else console.error(e);
  }
  return code;
}

const code = await main(hideBin(process.argv));
// Dawn may keep handles open after the device is destroyed: leave explicitly, but only
// once stdout and stderr are flushed (writes to a pipe are asynchronous).
await Promise.all([process.stdout, process.stderr].map((s) => new Promise((resolve) => s.write('', resolve))));
process.exit(code);
