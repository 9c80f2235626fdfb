/**
 * WGSL sources from shaders/: real .wgsl files, specialised in two ways only:
 *  - `#if NAME` / `#elif NAME` / `#else` / `#endif` blocks, resolved by wgsl-preprocessor
 *    with NAME looked up in the defines;
 *  - `const NAME: u32 = 8u;` lines whose value a caller may replace (array sizes and
 *    unroll counts must be compile-time constants in WGSL, so `override` cannot do it);
 *  - `#include "file.wgsl"` lines, replaced by that file (a shared core, e.g. matmul_core.wgsl,
 *    and the kernel files that give it their read and write hooks).
 * Everything else (workgroup sizes, scalars) is an `override` set at pipeline creation.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';

const SHADER_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'shaders');
const sources = new Map<string, string>();

export type Defines = Record<string, boolean | number>;

export function shaderSource(file: string, defines: Defines = {}): string {
  let src = sources.get(file);
  if (src === undefined) {
    src = readFileSync(join(SHADER_DIR, file), 'utf8')
      .replace(/^#include "([^"]+)"[ \t]*$/gm, (_, inc: string) => readFileSync(join(SHADER_DIR, inc), 'utf8'));
    sources.set(file, src);
  }
  const used = new Set<string>();
  // constants first: `const NAME: T = value;`
  src = src.replace(/^(\s*const\s+([A-Z][A-Z0-9_]*)\s*:\s*(\w+)\s*=\s*)([^;]+);/gm, (whole, head: string, name: string, type: string) => {
    if (!(name in defines)) return whole;
    used.add(name);
    const v = defines[name]!;
    const lit = type === 'u32' ? `${Number(v)}u` : type === 'i32' ? `${Number(v)}i` : type === 'bool' ? String(!!v) : String(v);
    return `${head}${lit};`;
  });
  // then conditionals, as a tagged-template call
  const strings: string[] = [];
  const values: unknown[] = [];
  let last = 0;
  for (const m of src.matchAll(/#(if|elif)[ \t]+([A-Za-z_][A-Za-z0-9_]*)/g)) {
    strings.push(src.slice(last, m.index! + m[0].length - m[2]!.length).trimEnd().concat(' '));
    const name = m[2]!;
    used.add(name);
    values.push(!!defines[name]);
    last = m.index! + m[0].length;
  }
  strings.push(src.slice(last));
  for (const k of Object.keys(defines)) {
    if (!used.has(k)) throw new Error(`shader ${file}: define ${k} is not used by the shader`);
  }
  const arr = Object.assign([...strings], { raw: [...strings] }) as unknown as TemplateStringsArray;
  return wgsl(arr, ...values);
}
