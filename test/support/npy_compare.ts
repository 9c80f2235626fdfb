/** Two folders' .npy files compared by numpy (Debian's python3): shapes, dtypes and max |a - b| / max |b|. */
import { execFileSync } from 'node:child_process';
import { PYTHON } from './python.js';

const SCRIPT = `
import json, sys
import numpy as np
a, b = sys.argv[1], sys.argv[2]
out = {}
for f in sys.argv[3:]:
    x, y = np.load(f"{a}/{f}", allow_pickle=False), np.load(f"{b}/{f}", allow_pickle=False)
    same = x.shape == y.shape and x.dtype == y.dtype
    rel = float(np.max(np.abs(x.astype(np.float64) - y)) / max(np.max(np.abs(y.astype(np.float64))), 1e-30)) if same else None
    out[f] = {"shape": list(x.shape), "other": list(y.shape), "dtype": str(x.dtype), "same": same, "rel": rel}
print(json.dumps(out))
`;

export function npyRelDiff(a: string, b: string, files: string[]): Record<string, { shape: number[]; other: number[]; dtype: string; same: boolean; rel: number | null }> {
  return JSON.parse(execFileSync(PYTHON, ['-c', SCRIPT, a, b, ...files], { encoding: 'utf8' }));
}
