/**
 * The examples a store measures, from its manifest alone: indices, labels and class names,
 * so a report needs neither the weights nor the images. Stores swept before the manifest
 * kept class names take them from the source's listing (Fashion-MNIST's ten names, an
 * image folder's class folders), or name classes by number.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CLASS_NAMES } from '../data/fashion_mnist.js';
import { byCodePoint } from '../data/listing.js';
import { UserError } from '../errors.js';
import type { SweepManifest } from './store_manifest.js';

export interface StoreExamples { indices: number[]; labels: number[]; classNames: string[] }

function folderClasses(root: string): string[] | null {
  try {
    return readdirSync(root).filter((n) => { try { return statSync(join(root, n)).isDirectory(); } catch { return false; } }).sort(byCodePoint);
  } catch { return null; }
}

export function storeExamples(m: SweepManifest): StoreExamples {
  const labels = m.labels;
  if (!Array.isArray(labels) || labels.length !== m.examples.length) {
    throw new UserError(`the store's manifest.json lists no label for each of its ${m.examples.length} examples (a store from an older webcoar): sweep it again into a new folder`);
  }
  let classNames = m.classNames;
  if (!classNames) {
    if (m.data.source === 'fashion-mnist') classNames = [...CLASS_NAMES];
    else if (m.data.source === 'imagefolder') classNames = folderClasses(m.data.path) ?? undefined;
  }
  const top = labels.reduce((a, b) => Math.max(a, b), -1);
  if (!classNames || classNames.length <= top) classNames = Array.from({ length: top + 1 }, (_, i) => classNames?.[i] ?? `class ${i}`);
  return { indices: m.examples, labels, classNames };
}
