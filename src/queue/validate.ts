/**
 * Checks of fields that come from the network (queue jobs and results): nothing in them is
 * trusted; each check throws an Error naming the field and its value.
 */
export type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export function fields(o: Obj, where: string, allowed: string[]): void {
  const extra = Object.keys(o).filter((k) => !allowed.includes(k));
  if (extra.length) throw new Error(`${where} has unknown field(s) ${extra.join(', ')}`);
}
export function str(o: Obj, k: string, where: string, re: RegExp, max = 4096): string {
  const v = o[k];
  if (typeof v !== 'string' || v.length > max || !re.test(v)) throw new Error(`${where}.${k} ${JSON.stringify(v)?.slice(0, 80)} is not ${re}`);
  return v;
}
export function int(o: Obj, k: string, where: string, lo: number, hi: number): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) throw new Error(`${where}.${k} ${JSON.stringify(v)} is not an integer in [${lo}, ${hi}]`);
  return v;
}
export function oneOf<T extends string>(o: Obj, k: string, where: string, options: readonly T[]): T {
  const v = o[k];
  if (!options.includes(v as T)) throw new Error(`${where}.${k} ${JSON.stringify(v)} is not one of ${options.join(', ')}`);
  return v as T;
}

export const HEX64 = /^[0-9a-f]{64}$/;
export const ABS_PATH = /^\/[^\0]*$/;
export const FILE_NAME = /^[^/\0]+$/;
