/**
 * The sweep store on disk (REFERENCE.md, "Store layout"), in the reference layout numpy
 * opens directly:
 *   masks.npy bool [m, |C|] · <split>_margins.npy float16|float32 [m, n] · _completed.npy bool [m]
 *   manifest.json (store_manifest.ts) · .coar-lock while a writer has it open
 * Rows are written in place and synced before their completed flag is set and synced, so a
 * process killed at any instant leaves only whole rows marked completed. Nothing here ever
 * creates a file over an existing one: a new store's files are published with exclusive
 * links, a folder holding store files without our manifest is adopted only after it is
 * checked (adopt.ts), and one writer at a time holds the lock.
 */
import { accessSync, closeSync, constants, existsSync, fsyncSync, ftruncateSync, linkSync, mkdirSync, openSync, rmSync, statfsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { floatToHalf } from '../io/f16.js';
import { cannotWrite, checkRegularFile, checkStorePlace, fsReason, writeFully } from '../io/files.js';
import { lockStore, type StoreLock } from '../io/lock.js';
import { npyHeaderBytes, NpyFile, readNpy } from '../io/npy.js';
import { checkCompletedMasks } from './completed_check.js';
import { describeForeign, inspectForeignStore, storeFiles, type ForeignStore } from './adopt.js';
import { DTYPE_NAME, manifestPath, marginsDtypeOf, readManifest, sweepMismatch, type MarginsDtype, type SweepManifest } from './store_manifest.js';

const resumeHint = 'rows already marked completed are safe, re-run the same command to resume';
const again = (e: unknown) => e instanceof UserError ? new UserError(`${e.message}; ${resumeHint}`) : e;

const mb = (b: number) => b >= 1e9 ? `${(b / 1e9).toFixed(2)} GB` : b >= 1e6 ? `${(b / 1e6).toFixed(1)} MB` : `${(b / 1e3).toFixed(0)} kB`;

interface FileSpec { name: string; dtype: 'b1' | 'f2' | 'f4'; shape: number[] }

function fileSpecs(m: SweepManifest): FileSpec[] {
  const n = m.examples.length;
  return [
    { name: '_completed.npy', dtype: 'b1', shape: [m.masks] },
    { name: 'masks.npy', dtype: 'b1', shape: [m.masks, m.components.length] },
    { name: `${m.split}_margins.npy`, dtype: marginsDtypeOf(m), shape: [m.masks, n] },
  ];
}
const bytesOf = (f: FileSpec) => npyHeaderBytes(f.dtype, f.shape).length + f.shape.reduce((a, b) => a * b, 1) * (f.dtype === 'b1' ? 1 : f.dtype === 'f2' ? 2 : 4);

/** The folder itself, or its nearest ancestor that exists: where a folder not yet made will live. */
function existingPlace(dir: string): string {
  let p = resolve(dir);
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  return p;
}

/**
 * Refuse before any work when the store cannot fit on its file system (`place`: the folder,
 * or where it will be made). The files are sparse until rows are written, so without this a
 * sweep would find out when the disk fills, hours in.
 */
function checkSpace(dir: string, files: FileSpec[], place = dir): void {
  const need = files.reduce((a, f) => a + bytesOf(f), 0);
  let free: number;
  try { const s = statfsSync(place); free = s.bavail * s.bsize; } catch { return; }
  if (need > free) {
    throw new UserError(`${dir}: not enough disk space: the store needs ${mb(need)} (${need} bytes: ${files.map((f) => `${f.name} ${mb(bytesOf(f))}`).join(', ')}), the file system has ${mb(free)} (${free} bytes) free`);
  }
}

/** Create the store's .npy files (header, then zeros) under temporary names, then publish each exclusively. */
function createFiles(dir: string, files: FileSpec[]): void {
  const tmp = (f: FileSpec) => join(dir, `.${f.name}.${process.pid}.new`);
  const published: string[] = [];
  try {
    for (const f of files) {
      let fd: number;
      try { fd = openSync(tmp(f), 'w'); } catch (e) { throw cannotWrite(join(dir, f.name), e); }
      try {
        writeFully(fd, npyHeaderBytes(f.dtype, f.shape), 0, join(dir, f.name));
        ftruncateSync(fd, bytesOf(f));
        fsyncSync(fd);
      } catch (e) { throw e instanceof UserError ? e : cannotWrite(join(dir, f.name), e); } finally { closeSync(fd); }
    }
    for (const f of files) {
      try { linkSync(tmp(f), join(dir, f.name)); } catch (e) {
        throw new UserError((e as NodeJS.ErrnoException).code === 'EEXIST' ? `${join(dir, f.name)} appeared while the store was being made; it was left as it is` : `cannot write ${join(dir, f.name)}: ${fsReason(e)}`);
      }
      published.push(join(dir, f.name));
    }
  } catch (e) {
    for (const p of published) rmSync(p, { force: true });
    throw e;
  } finally {
    for (const f of files) rmSync(tmp(f), { force: true });
  }
}

/** mkdir -p, with the reason of the folder that refused (recursive mkdir reports ENOENT for a read-only parent). */
function makeFolder(dir: string): void {
  try { mkdirSync(dir, { recursive: true }); } catch (e) {
    let p = resolve(dir);
    while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
    let why = fsReason(e);
    try { accessSync(p, constants.W_OK); } catch (w) { why = fsReason(w); }
    throw new UserError(`cannot write ${dir}: ${why}`);
  }
}

export interface OpenOptions {
  /** the margin dtype asked for; undefined = the store's own, float32 for a new store */
  marginsDtype?: MarginsDtype;
  /** who writes, for the lock (e.g. "coar sweep") */
  command?: string;
}

export class SweepStore {
  private fds: { masks: number; margins: number; completed: number };
  private offsets: { masks: number; margins: number; completed: number };
  readonly completed: Uint8Array;
  /** a store begun without our manifest, not yet confirmed: see confirmAdoption */
  adoption: ForeignStore | null = null;

  private constructor(readonly dir: string, public manifest: SweepManifest, private lock: StoreLock | null) {
    const specs = fileSpecs(manifest);
    const [completedSpec, masksSpec, marginsSpec] = specs as [FileSpec, FileSpec, FileSpec];
    // each file must exist, be a regular file, and hold exactly the shape and dtype the manifest says
    for (const f of specs) {
      const p = join(dir, f.name);
      checkRegularFile(p);
      const h = NpyFile.open(p);
      const hd = h.header;
      h.close();
      if (hd.dtype !== f.dtype || hd.shape.join() !== f.shape.join()) {
        throw new UserError(`${p}: expected ${f.dtype === 'b1' ? 'bool' : DTYPE_NAME[f.dtype as MarginsDtype]} [${f.shape.join(', ')}] as manifest.json says, found ${hd.dtype} [${hd.shape.join(', ')}]; the store was changed by hand or by another program`);
      }
    }
    this.offsets = {
      masks: npyHeaderBytes('b1', masksSpec.shape).length,
      margins: npyHeaderBytes(marginsSpec.dtype, marginsSpec.shape).length,
      completed: npyHeaderBytes('b1', completedSpec.shape).length,
    };
    const open = (name: string) => {
      try { return openSync(join(dir, name), 'r+'); } catch (e) { throw cannotWrite(join(dir, name), e); }
    };
    this.fds = { masks: open(masksSpec.name), margins: open(marginsSpec.name), completed: open(completedSpec.name) };
    this.completed = readNpy(join(dir, completedSpec.name)).data as Uint8Array;
  }

  /** Refuse rows marked completed that hold no written mask (completed_check.ts). */
  checkCompleted(): void {
    const rows: number[] = [];
    for (let r = 0; r < this.completed.length; r++) if (this.completed[r]) rows.push(r);
    if (!rows.length) return;
    const masks = NpyFile.open(join(this.dir, 'masks.npy'));
    const margins = NpyFile.open(join(this.dir, this.marginsFile));
    try {
      checkCompletedMasks(this.dir, masks, margins, rows, this.adoption || this.manifest.adopted ? null : this.manifest);
    } finally { masks.close(); margins.close(); }
  }

  get marginsFile(): string { return `${this.manifest.split}_margins.npy`; }
  get marginsDtype(): MarginsDtype { return marginsDtypeOf(this.manifest); }

  /**
   * Open the store at `dir` for this sweep, creating it if the folder holds no store
   * files; refuse a different sweep; a store without our manifest comes back with
   * `adoption` set and must be confirmed before rows are written.
   */
  static openOrCreate(dir: string, manifest: SweepManifest, opts: OpenOptions = {}): SweepStore {
    checkStorePlace(dir);
    // a new folder: refuse a store too large before making anything, the folder included
    if (!existsSync(dir)) checkSpace(dir, fileSpecs({ ...manifest, marginsDtype: opts.marginsDtype ?? manifest.marginsDtype ?? 'f4' }), existingPlace(dir));
    makeFolder(dir);
    const lock = lockStore(dir, opts.command ?? 'coar sweep');
    try {
      const files = storeFiles(dir);
      if (files.includes('manifest.json')) {
        const old = readManifest(dir);
        const why = sweepMismatch(manifest, old);
        if (why) throw new UserError(`${dir} holds a different sweep: ${why}; use another --out folder`);
        if (opts.marginsDtype && opts.marginsDtype !== marginsDtypeOf(old)) {
          throw new UserError(`${dir} holds this sweep with ${DTYPE_NAME[marginsDtypeOf(old)]} margins; --margins-dtype asks for ${DTYPE_NAME[opts.marginsDtype]}: drop the flag to resume it`);
        }
        const missing = fileSpecs(old).filter((f) => !files.includes(f.name)).map((f) => f.name);
        if (missing.length) throw new UserError(`${dir}: manifest.json names a sweep but ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} missing; restore ${missing.length > 1 ? 'them' : 'it'} or use another --out folder`);
        const store = new SweepStore(dir, old, lock);
        store.checkCompleted();
        return store;
      }
      if (files.length) {
        const foreign = inspectForeignStore(dir, { masks: manifest.masks, components: manifest.components.length, examples: manifest.examples.length, split: manifest.split, alpha: manifest.alpha }, files);
        if (opts.marginsDtype && opts.marginsDtype !== foreign.marginsDtype) {
          throw new UserError(`${dir} holds a store with ${DTYPE_NAME[foreign.marginsDtype]} margins (${describeForeign(foreign)}); --margins-dtype asks for ${DTYPE_NAME[opts.marginsDtype]}: drop the flag to resume it`);
        }
        const store = new SweepStore(dir, { ...manifest, marginsDtype: foreign.marginsDtype }, lock);
        store.adoption = foreign;
        store.checkCompleted();
        return store;
      }
      const full: SweepManifest = { ...manifest, marginsDtype: opts.marginsDtype ?? manifest.marginsDtype ?? 'f4' };
      const specs = fileSpecs(full);
      checkSpace(dir, specs);
      createFiles(dir, specs);
      // the manifest last: until it exists the files are zeros with no completed row
      writeFileAtomic(manifestPath(dir), [new TextEncoder().encode(JSON.stringify(full, null, 1) + '\n')], { exclusive: true });
      return new SweepStore(dir, full, lock);
    } catch (e) {
      lock.release();
      throw e;
    }
  }

  /** Open an existing store of ours for writing (merge sources are read through it). */
  static open(dir: string, opts: { lock?: boolean } = {}): SweepStore {
    const manifest = readManifest(dir);
    const lock = opts.lock ? lockStore(dir, 'coar merge') : null;
    try {
      const store = new SweepStore(dir, manifest, lock);
      store.checkCompleted();
      return store;
    } catch (e) { lock?.release(); throw e; }
  }

  /** Write our manifest into an adopted store once its completed row `checkedRow` was recomputed and agreed. */
  confirmAdoption(checkedRow: number): void {
    const a = this.adoption;
    if (!a) return;
    this.manifest = { ...this.manifest, adopted: { layout: 'reference', completedRows: a.completedRows, keepRate: a.keepRate, checkedRow } };
    writeFileAtomic(manifestPath(this.dir), [new TextEncoder().encode(JSON.stringify(this.manifest, null, 1) + '\n')], { exclusive: true });
    this.adoption = null;
  }

  /** Mask and margins (as float32) of one stored row. */
  readRow(row: number): { mask: Uint8Array; margins: Float32Array } {
    const masks = NpyFile.open(join(this.dir, 'masks.npy'));
    const margins = NpyFile.open(join(this.dir, this.marginsFile));
    try {
      return { mask: masks.readRowBytes(row, row + 1), margins: margins.readFloatRows(row, row + 1) };
    } finally { masks.close(); margins.close(); }
  }

  /**
   * Write rows [first, first+count): masks and margins first, synced; then their flags,
   * synced. Margins are float32, or float16 bits (Uint16Array) for a float16 store.
   */
  writeRows(first: number, masks: Uint8Array, margins: Float32Array | Uint16Array, count: number): void {
    if (this.adoption) throw new Error('writeRows before confirmAdoption');
    const C = this.manifest.components.length, n = this.manifest.examples.length;
    try {
      writeFully(this.fds.masks, masks.subarray(0, count * C), this.offsets.masks + first * C, join(this.dir, 'masks.npy'));
      const vals = margins.subarray(0, count * n);
      if (vals instanceof Uint16Array && this.marginsDtype !== 'f2') throw new Error('float16 margins for a float32 store');
      const stored = this.marginsDtype === 'f2' && vals instanceof Float32Array ? Uint16Array.from(vals, (v) => floatToHalf(v)) : vals;
      const bytes = new Uint8Array(stored.buffer, stored.byteOffset, stored.byteLength);
      writeFully(this.fds.margins, bytes, this.offsets.margins + first * n * (this.marginsDtype === 'f2' ? 2 : 4), join(this.dir, this.marginsFile));
      try { fsyncSync(this.fds.masks); fsyncSync(this.fds.margins); } catch (e) { throw cannotWrite(this.dir, e); }
      writeFully(this.fds.completed, new Uint8Array(count).fill(1), this.offsets.completed + first, join(this.dir, '_completed.npy'));
      try { fsyncSync(this.fds.completed); } catch (e) { throw cannotWrite(this.dir, e); }
    } catch (e) { throw again(e); }
    this.completed.fill(1, first, first + count);
  }

  close(): void {
    for (const fd of Object.values(this.fds)) closeSync(fd);
    this.lock?.release();
  }
}
