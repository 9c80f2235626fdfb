import { closeSync, fsyncSync, ftruncateSync, linkSync, openSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { UserError } from '../errors.js';
import { cannotWrite, writeFully } from './files.js';

/**
 * Write a file so that it either appears whole or not at all: write a temporary file
 * beside it, flush, then rename. A crash or a full disk never leaves a partial output.
 * With `exclusive`, the file is published by a hard link, which fails if the name exists:
 * nothing already there is ever replaced (store files a user may hold are never overwritten).
 * With `size`, the file is extended with zeros (sparse) to that many bytes.
 */
export function writeFileAtomic(path: string, chunks: Iterable<Uint8Array>, opts: { exclusive?: boolean; size?: number } = {}): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  let fd: number;
  try {
    fd = openSync(tmp, 'w');
  } catch (e) {
    throw cannotWrite(path, e);
  }
  let open = true;
  try {
    for (const chunk of chunks) writeFully(fd, chunk, null, path);
    if (opts.size !== undefined) ftruncateSync(fd, opts.size);
    fsyncSync(fd);
    closeSync(fd);
    open = false;
    if (opts.exclusive) {
      try { linkSync(tmp, path); } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new UserError(`${path} already exists; it was left as it is`);
        throw e;
      }
      rmSync(tmp, { force: true });
    } else {
      renameSync(tmp, path);
    }
  } catch (e) {
    if (open) try { closeSync(fd); } catch { /* already closed */ }
    rmSync(tmp, { force: true });
    if (e instanceof UserError) throw e;
    throw cannotWrite(path, e);
  }
}
