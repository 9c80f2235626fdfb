/**
 * Kernel by kernel, how two profiles of a model differ (two tiles, two adapters, two batch
 * sizes, two commits): kernels are matched by their op's label (and its occurrence, should
 * a label repeat), and each matched pair gets the time ratio B / A.
 */
import type { KernelKind, KernelProfile } from './profile.js';
import type { ProfileFile } from './profile_file.js';

export interface CompareSide { kernel: string; seconds: number; gflops: number }

export interface CompareRow {
  label: string;
  kind: KernelKind;
  a?: CompareSide;
  b?: CompareSide;
  /** b.seconds / a.seconds, where both have the kernel */
  ratio?: number;
}

export interface Comparison {
  a: string;
  b: string;
  rows: CompareRow[];
  /** over the kernels both profiles have */
  matched: { a: number; b: number; ratio: number };
}

export function compareProfiles(a: ProfileFile, b: ProfileFile, names: { a: string; b: string }): Comparison {
  const key = (ks: KernelProfile[]) => {
    const seen = new Map<string, number>();
    return ks.map((k) => { const n = seen.get(k.label) ?? 0; seen.set(k.label, n + 1); return `${k.label}#${n}`; });
  };
  const side = (k: KernelProfile): CompareSide => ({ kernel: k.kernel, seconds: k.seconds, gflops: k.gflops });
  const ka = key(a.profile.kernels), kb = key(b.profile.kernels);
  const inB = new Map(kb.map((k, i) => [k, b.profile.kernels[i]!]));
  const rows: CompareRow[] = [];
  let sa = 0, sb = 0;
  a.profile.kernels.forEach((k, i) => {
    const other = inB.get(ka[i]!);
    const row: CompareRow = { label: k.label, kind: k.kind, a: side(k) };
    if (other) {
      row.b = side(other);
      row.ratio = other.seconds / k.seconds;
      sa += k.seconds;
      sb += other.seconds;
    }
    rows.push(row);
  });
  const inA = new Set(ka);
  b.profile.kernels.forEach((k, i) => { if (!inA.has(kb[i]!)) rows.push({ label: k.label, kind: k.kind, b: side(k) }); });
  return { a: names.a, b: names.b, rows, matched: { a: sa, b: sb, ratio: sb / sa } };
}

/** The comparison as a fixed-width table: one row per kernel, then the matched total. */
export function formatComparison(c: Comparison): string {
  const ms = (s?: CompareSide) => (s ? (s.seconds * 1e3).toFixed(3) : '-');
  const ratio = (r?: number) => (r !== undefined && Number.isFinite(r) ? `${r.toFixed(2)}x` : '-');
  const head = ['op', 'kind', 'A kernel', 'B kernel', 'A ms', 'B ms', 'B/A'];
  const rows = c.rows.map((r) => [r.label, r.kind, r.a?.kernel ?? '-', r.b?.kernel ?? '-', ms(r.a), ms(r.b), ratio(r.ratio)]);
  rows.push(['total (matched)', '', '', '', (c.matched.a * 1e3).toFixed(3), (c.matched.b * 1e3).toFixed(3), ratio(c.matched.ratio)]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((x, i) => (i < 4 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join('  ').trimEnd();
  return [`A: ${c.a}`, `B: ${c.b}`, line(head), ...rows.map(line)].join('\n');
}
