/** Console lines the queue commands share (coar worker, sweep --queue, fit --queue). */

/**
 * Redis connection errors, at most one line per 30 s: a Redis that is down reports on every
 * retry, and a coordinator or worker keeps retrying until it is back.
 */
export function connectionErrors(shown: string, log: (line: string) => void): (message: string) => void {
  let last = -Infinity;
  return (m) => {
    const t = performance.now();
    if (t - last > 30_000) { last = t; log(`${shown}: ${m} (retrying)`); }
  };
}

/** A worker's rate: whole numbers from 10 up, two significant digits below. */
export const rate = (r: number): string => (r >= 10 ? r.toFixed(0) : r.toPrecision(2));
