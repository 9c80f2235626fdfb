/**
 * Solved chunks of examples on disk, so that a fit killed at any point resumes at the first
 * chunk it had not written. Each chunk is written atomically (io/atomic.ts): `fit-c0-c1.npy`
 * holds [|C| + 1, c1 - c0] float32 (attributions, then the bias row) and `fit-c0-c1.json` its
 * solver record, written after it; `lambda-c0-c1.npy` the lambdas chosen; `gram.npy` (float32)
 * and `factor.npy` (float64) the Gram matrix and its Cholesky factor of a fit with one lambda,
 * when the disk has room for them. `plan.json` names
 * the inputs and settings the chunks belong to; chunks of another plan are dropped.
 * The outputs are assembled from the chunks by rows, never all in memory at once.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, statfsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../io/atomic.js';
import { npyHeaderBytes, NpyFile, readNpy } from '../../io/npy.js';
import type { KeptGram } from './design.js';
import type { ChunkFit, ChunkLedger, ChunkRecord } from './regression.js';

export const CHUNKS_DIR = '.fit-chunks';

const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v, null, 2) + '\n');
const bytesOf = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** A ledger in `outDir/.fit-chunks`; `inputs`: what identifies the store rows and files fitted. */
export class DiskLedger implements ChunkLedger {
  readonly dir: string;
  constructor(outDir: string, readonly components: number, private readonly inputs: Record<string, unknown>) {
    this.dir = join(outDir, CHUNKS_DIR);
  }

  begin(plan: Record<string, unknown>): void {
    const want = JSON.stringify({ ...this.inputs, ...plan });
    const planPath = join(this.dir, 'plan.json');
    if (existsSync(planPath) && JSON.stringify(JSON.parse(readFileSync(planPath, 'utf8'))) === want) return;
    rmSync(this.dir, { recursive: true, force: true });
    mkdirSync(this.dir, { recursive: true });
    writeFileAtomic(planPath, [json(JSON.parse(want))]);
  }

  private path(kind: string, c0: number, c1: number, ext: string) { return join(this.dir, `${kind}-${c0}-${c1}.${ext}`); }

  lambda(c0: number, c1: number): Float32Array | undefined {
    const p = this.path('lambda', c0, c1, 'npy');
    return existsSync(p) ? (readNpy(p).data as Float32Array) : undefined;
  }

  saveLambda(c0: number, c1: number, lambda: Float32Array): void {
    writeFileAtomic(this.path('lambda', c0, c1, 'npy'), [npyHeaderBytes('f4', [c1 - c0]), bytesOf(lambda)]);
  }

  fit(c0: number, c1: number): ChunkRecord | undefined {
    const p = this.path('fit', c0, c1, 'json');
    return existsSync(p) ? (JSON.parse(readFileSync(p, 'utf8')) as ChunkRecord) : undefined;
  }

  saveFit(c0: number, c1: number, f: ChunkFit): void {
    const w = c1 - c0;
    writeFileAtomic(this.path('fit', c0, c1, 'npy'), [npyHeaderBytes('f4', [this.components + 1, w]), bytesOf(f.attributions), bytesOf(f.bias)]);
    writeFileAtomic(this.path('fit', c0, c1, 'json'), [json({ iterations: f.iterations, converged: f.converged, residual: f.residual ?? null })]);
  }

  factor(n: number): Float64Array | undefined {
    const p = join(this.dir, 'factor.npy');
    if (!existsSync(p)) return undefined;
    // a damaged or foreign file is not an error: the factor is made again
    let f: NpyFile;
    try { f = NpyFile.open(p); } catch { return undefined; }
    try {
      if (f.header.dtype !== 'f8' || f.header.shape.join() !== `${n},${n}`) return undefined;
      const out = new Float64Array(n * n);
      f.readRowBytes(0, n, new Uint8Array(out.buffer));
      return out;
    } catch { return undefined; } finally { f.close(); }
  }

  gram(n: number): KeptGram | undefined {
    const p = join(this.dir, 'gram.npy');
    if (!existsSync(p)) return undefined;
    // a damaged or foreign file is not an error: the Gram matrix is built again
    try {
      const f = NpyFile.open(p);
      const fits = f.header.dtype === 'f4' && f.header.shape.join() === `${n},${n}`;
      f.close();
      if (!fits) return undefined;
    } catch { return undefined; }
    return (row0, rows) => {
      const f = NpyFile.open(p);
      try {
        const out = new Float32Array(rows * n);
        f.readRowBytes(row0, row0 + rows, new Uint8Array(out.buffer));
        return out;
      } finally { f.close(); }
    };
  }

