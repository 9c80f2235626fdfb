/**
 * The component table of a model (REFERENCE.md, "Components"): groups of output rows in
 * the model's module order, each row one component named `<param name>[row]`. Computed
 * once per model and used by sweep, fit, report and edit alike.
 */
export interface ComponentGroup {
  /** module name, e.g. `layer3.1.conv2` */
  layer: string;
  /** parameter whose output rows are the components, e.g. `layer3.1.conv2.weight` */
  param: string;
  /** global index of row 0 */
  offset: number;
  count: number;
}

export class ComponentTable {
  readonly groups: readonly ComponentGroup[];
  readonly size: number;

  constructor(groups: { layer: string; param: string; count: number }[]) {
    let offset = 0;
    this.groups = groups.map((g) => {
      const out = { ...g, offset };
      offset += g.count;
      return out;
    });
    this.size = offset;
  }

  group(layer: string): ComponentGroup {
    const g = this.groups.find((x) => x.layer === layer);
    if (!g) throw new Error(`no component group ${layer}`);
    return g;
  }

  name(index: number): string {
    const g = this.locate(index);
    return `${g.param}[${index - g.offset}]`;
  }

  locate(index: number): ComponentGroup {
    let lo = 0, hi = this.groups.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.groups[mid]!.offset <= index) lo = mid; else hi = mid - 1;
    }
    return this.groups[lo]!;
  }

  *entries(): Generator<{ index: number; name: string; layer: string }> {
    for (const g of this.groups) for (let r = 0; r < g.count; r++) yield { index: g.offset + r, name: `${g.param}[${r}]`, layer: g.layer };
  }

  names(): string[] { return [...this.entries()].map((e) => e.name); }
}

/**
 * The module a component name belongs to, from the name alone: `layer3.1.conv2.weight[5]`
 * is in `layer3.1.conv2`, `encoder.layers.encoder_layer_0.self_attention.in_proj_weight[7]`
 * in `...self_attention` (the `layer` of ComponentTable's entries).
 */
export function componentLayer(name: string): string {
  return name.replace(/\[\d+\]$/, '').replace(/\.(?:in_proj_)?weight$/, '');
}
