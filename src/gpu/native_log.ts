/**
 * Dawn and the Vulkan driver print their own notices from C++ straight to file descriptor 2
 * while an adapter is opened (lavapipe: "maxDynamicUniformBuffersPerPipelineLayout
 * artificially reduced ..."), out of reach of any JavaScript stream. For that window fd 2 is
 * pointed at a temporary file (dup/dup2 through koffi, a foreign-function library) and then
 * restored; what was captured is replayed, except the notices known to be harmless, which
 * only `verbose` shows. Nothing is lost: a JavaScript write to stderr inside the window is
 * replayed too, only later. Where koffi or libc cannot be loaded the window is left alone.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Notices that say nothing about the user's work. */
const HARMLESS = [
  // Dawn clamps limits it never uses (we request no dynamic offsets)
  /artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit/,
  // Mesa's software rasteriser announces itself
  /lavapipe is not a conformant vulkan implementation/,
];

interface Libc { dup(fd: number): number; dup2(from: number, to: number): number; close(fd: number): number }

let libc: Libc | null | undefined;

function loadLibc(): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  if (process.platform !== 'linux') return libc;
  try {
    const koffi = createRequire(import.meta.url)('koffi');
    const lib = koffi.load('libc.so.6');
    libc = { dup: lib.func('int dup(int)'), dup2: lib.func('int dup2(int, int)'), close: lib.func('int close(int)') };
  } catch { /* no capture: the notices stay on stderr */ }
  return libc;
}

/** Lines of `text` a user should see: all with `verbose`, else all but the harmless ones. */
export function shownLines(text: string, verbose: boolean): string[] {
  return text.split('\n').filter((l) => l.trim() !== '' && (verbose || !HARMLESS.some((re) => re.test(l))));
}

/** Run `f` with native writes to stderr captured, then replay what should be seen. */
export async function withNativeStderr<T>(verbose: boolean, f: () => Promise<T>): Promise<T> {
  const c = loadLibc();
  if (!c) return f();
  const dir = mkdtempSync(join(tmpdir(), 'coar-stderr-'));
  const file = join(dir, 'stderr');
  const fd = openSync(file, 'w+');
  const saved = c.dup(2);
  if (saved < 0) { closeSync(fd); rmSync(dir, { recursive: true, force: true }); return f(); }
  c.dup2(fd, 2);
  try {
    return await f();
  } finally {
    c.dup2(saved, 2);
    c.close(saved);
    closeSync(fd);
    const lines = shownLines(readFileSync(file, 'utf8'), verbose);
    rmSync(dir, { recursive: true, force: true });
    if (lines.length) process.stderr.write(lines.join('\n') + '\n');
  }
}
