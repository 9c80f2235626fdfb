/**
 * The summaries the report shows, computed from the attribution matrix
 * [components x examples] (row-major: attributions[j * n + i]), held whole or handed a
 * block of rows at a time. Pure functions over typed arrays, so the report's numbers can be
 * checked without rendering anything.
 */

/** Finite values of xs (a correlation is NaN when a margin is constant over the masks). */
export function finiteValues(xs: ArrayLike<number>): number[] {
  const out: number[] = [];
  for (let i = 0; i < xs.length; i++) if (Number.isFinite(xs[i]!)) out.push(xs[i]!);
  return out;
}

export function mean(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

export interface Ranked { component: number; value: number }

/**
 * The k components with the largest |value| among those offered, largest first (ties: lower
 * index first), when offered in increasing component order. A small sorted buffer: |C| can
 * be ~10^5 and k is ~10, and the components can arrive a block of rows at a time.
 */
export class TopByMagnitude {
  readonly top: Ranked[] = [];
  constructor(readonly k: number) {}
  offer(j: number, v: number): void {
    const top = this.top, k = this.k;
    if (!Number.isFinite(v)) return;
    const a = Math.abs(v);
    if (top.length === k && a <= Math.abs(top[k - 1]!.value)) return;
    let at = top.length;
    while (at > 0 && Math.abs(top[at - 1]!.value) < a) at--;
    top.splice(at, 0, { component: j, value: v });
    if (top.length > k) top.pop();
  }
}

/** The k components with the largest |value(j)|, largest first (ties: lower index first). */
export function topByMagnitude(count: number, value: (j: number) => number, k: number): Ranked[] {
  const t = new TopByMagnitude(k);
  for (let j = 0; j < count; j++) t.offer(j, value(j));
  return t.top;
}

/** Attribution of every component for example i (column i of the matrix). */
export function exampleAttributions(attributions: Float32Array, n: number, i: number): (j: number) => number {
  return (j) => attributions[j * n + i]!;
}

/**
 * The attribution matrix a block of component rows at a time: `visit(j0, block)` is called
 * with rows [j0, j0 + block.length / n) as [rows x n], in increasing j0, covering every row
 * once. A whole matrix is one block; a file larger than memory is read in many
 * (coar/results.ts forEachAttributionBlock).
 */
export type AttributionBlocks = (visit: (j0: number, block: Float32Array) => void) => void;

/** The whole matrix in memory as one block. */
export const wholeMatrix = (attributions: Float32Array): AttributionBlocks => (visit) => visit(0, attributions);

/**
 * Mean attribution of every component over the examples of each of the given classes
 * (each must have at least one example). Returns one Float64Array of length |C| per class.
 */
export function classMeans(attributions: Float32Array, n: number, labels: readonly number[], classes: readonly number[]): Map<number, Float64Array> {
  return summarizeAttributions(wholeMatrix(attributions), n > 0 ? attributions.length / n : 0, n, { examples: [], labels, classes, layers: [], k: 0 }).classMeans;
}

export interface LayerMass { layer: string; components: number; mass: number }

/**
 * Attribution mass per layer: the sum over the layer's components of |attribution|,
 * averaged over examples. Layers in the order they first appear in the component table.
 */
export function layerMass(attributions: Float32Array, n: number, layers: readonly string[]): LayerMass[] {
  return summarizeAttributions(wholeMatrix(attributions), layers.length, n, { examples: [], labels: [], classes: [], layers, k: 0 }).layers;
}

export interface AttributionSummary {
  /** for each listed example, its k components of largest |attribution| (topByMagnitude) */
  top: Map<number, Ranked[]>;
  /** for each listed class, the mean attribution of every component over its examples (classMeans) */
  classMeans: Map<number, Float64Array>;
  /** attribution mass per layer (layerMass); empty when no layers are given */
  layers: LayerMass[];
}

/**
 * Everything the report shows of the attribution matrix, in one pass over its row blocks:
 * memory is one block plus |C| float64 per listed class, whatever n is. Each row's numbers
 * are summed in the same order as over the whole matrix, so a file read in blocks gives the
 * same values, to the bit, as the matrix held whole.
 */
export function summarizeAttributions(blocks: AttributionBlocks, components: number, n: number,
  opts: { examples: readonly number[]; labels: readonly number[]; classes: readonly number[]; layers: readonly string[]; k: number }): AttributionSummary {
  const tops = opts.examples.map(() => new TopByMagnitude(opts.k));
  const sums = new Map(opts.classes.map((k) => [k, new Float64Array(components)]));
  const counts = new Map(opts.classes.map((k) => [k, 0]));
  const columns = opts.labels.map((l) => sums.get(l));
  for (const l of opts.labels) if (counts.has(l)) counts.set(l, counts.get(l)! + 1);
  const layers: LayerMass[] = [];
  const at = new Map<string, LayerMass>();
  let next = 0;
  blocks((j0, block) => {
    if (j0 !== next) throw new Error(`attribution rows from ${j0} handed after rows up to ${next}`);
    const rows = n > 0 ? block.length / n : components - j0;
    for (let r = 0; r < rows; r++) {
      const j = j0 + r, row = r * n;
      opts.examples.forEach((i, t) => tops[t]!.offer(j, block[row + i]!));
      if (sums.size) {
        for (let i = 0; i < n; i++) {
          const s = columns[i];
          if (s) s[j]! += block[row + i]!;
        }
      }
      if (j < opts.layers.length) {
        let m = at.get(opts.layers[j]!);
        if (!m) {
          m = { layer: opts.layers[j]!, components: 0, mass: 0 };
          at.set(m.layer, m);
          layers.push(m);
        }
        let s = 0;
        for (let i = 0; i < n; i++) {
          const v = block[row + i]!;
          if (Number.isFinite(v)) s += Math.abs(v);
        }
        m.components++;
        m.mass += n > 0 ? s / n : 0;
      }
    }
    next = j0 + rows;
  });
  if (next !== components && n > 0) throw new Error(`attribution rows handed up to ${next}, expected ${components}`);
  for (const [k, s] of sums) {
    const count = counts.get(k)!;
    if (count === 0) throw new Error(`class ${k} has no examples to average over`);
    for (let j = 0; j < components; j++) s[j]! /= count;
  }
  return { top: new Map(opts.examples.map((i, t) => [i, tops[t]!.top])), classMeans: sums, layers };
}

/**
 * A component's name shortened for a plot label: torchvision's ViT names
 * (`encoder.layers.encoder_layer_3.self_attention.in_proj_weight[17]`) become
 * `L3.attn.qkv[17]` (and its module, `...self_attention`, `L3.attn.qkv`), and a `.weight`
 * before the row index goes. Tables keep the full name, which is what PyTorch uses.
 */
export function shortName(name: string): string {
  return name
    .replace(/^encoder\.layers\.encoder_layer_(\d+)\./, 'L$1.')
    .replace(/self_attention\.in_proj_weight/, 'attn.qkv')
    .replace(/self_attention\.out_proj/, 'attn.out')
    .replace(/self_attention$/, 'attn.qkv')
    .replace(/\.weight\[/, '[');
}
