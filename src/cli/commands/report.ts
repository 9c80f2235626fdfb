/** `coar report STORE`: the HTML report of a swept, fitted and evaluated store (src/report/store_report.ts). */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CommandModule } from 'yargs';
import { blockBytesFor } from '../../coar/score.js';
import { check, UserError } from '../../errors.js';
import { writeStoreReport } from '../../report/store_report.js';

interface ReportArgs { store: string; results?: string; out?: string; title?: string; memory?: number }

export const report: CommandModule<{}, ReportArgs> = {
  command: 'report <store>',
  describe: 'write the HTML report of a swept, fitted and evaluated store (no model runs, no weights or images read)',
  builder: (y) => y
    .positional('store', { type: 'string', demandOption: true, describe: 'a sweep store (with manifest.json)' })
    .option('results', { type: 'string', describe: 'folder with attributions.npy, bias.npy, fit.json, eval.json (default: the store)' })
    .option('out', { type: 'string', describe: 'the HTML file (default: <results>/report.html)' })
    .option('title', { type: 'string', describe: 'page title' })
    .option('memory', { type: 'number', describe: 'bound in GB on the attribution rows read at a time (attributions.npy is read once, by blocks of rows; default: 32 MB blocks)' }) as any,
  handler: async (args) => {
    check(args.memory === undefined || args.memory > 0, () => `--memory must be > 0 GB, got ${args.memory}`);
    const results = args.results ?? args.store;
    if (!existsSync(join(results, 'attributions.npy'))) throw new UserError(`${results} has no attributions.npy: run coar fit ${args.store} first`);
    const path = writeStoreReport(args.store, resolve(args.out ?? join(results, 'report.html')), { results, title: args.title, blockBytes: args.memory === undefined ? undefined : blockBytesFor(args.memory * 2 ** 30) });
    console.log(`report: ${path}`);
  },
};
