/**
 * `coar bench compare A.json B.json`: kernel-by-kernel time ratio B / A of two profile files
 * (`coar bench --profile --out`), as a table, and with --html as the roofline page of B
 * with A's kernels and ceilings beside it.
 */
import { basename } from 'node:path';
import type { CommandModule } from 'yargs';
import { compareProfiles, formatComparison } from '../../models/profile_compare.js';
import { readProfileFile } from '../../models/profile_file.js';
import { writeRooflinePage } from '../../report/roofline.js';

interface Args { a: string; b: string; html?: string; json?: boolean; quiet?: boolean }

export const benchCompare: CommandModule<{}, Args> = {
  command: 'compare <a> <b>',
  describe: 'time ratio B / A of every kernel of two profiles (coar bench --profile --out FILE)',
  builder: (y) => y
    .positional('a', { type: 'string', demandOption: true, describe: 'profile A (the baseline)' })
    .positional('b', { type: 'string', demandOption: true, describe: 'profile B' })
    .option('html', { type: 'string', describe: 'also write the roofline page of B with A beside it (self-contained HTML)' })
    .option('json', { type: 'boolean', describe: 'print the comparison as JSON' })
    .example('$0 bench --profile --masks 8 --out a.json && $0 bench --profile --masks 32 --out b.json && $0 bench compare a.json b.json --html cmp.html', 'how the batch size changes each kernel') as never,
  handler: (args) => {
    const a = readProfileFile(args.a), b = readProfileFile(args.b);
    const c = compareProfiles(a, b, { a: describe(args.a, a), b: describe(args.b, b) });
    if (args.html) {
      writeRooflinePage(args.html, { profile: b, name: args.b, compare: { base: a, comparison: c } });
      if (!args.json && !args.quiet) process.stderr.write(`roofline page with the comparison: ${args.html}\n`);
    }
    if (args.json) console.log(JSON.stringify(c, null, 1));
    else console.log(formatComparison(c));
  },
};

function describe(path: string, p: ReturnType<typeof readProfileFile>): string {
  return `${basename(path)}: ${p.arch} ${p.size}x${p.size}, ${p.masks} masks x ${p.examples} examples, ${p.precision}, ${p.adapter}`;
}
