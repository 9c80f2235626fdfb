/** Debian's chromium, headless, for checking pages as a browser renders them from disk. */
import { spawnSync } from 'node:child_process';

export const CHROMIUM = '/usr/bin/chromium';

/** Run headless chromium with a profile folder of its own (no network, no first-run work). */
export function chromium(args: string[], profile: string) {
  return spawnSync(CHROMIUM, [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    `--user-data-dir=${profile}`, ...args,
  ], { encoding: 'utf8', timeout: 180_000, maxBuffer: 64 << 20 });
}
