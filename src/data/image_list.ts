/** A list file: one `path<TAB>label` per line, paths relative to the file's folder; blank lines ignored. */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { listingHash, type ImageListing } from './listing.js';

export function listImageList(file: string): ImageListing {
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch (e) {
    throw new UserError(`--data list:${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); give a text file of path<TAB>label lines`);
  }
  const base = dirname(resolve(file));
  const files: string[] = [], labels: number[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') return;
    const tab = line.lastIndexOf('\t');
    const label = tab < 0 ? NaN : Number(line.slice(tab + 1));
    if (tab <= 0 || !Number.isInteger(label) || label < 0 || line.slice(tab + 1).trim() === '') {
      throw new UserError(`${file}:${i + 1}: expected 'path<TAB>label' with a label 0, 1, 2, ..., found ${JSON.stringify(line.slice(0, 80))}`);
    }
    const p = line.slice(0, tab);
    files.push(isAbsolute(p) ? p : resolve(base, p));
    labels.push(label);
  });
  if (files.length === 0) throw new UserError(`--data list:${file}: the list names no images; write one path<TAB>label per line`);
  const classes = Math.max(...labels) + 1;
  return { files, labels, classNames: Array.from({ length: classes }, (_, i) => `class ${i}`), sha256: listingHash(base, files, labels) };
}
