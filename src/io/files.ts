/**
 * File-system facts every writer needs, in one place: a write loop that makes progress or
 * fails with the path and the reason (a write of 0 bytes is retried forever by a naive
 * loop), errno codes in words, and the places no store may live (special files, /proc,
 * /sys, /dev), checked before anything is opened, since opening a FIFO blocks and writing
 * a pseudo-file may accept nothing.
 */
import { existsSync, realpathSync, statfsSync, statSync, writeSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UserError } from '../errors.js';

/** An errno code as a reason a person reads. */
export function fsReason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOSPC': case 'EDQUOT': return 'disk full';
    case 'EFBIG': return 'file too large for this file system or the process limit (ulimit -f)';
    case 'EACCES': case 'EPERM': return 'permission denied';
    case 'EROFS': return 'read-only file system';
    case 'ENOENT': return 'no such file or folder';
    case 'ENOTDIR': return 'a part of the path is a file, not a folder';
    case 'EISDIR': return 'is a folder';
    case 'EAGAIN': return 'the file would block (EAGAIN): not a regular file';
    case 'EIO': return 'input/output error (EIO)';
    default: return code ?? (e as Error).message;
  }
}

/** The one-line error of a failed write. */
export const cannotWrite = (path: string, e: unknown) => new UserError(`cannot write ${path}: ${fsReason(e)}`);

/** Write all of `data` at `position` (or at the file offset when null), or throw naming `path`. */
export function writeFully(fd: number, data: Uint8Array, position: number | null, path: string): void {
  let done = 0;
  while (done < data.length) {
    let n: number;
    try {
      n = writeSync(fd, data, done, data.length - done, position === null ? null : position + done);
    } catch (e) {
      throw cannotWrite(path, e);
    }
    // a regular file on a working file system never accepts 0 bytes: do not spin
    if (n <= 0) throw new UserError(`cannot write ${path}: the file system accepted 0 of ${data.length - done} bytes (a special file, or a full device)`);
    done += n;
  }
}

// statfs magic numbers of pseudo file systems (linux/magic.h)
const PSEUDO_FS: Record<number, string> = {
  0x9fa0: 'procfs', 0x62656572: 'sysfs', 0x1cd1: 'devpts', 0x27e0eb: 'cgroup', 0x63677270: 'cgroup2',
  0x64626720: 'debugfs', 0x74726163: 'tracefs', 0x73636673: 'securityfs', 0xcafe4a11: 'bpf', 0x42494e4d: 'binfmt_misc',
};

/** The nearest existing folder at or above `path`. */
function existingAncestor(path: string): string {
  let p = resolve(path);
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  return p;
}

/**
 * Refuse a folder that cannot hold a store: under /proc, /sys or /dev, on a pseudo file
 * system, or an existing path that is not a folder. Called before anything is created.
 */
export function checkStorePlace(dir: string, flag = '--out'): void {
  const near = existingAncestor(dir);
  let real = near;
  try { real = realpathSync(near); } catch { /* the check below reports it */ }
  const top = real.split('/')[1];
  if (top === 'proc' || top === 'sys' || top === 'dev') throw new UserError(`${flag} ${dir}: a path under /${top} cannot hold a store; choose a folder on a disk`);
  try {
    const fs = PSEUDO_FS[statfsSync(near).type];
    if (fs) throw new UserError(`${flag} ${dir}: that is on ${fs}, a pseudo file system; choose a folder on a disk`);
  } catch (e) { if (e instanceof UserError) throw e; }
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new UserError(`${flag} ${dir}: exists and is not a folder`);
}

/** Refuse a store file that exists but is not a regular file (a FIFO, a device, a socket, a folder). */
export function checkRegularFile(path: string): void {
  let st;
  try { st = statSync(path); } catch { return; }
  if (!st.isFile()) {
    const kind = st.isFIFO() ? 'a FIFO' : st.isDirectory() ? 'a folder' : st.isSocket() ? 'a socket' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : 'not a regular file';
    throw new UserError(`${path} is ${kind}, not a regular file; a store holds only regular .npy and .json files`);
  }
}
