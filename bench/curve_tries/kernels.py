"""Offline try: held-out mean Pearson of kernel ridge on the masks (all pairwise terms through a degree-2
polynomial kernel; an RBF kernel) against linear least squares, CNN store, first m training rows.
lambda chosen on the last 20% of the m rows (never the held-out masks)."""
import sys, numpy as np
S = __import__('os').environ.get('STORES', '/work/tmp_est/stores'); model = sys.argv[1]
X = np.load(f'{S}/{model}-train/masks.npy').astype(np.float64); Y = np.load(f'{S}/{model}-train/test_margins.npy').astype(np.float64)
Xh = np.load(f'{S}/{model}-heldout/masks.npy').astype(np.float64); Yh = np.load(f'{S}/{model}-heldout/test_margins.npy').astype(np.float64)
def pear(y, p):
    y = y - y.mean(0); p = p - p.mean(0)
    return (y * p).sum(0) / np.sqrt((y * y).sum(0) * (p * p).sum(0))
C = X.shape[1]
def kern(kind, A, B):
    # centred-ish coding: ablated = 1 (the rare value)
    a, b = 1 - A, 1 - B
    if kind == 'lin': return a @ b.T + 1
    if kind == 'poly2': return (a @ b.T + 1) ** 2
    if kind == 'poly2s':  # linear plus down-weighted pairs
        k = a @ b.T; return 1 + k + 0.25 * k * k
    if kind == 'rbf':
        d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None] - 2 * a @ b.T
        return np.exp(-d / (4 * C * 0.05))
def fitpred(kind, xa, ya, xb, lam):
    K = kern(kind, xa, xa); mu = ya.mean(0)
    al = np.linalg.solve(K + lam * np.eye(len(xa)), ya - mu)
    return kern(kind, xb, xa) @ al + mu
for m in [int(v) for v in sys.argv[2].split(',')]:
    x, y = X[:m], Y[:m]; mt = m - round(0.2 * m)
    row = []
    for kind in ('lin', 'poly2', 'poly2s', 'rbf'):
        best = None
        for lam in [1e-3, 1e-2, 1e-1, 1, 10, 100]:
            v = pear(y[mt:], fitpred(kind, x[:mt], y[:mt], x[mt:], lam)).mean()
            if best is None or v > best[0]: best = (v, lam)
        h = pear(Yh, fitpred(kind, x, y, Xh, best[1])).mean()
        row.append(f'{kind} {h:.4f} (lam {best[1]})')
    print(f'{model} m={m}: ' + '  '.join(row), flush=True)
