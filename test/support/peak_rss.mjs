// Preloaded into a `coar` child (node --import) by test/support/cli.ts: at exit, write the
// process's peak resident set size in KiB (getrusage's ru_maxrss) to the file it names.
import { writeFileSync } from 'node:fs';

const file = process.env.COAR_TEST_PEAK_RSS_FILE;
if (file) process.on('exit', () => writeFileSync(file, String(process.resourceUsage().maxRSS)));
