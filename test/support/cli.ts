/** Run the `coar` CLI as a user would: a separate process, exit code and both streams. */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'coar.js');

export interface CliResult { code: number; stdout: string; stderr: string }

export function coar(args: string[], timeoutMs = 30 * 60_000): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 1 << 28 });
  // Dawn's adapter warnings are noise for a test
  const stderr = (r.stderr ?? '').split('\n').filter((l) => !l.startsWith('Warning: maxDynamic')).join('\n').trim();
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr };
}
