/** A listing of labelled image files (what an image folder or a list file names), and its hash. */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { relative } from 'node:path';

export interface ImageListing {
  /** absolute paths, in sample order */
  files: string[];
  labels: number[];
  classNames: string[];
  /** sha256 over (relative path, label, size, mtime) of every file: a sweep refuses a folder that changed */
  sha256: string;
}

/** Python's sorted() order on str: by code point, not UTF-16 unit. */
export function byCodePoint(a: string, b: string): number {
  const x = [...a], y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

export function listingHash(root: string, files: string[], labels: number[]): string {
  const h = createHash('sha256');
  files.forEach((f, i) => {
    let st: { size: number; mtimeMs: number } = { size: -1, mtimeMs: -1 };
    try { st = statSync(f); } catch { /* a missing file is decoded later and reported there */ }
    h.update(`${relative(root, f)}\t${labels[i]}\t${st.size}\t${Math.floor(st.mtimeMs)}\n`);
  });
  return h.digest('hex');
}
