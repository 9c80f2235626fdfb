/** Image folders made from the reference photographs (test/reference/image_reference.py make). */
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

export interface MadeImages { files: string[]; labels: number[]; classes: string[] }

/** An ImageFolder at `dir` holding the photographs `picks` (class folders as made), named by position. */
export function imageFolder(made: MadeImages, dir: string, picks: readonly number[] = [0, 2, 9, 12, 13, 20]): string {
  for (const i of picks) {
    const cls = join(dir, made.classes[made.labels[i]!]!);
    mkdirSync(cls, { recursive: true });
    copyFileSync(made.files[i]!, join(cls, `${i}.${made.files[i]!.split('.').pop()}`));
  }
  return dir;
}
