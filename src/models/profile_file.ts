/**
 * The profile file: what `coar bench --profile --out FILE` writes (and `--json` prints),
 * read back by `coar bench compare`, the roofline page and the trace. One schema, defined
 * here, so that two profiles taken on two adapters, two tiles or two commits line up.
 */
import { readFileSync } from 'node:fs';
import { UserError } from '../errors.js';
import type { Ceiling } from '../kernels/ceiling.js';
import type { NetworkProfile } from './profile.js';

export const PROFILE_FORMAT = 'coar-profile/1';

export interface ProfileFile {
  format: typeof PROFILE_FORMAT;
  /** when it was measured (ISO 8601) */
  date: string;
  adapter: string;
  arch: string;
  size: number;
  masks: number;
  examples: number;
  precision: string;
  /** the model's FLOPs for one example under one mask */
  flopsPerPass: number;
  /** end to end: passes per second over whole batches (best of the repeats) */
  passesPerSecond: number;
  /** passesPerSecond over what the GEMM ceiling would give at the model's FLOPs */
  ofCeiling: number;
  ceiling: Pick<Ceiling, 'gemm' | 'copy'>;
  repeats: number;
  profile: NetworkProfile;
}

export function profileJson(p: ProfileFile): string {
  return JSON.stringify(p, null, 1);
}

/** Read a profile file, refusing anything else with a line that says what it is and what to do. */
export function readProfileFile(path: string): ProfileFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read profile ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; write one with \`coar bench --profile ... --out ${path}\``);
  }
  let p: Partial<ProfileFile>;
  try {
    p = JSON.parse(text) as Partial<ProfileFile>;
  } catch {
    throw new UserError(`${path} is not JSON: write a profile with \`coar bench --profile ... --out FILE\``);
  }
  if (p?.format !== PROFILE_FORMAT) {
    throw new UserError(`${path} is not a profile (format ${JSON.stringify(p?.format)}, expected ${PROFILE_FORMAT}): write one with \`coar bench --profile ... --out FILE\``);
  }
  const ks = p.profile?.kernels;
  if (!Array.isArray(ks) || ks.some((k) => typeof k?.label !== 'string' || !(k.seconds >= 0) || !Array.isArray(k.dispatches))) {
    throw new UserError(`${path}: its profile.kernels are missing or malformed; measure it again with \`coar bench --profile ... --out FILE\``);
  }
  return p as ProfileFile;
}
