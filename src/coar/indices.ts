/** Example indices as users write them on the command line (`coar sweep --indices`, edit sets). */
import { existsSync, readFileSync } from 'node:fs';
import { check } from '../errors.js';

/** Example indices written 5+9+12, 0-499, or @FILE (indices separated by spaces, commas or lines), in order, without repeats. */
export function parseIndices(text: string, flag: string): number[] {
  let body = text;
  if (text.startsWith('@')) {
    const file = text.slice(1);
    check(existsSync(file), () => `${flag}: index file ${file} not found`);
    body = readFileSync(file, 'utf8').trim().split(/[\s,]+/).join('+');
  }
  const range = /^(\d+)-(\d+)$/.exec(body);
  if (range) {
    const a = Number(range[1]), b = Number(range[2]);
    check(a <= b, () => `${flag}: index range ${body} is empty (${a} > ${b})`);
    return Array.from({ length: b - a + 1 }, (_, i) => a + i);
  }
  const out = new Set<number>();
  for (const part of body.split('+')) {
    check(/^\d+$/.test(part), () => `${flag}: '${part}' is not an example index (write 5+9+12, 0-499 or @file)`);
    out.add(Number(part));
  }
  return [...out];
}
