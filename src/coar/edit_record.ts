/**
 * The record of one COAR-Edit (edit.json): what it chose and what it measured. It lives
 * here, below the report that renders it (report/edit.ts), so the edit stage can build it.
 */
import type { SetScore } from './edit.js';

/** edit.json, as `coar edit` writes it. */
export interface EditRecord {
  format: 'webcoar-edit-1';
  title: string;
  model: { arch: string; weights: string; sha256: string; components: number };
  direction: 'lower' | 'raise';
  /** percentage points */
  maxDrop: number;
  /** per-class budget on the validation reference set, points (absent: none) */
  maxClassDrop?: number;
  maxK: number;
  /** how k was searched (src/coar/edit.ts, Search); records before the skip search are 'prefix' */
  search?: 'prefix' | 'skip';
  chosen: { k: number; components: { index: number; name: string; score: number }[] };
  curve: { k: number; valTarget: SetScore; valReference: SetScore }[];
  /** candidate k ablates sequence[0..k) */
  sequence?: { index: number; name: string; score: number }[];
  /** components the skip search passed over (over the budget, or no help to the target) */
  skipped?: string[];
  /** the first maxK components in ablation order */
  ranking: { index: number; name: string; score: number }[];
  sets: Record<string, {
    spec: string; data: unknown; indices: number[]; labels: number[];
    before: SetScore; after: SetScore;
    margins: { before: number[]; after: number[] };
  }>;
  seconds: number;
  edited: string;
}
