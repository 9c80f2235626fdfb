"""Offline try (numpy, not the engine): RBF kernel ridge on the masks, K(u, v) = exp(-|a_u - a_v|^2 / (4 C alpha))
with a = the ablated indicators, one kernel and one lambda per point for all examples; lambda from
{1e-3 .. 100} by the mean Pearson on the last 20% of the m training rows, then refitted on all m
rows and scored on the held-out masks. Prints m and the held-out mean Pearson.
  kernel_curve.py MODEL m1,m2,..."""
import sys, numpy as np
S = __import__('os').environ.get('STORES', '/work/tmp_est/stores'); model = sys.argv[1]
X = np.load(f'{S}/{model}-train/masks.npy').astype(np.float64); Y = np.load(f'{S}/{model}-train/test_margins.npy').astype(np.float64)
Xh = np.load(f'{S}/{model}-heldout/masks.npy').astype(np.float64); Yh = np.load(f'{S}/{model}-heldout/test_margins.npy').astype(np.float64)
C = X.shape[1]
def pear(y, p):
    y = y - y.mean(0); p = p - p.mean(0)
    return (y * p).sum(0) / np.sqrt((y * y).sum(0) * (p * p).sum(0))
def rbf(A, B):
    a, b = 1 - A, 1 - B
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None] - 2 * a @ b.T
    return np.exp(-d / (4 * C * 0.05))
def fitpred(xa, ya, xb, lam):
    mu = ya.mean(0)
    return rbf(xb, xa) @ np.linalg.solve(rbf(xa, xa) + lam * np.eye(len(xa)), ya - mu) + mu
for m in [int(v) for v in sys.argv[2].split(',')]:
    x, y = X[:m], Y[:m]; mt = m - round(0.2 * m)
    best = max(((pear(y[mt:], fitpred(x[:mt], y[:mt], x[mt:], lam)).mean(), lam) for lam in [1e-3, 1e-2, 1e-1, 1, 10, 100]), key=lambda t: t[0])
    p = pear(Yh, fitpred(x, y, Xh, best[1]))
    print(f'{model} rbf m={m}: {p.mean():.4f} +- {p.std(ddof=1):.3f} (lambda {best[1]})', flush=True)
