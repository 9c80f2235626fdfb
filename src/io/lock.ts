/**
 * One writer per store: a lock file `.coar-lock` in the store folder holding the writer's
 * host, pid, command and start time, created exclusively. A lock whose process is gone
 * (same host, no such pid) is stale and is taken over; a lock from another host cannot be
 * checked from here, so it is reported with how to remove it.
 */
import { readFileSync, renameSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { writeFileAtomic } from './atomic.js';

export const LOCK_FILE = '.coar-lock';
/** held by a fit while it writes attributions into a folder */
export const FIT_LOCK_FILE = '.coar-fit-lock';

export interface LockHolder { host: string; pid: number; command: string; since: string }

function alive(h: LockHolder): boolean | undefined {
  if (h.host !== hostname()) return undefined;
  try { process.kill(h.pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

function readHolder(dir: string, file = LOCK_FILE): LockHolder | null {
  try { return JSON.parse(readFileSync(join(dir, file), 'utf8')) as LockHolder; } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    return { host: '?', pid: 0, command: 'unreadable lock file', since: '?' };
  }
}

export const describeHolder = (h: LockHolder) => `${h.command} (pid ${h.pid} on ${h.host}, since ${h.since})`;

/** The live writer of the store at `dir`, or null (no lock, or a stale one). */
export function storeWriter(dir: string): LockHolder | null {
  const h = readHolder(dir);
  return h && alive(h) !== false ? h : null;
}

export interface StoreLock { release(): void }

/** Take the store's lock for `command` (`file` names a second lock, e.g. for a fit's outputs), or refuse naming who holds it. */
export function lockStore(dir: string, command: string, file = LOCK_FILE): StoreLock {
  const me: LockHolder = { host: hostname(), pid: process.pid, command, since: new Date().toISOString() };
  const body = new TextEncoder().encode(JSON.stringify(me) + '\n');
  const path = join(dir, file);
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileAtomic(path, [body], { exclusive: true });
      break;
    } catch (e) {
      const h = readHolder(dir, file);
      if (!h) { if (attempt < 3) continue; throw e; }
      const state = alive(h);
      if (state === false && attempt < 3) {
        // stale: move it aside atomically (only one taker wins the rename), then retry
        try { renameSync(path, `${path}.stale.${process.pid}`); rmSync(`${path}.stale.${process.pid}`, { force: true }); } catch { /* another taker won */ }
        continue;
      }
      const hint = state === undefined ? `; if that process is gone, delete ${path}` : '; wait for it to finish or stop it';
      throw new UserError(`${dir} is being written by ${describeHolder(h)}${hint}`);
    }
  }
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    const h = readHolder(dir, file);
    if (h && h.pid === me.pid && h.host === me.host) rmSync(path, { force: true });
  };
  process.once('exit', release);
  return { release() { process.off('exit', release); release(); } };
}