  /** Whether the disk under the ledger has `bytes` free and 1 GB to spare: kept files save time, they are not needed. */
  private roomFor(bytes: number): boolean {
    try { const s = statfsSync(this.dir); return s.bavail * s.bsize >= bytes + 2 ** 30; } catch { return false; }
  }

  /**
   * The Gram matrix in float32 (its values, held here in float64), kept where the disk has room
   * for it and the factor after it: the factor saves more time, so it keeps its room. A Gram
   * matrix read from this ledger is not written again.
   */
  saveGram(gram: Float64Array, n: number): void {
    if (this.gram(n) || !this.roomFor(n * n * 4 + n * n * 8)) return;
    const rowsPer = Math.max(1, Math.floor((64 << 20) / (n * 4)));
    function* file() {
      yield npyHeaderBytes('f4', [n, n]);
      for (let r = 0; r < n; r += rowsPer) yield new Uint8Array(Float32Array.from(gram.subarray(r * n, Math.min(n, r + rowsPer) * n)).buffer);
    }
    writeFileAtomic(join(this.dir, 'gram.npy'), file());
  }

  saveFactor(factor: Float64Array, n: number): void {
    const size = n * n * 8;
    if (!this.roomFor(size)) return;
    const bytes = new Uint8Array(factor.buffer, factor.byteOffset, size);
    function* pieces() { for (let at = 0; at < size; at += 256 << 20) yield bytes.subarray(at, Math.min(size, at + (256 << 20))); }
    writeFileAtomic(join(this.dir, 'factor.npy'), [npyHeaderBytes('f8', [n, n]), ...pieces()]);
  }

  /** Chunks' lambdas, in example order, or undefined when none were chosen. */
  lambdas(chunks: [number, number][]): Float32Array | undefined {
    if (!chunks.every(([c0, c1]) => existsSync(this.path('lambda', c0, c1, 'npy')))) return undefined;
    const n = chunks.reduce((s, [c0, c1]) => s + c1 - c0, 0);
    const out = new Float32Array(n);
    let k = 0;
    for (const [c0, c1] of chunks) { out.set(this.lambda(c0, c1)!, k); k += c1 - c0; }
    return out;
  }

  /**
   * Write attributions.npy [|C| x n] and bias.npy [n] of the chunks (in `outDir`, or at `paths`),
   * in order, reading `blockBytes` of component rows of every chunk at a time.
   */
  assemble(outDir: string, chunks: [number, number][], blockBytes = 32 << 20,
    paths = { attributions: join(outDir, 'attributions.npy'), bias: join(outDir, 'bias.npy') }): void {
    const C = this.components;
    const n = chunks.reduce((s, [c0, c1]) => s + c1 - c0, 0);
    const files = chunks.map(([c0, c1]) => NpyFile.open(this.path('fit', c0, c1, 'npy')));
    try {
      const per = Math.max(1, Math.floor(blockBytes / (4 * n)));
      // one block and one read buffer per chunk, reused from block to block (the chunks are float32, ours)
      const block = new Float32Array(per * n);
      const reads = chunks.map(([c0, c1]) => new Uint8Array(per * (c1 - c0) * 4));
      function* rows(r0: number, r1: number): Generator<Uint8Array> {
        for (let j = r0; j < r1; j += per) {
          const e = Math.min(r1, j + per);
          let k = 0;
          chunks.forEach(([c0, c1], i) => {
            const w = c1 - c0;
            const raw = files[i]!.readRowBytes(j, e, reads[i]);
            const part = new Float32Array(raw.buffer, raw.byteOffset, (e - j) * w);
            for (let r = 0; r < e - j; r++) block.set(part.subarray(r * w, (r + 1) * w), r * n + k);
            k += w;
          });
          yield bytesOf(block.subarray(0, (e - j) * n));
        }
      }
      // handed over lazily: each block is written before the next one overwrites it (spread
      // into an array, every block would be the last one's contents)
      function* file(header: Uint8Array, r0: number, r1: number) { yield header; yield* rows(r0, r1); }
      writeFileAtomic(paths.attributions, file(npyHeaderBytes('f4', [C, n]), 0, C));
      writeFileAtomic(paths.bias, file(npyHeaderBytes('f4', [n]), C, C + 1));
    } finally {
      for (const f of files) f.close();
    }
  }

  remove(): void { rmSync(this.dir, { recursive: true, force: true }); }
}

/** What identifies a store's inputs for resuming: the rows used and the files' sizes and times. */
export function storeIdentity(files: string[], rows: readonly number[]): Record<string, unknown> {
  let h = 2166136261;
  for (const r of rows) { h ^= r; h = Math.imul(h, 16777619) >>> 0; }
  return {
    rows: rows.length, rowsHash: h,
    files: files.map((f) => { const s = statSync(f); return { f, size: s.size, mtimeMs: s.mtimeMs }; }),
  };
}
