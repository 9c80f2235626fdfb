/**
 * Tile choices measured on an adapter, cached on disk so that each adapter (a software
 * one, a real GPU) gets its own best without re-measuring:
 *   $WEBCOAR_TUNING (a file), else $XDG_CACHE_HOME/webcoar/tuning.json, else ~/.cache/webcoar/tuning.json
 * keyed by the adapter's description, then by a kernel's shape class (conv2d.ts and
 * attention.ts define theirs). A missing or unreadable cache is not an error: kernels
 * fall back to their default tiles, and nothing is measured unless asked (--tune, --retune).
 *
 * Kernels whose tile may be tuned register a `Tunable` while their dispatches are
 * prepared; the tuner (kernels/tune.ts) measures the candidates of those not yet cached.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import type { Dispatch } from './dispatch.js';

/** cached: use cached tiles only; missing: measure shape classes not in the cache; rebuild: measure every one again */
export type TuneMode = 'cached' | 'missing' | 'rebuild';

export interface TunedEntry {
  /** the chosen variant, as the kernel wrapper reads it back */
  choice: Choice;
  /** its measured seconds and the default variant's, on the shape it was measured on */
  seconds: number;
  defaultSeconds: number;
  flops: number;
  candidates: number;
  date: string;
}

interface CacheFile {
  version: 1;
  adapters: Record<string, Record<string, TunedEntry>>;
}

export function tuningCachePath(): string {
  if (process.env.WEBCOAR_TUNING) return process.env.WEBCOAR_TUNING;
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'webcoar', 'tuning.json');
}

function readCache(path: string): CacheFile {
  if (!existsSync(path)) return { version: 1, adapters: {} };
  try {
    const c = JSON.parse(readFileSync(path, 'utf8')) as CacheFile;
    if (c.version === 1 && c.adapters && typeof c.adapters === 'object') return c;
  } catch { /* a corrupt cache is rebuilt, never fatal */ }
  return { version: 1, adapters: {} };
}

export type Choice = Record<string, number | boolean | string>;

/**
 * A dispatch whose variant may be tuned: the tuner prepares it with each candidate of
 * stage 0, 1, ... (each stage may depend on the best so far) until a stage is empty.
 */
export interface Tunable {
  key: string;
  flops: number;
  defaultChoice: Choice;
  candidates(stage: number, best: Choice): Choice[];
  prepare(choice: Choice): Dispatch;
}

/** The tuned tiles of one adapter, and the tunables seen since the last `drain`. */
export class TuningTable {
  readonly path: string;
  private entries: Record<string, TunedEntry>;
  private pending = new Map<string, Tunable>();

  /** try only a few candidates of each kind (tests, a first look) */
  quick = false;

  constructor(readonly adapter: string, readonly mode: TuneMode = 'cached', path = tuningCachePath()) {
    this.path = path;
    const all = readCache(path);
    this.entries = mode === 'rebuild' ? {} : { ...(all.adapters[adapter] ?? {}) };
  }

  /** The cached choice for a shape class, if any. Registers it for tuning when the mode asks and it is missing. */
  choose<T extends Choice>(t: Tunable): T | undefined {
    const hit = this.entries[t.key];
    if (!hit && this.mode !== 'cached' && !this.pending.has(t.key)) this.pending.set(t.key, t);
    return hit?.choice as T | undefined;
  }

  get(key: string): TunedEntry | undefined { return this.entries[key]; }
  get size(): number { return Object.keys(this.entries).length; }

  /** the tunables waiting to be measured, and clear the list */
  drain(): Tunable[] {
    const out = [...this.pending.values()];
    this.pending.clear();
    return out;
  }

  /** Record a measurement and write the cache file (merged with other adapters' entries, atomically). */
  set(key: string, entry: TunedEntry): void {
    this.entries[key] = entry;
    const all = readCache(this.path);
    // rebuild replaces the classes measured in this run; other classes of the adapter stay
    all.adapters[this.adapter] = { ...(all.adapters[this.adapter] ?? {}), ...this.entries };
    try {
      mkdirSync(dirname(this.path), { recursive: true });
      writeFileAtomic(this.path, [new TextEncoder().encode(JSON.stringify(all, null, 1) + '\n')]);
    } catch (e) {
      if (!this.warned) console.error(`coar: cannot write the tuning cache ${this.path} (${(e as Error).message}); tuned tiles are used in this run only (set WEBCOAR_TUNING to a writable file)`);
      this.warned = true;
    }
  }

  private warned = false;
}
