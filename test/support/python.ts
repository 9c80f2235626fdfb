/**
 * The independent references (PyTorch, scikit-learn, scipy) run in Debian's own python3,
 * not a pyenv interpreter that may come first on PATH. In CI a missing reference fails
 * the run; it is never skipped.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
export const REFERENCE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'reference');

/** Run test/reference/<script> with args; returns stdout. Throws with stderr on failure. */
export function runReference(script: string, args: string[], timeoutMs = 20 * 60_000): string {
  try {
    return execFileSync(PYTHON, [join(REFERENCE_DIR, script), ...args], {
      encoding: 'utf8', timeout: timeoutMs, maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? '2' },
    });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`reference ${script} failed: ${err.stderr?.trim().split('\n').slice(-5).join('\n') ?? err.message}`);
  }
}
