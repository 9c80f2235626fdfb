/**
 * torchvision's `ImageFolder` listing: classes are the sorted subfolder names (label = position),
 * samples are every file with an image extension under a class folder (walked recursively,
 * folders and names sorted as Python sorts them), in torchvision's sample order.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { byCodePoint, listingHash, type ImageListing } from './listing.js';

/** torchvision.datasets.folder.IMG_EXTENSIONS (matched case-insensitively) */
export const IMG_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp'];

const isDir = (p: string) => { try { return statSync(p).isDirectory(); } catch { return false; } };
const hasImageExtension = (name: string) => IMG_EXTENSIONS.some((e) => name.toLowerCase().endsWith(e));

/** os.walk(top, followlinks=True) sorted by folder path, each folder's file names sorted. */
function walk(top: string): string[] {
  const folders: { root: string; files: string[] }[] = [];
  const visit = (root: string) => {
    const files: string[] = [];
    const dirs: string[] = [];
    for (const name of readdirSync(root)) (isDir(join(root, name)) ? dirs : files).push(name);
    folders.push({ root, files });
    for (const d of dirs.sort(byCodePoint)) visit(join(root, d));
  };
  visit(top);
  folders.sort((a, b) => byCodePoint(a.root, b.root));
  return folders.flatMap(({ root, files }) => files.sort(byCodePoint).map((f) => join(root, f)));
}

export function listImageFolder(dir: string): ImageListing {
  const root = resolve(dir);
  if (!isDir(root)) throw new UserError(`--data imagefolder:${dir}: no such folder; give a folder with one subfolder per class`);
  const classNames = readdirSync(root).filter((n) => isDir(join(root, n))).sort(byCodePoint);
  if (classNames.length === 0) throw new UserError(`--data imagefolder:${dir}: no class folders in it; ImageFolder expects DIR/CLASS/IMAGE.jpg`);
  const files: string[] = [], labels: number[] = [];
  const empty: string[] = [];
  classNames.forEach((c, label) => {
    const found = walk(join(root, c)).filter(hasImageExtension);
    if (found.length === 0) empty.push(c);
    for (const f of found) { files.push(f); labels.push(label); }
  });
  if (empty.length > 0) {
    throw new UserError(`--data imagefolder:${dir}: no images in the class folder${empty.length > 1 ? 's' : ''} ${empty.join(', ')} (extensions ${IMG_EXTENSIONS.join(' ')}); remove ${empty.length > 1 ? 'them' : 'it'} or add images`);
  }
  return { files, labels, classNames, sha256: listingHash(root, files, labels) };
}
