/** Run the `coar` CLI as a user would: a separate process, exit code and both streams. */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'coar.js');

export interface CliResult { code: number; stdout: string; stderr: string }

export function coar(args: string[], opts: { timeoutMs?: number; env?: Record<string, string> } = {}): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8', timeout: opts.timeoutMs ?? 30 * 60_000, maxBuffer: 1 << 28, env: { ...process.env, ...opts.env },
  });
  // Dawn's adapter warnings are noise for a test
  const stderr = (r.stderr ?? '').split('\n').filter((l) => !/^Warning: maxDynamic/.test(l)).join('\n').trim();
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr };
}
