/**
 * The summaries the report shows, computed from the attribution matrix
 * [components x examples] (row-major: attributions[j * n + i]). Pure functions over
 * typed arrays, so the report's numbers can be checked without rendering anything.
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
 * The k components with the largest |value(j)|, largest first (ties: lower index first).
 * One pass with a small sorted buffer: |C| can be ~10^5 and k is ~10.
 */
export function topByMagnitude(count: number, value: (j: number) => number, k: number): Ranked[] {
  const top: Ranked[] = [];
  for (let j = 0; j < count; j++) {
    const v = value(j);
    if (!Number.isFinite(v)) continue;
    const a = Math.abs(v);
    if (top.length === k && a <= Math.abs(top[k - 1]!.value)) continue;
    let at = top.length;
    while (at > 0 && Math.abs(top[at - 1]!.value) < a) at--;
    top.splice(at, 0, { component: j, value: v });
    if (top.length > k) top.pop();
  }
  return top;
}

/** Attribution of every component for example i (column i of the matrix). */
export function exampleAttributions(attributions: Float32Array, n: number, i: number): (j: number) => number {
  return (j) => attributions[j * n + i]!;
}

/**
 * Mean attribution of every component over the examples of each of the given classes
 * (each must have at least one example). Returns one Float64Array of length |C| per class.
 */
export function classMeans(attributions: Float32Array, n: number, labels: readonly number[], classes: readonly number[]): Map<number, Float64Array> {
  const c = n > 0 ? attributions.length / n : 0;
  const sums = new Map(classes.map((k) => [k, new Float64Array(c)]));
  const counts = new Map(classes.map((k) => [k, 0]));
  const columns = labels.map((l) => sums.get(l));
  for (const l of labels) if (counts.has(l)) counts.set(l, counts.get(l)! + 1);
  for (let j = 0; j < c; j++) {
    const row = j * n;
    for (let i = 0; i < n; i++) {
      const s = columns[i];
      if (s) s[j]! += attributions[row + i]!;
    }
  }
  for (const [k, s] of sums) {
    const count = counts.get(k)!;
    if (count === 0) throw new Error(`class ${k} has no examples to average over`);
    for (let j = 0; j < c; j++) s[j]! /= count;
  }
  return sums;
}

export interface LayerMass { layer: string; components: number; mass: number }

/**
 * Attribution mass per layer: the sum over the layer's components of |attribution|,
 * averaged over examples. Layers in the order they first appear in the component table.
 */
export function layerMass(attributions: Float32Array, n: number, layers: readonly string[]): LayerMass[] {
  const out: LayerMass[] = [];
  const at = new Map<string, LayerMass>();
  for (let j = 0; j < layers.length; j++) {
    let m = at.get(layers[j]!);
    if (!m) {
      m = { layer: layers[j]!, components: 0, mass: 0 };
      at.set(m.layer, m);
      out.push(m);
    }
    let s = 0;
    for (let i = 0, row = j * n; i < n; i++) {
      const v = attributions[row + i]!;
      if (Number.isFinite(v)) s += Math.abs(v);
    }
    m.components++;
    m.mass += n > 0 ? s / n : 0;
  }
  return out;
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
