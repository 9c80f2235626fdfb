/** Run the `coar` CLI as a user would: a separate process, exit code and both streams. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const BIN = join(HERE, '..', '..', 'bin', 'coar.js');

export interface CliResult {
  code: number; stdout: string; stderr: string;
  /** with `peakRss`: the child's peak resident set size in MiB */
  peakRssMiB?: number;
}

export function coar(args: string[], opts: { timeoutMs?: number; env?: Record<string, string>; peakRss?: boolean } = {}): CliResult {
  const env: Record<string, string | undefined> = { ...process.env, ...opts.env };
  const nodeArgs: string[] = [];
  let rssDir: string | undefined;
  if (opts.peakRss) {
    rssDir = mkdtempSync(join(tmpdir(), 'coar-rss-'));
    env.COAR_TEST_PEAK_RSS_FILE = join(rssDir, 'kib');
    nodeArgs.push('--import', pathToFileURL(join(HERE, 'peak_rss.mjs')).href);
  }
  const r = spawnSync(process.execPath, [...nodeArgs, BIN, ...args], {
    encoding: 'utf8', timeout: opts.timeoutMs ?? 30 * 60_000, maxBuffer: 1 << 28, env,
  });
  // stderr as the user sees it: coar itself keeps Dawn's notices off it (src/gpu/native_log.ts)
  const stderr = (r.stderr ?? '').trim();
  const out: CliResult = { code: r.status ?? -1, stdout: r.stdout ?? '', stderr };
  if (rssDir) {
    try { out.peakRssMiB = Number(readFileSync(join(rssDir, 'kib'), 'utf8')) / 1024; } finally { rmSync(rssDir, { recursive: true, force: true }); }
  }
  return out;
}
