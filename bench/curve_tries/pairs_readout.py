"""Offline try: can a cheap non-linear term raise the held-out ceiling of linear attributions?
CNN store: fit on the first m training rows, score mean Pearson on the 256 held-out masks."""
import sys, numpy as np
S = __import__('os').environ.get('STORES', '/work/tmp_est/stores')
model = sys.argv[1] if len(sys.argv) > 1 else 'cnn'
X = np.load(f'{S}/{model}-train/masks.npy').astype(np.float64)
Y = np.load(f'{S}/{model}-train/test_margins.npy').astype(np.float64)
Xh = np.load(f'{S}/{model}-heldout/masks.npy').astype(np.float64)
Yh = np.load(f'{S}/{model}-heldout/test_margins.npy').astype(np.float64)
ms = [int(a) for a in sys.argv[2].split(',')] if len(sys.argv) > 2 else [224, 448, 896]
def pear(y, p):
    y = y - y.mean(0); p = p - p.mean(0)
    return (y * p).sum(0) / np.sqrt((y * y).sum(0) * (p * p).sum(0))
def ridge(A, y, lam):
    A1 = np.hstack([A, np.ones((A.shape[0], 1))])
    R = lam * np.eye(A1.shape[1]); R[-1, -1] = 0
    return np.linalg.solve(A1.T @ A1 + R, A1.T @ y)
def pred(A, w): return np.hstack([A, np.ones((A.shape[0], 1))]) @ w
n = Y.shape[1]
for m in ms:
    x, y = X[:m], Y[:m]
    w = ridge(x, y, 1e-3)
    lin_tr, lin_h = pred(x, w), pred(Xh, w)
    base = pear(Yh, lin_h).mean()
    # cubic read-out of each example's linear score (fitted on the training rows; in-sample scores)
    cub = []
    for e in range(n):
        s, sh = lin_tr[:, e], lin_h[:, e]
        c = np.polyfit(s, y[:, e], 3)
        cub.append(pear(Yh[:, e:e+1], np.polyval(c, sh)[:, None])[0])
    # cross-fitted scores for the read-out (fit w on half, read-out on other half) to avoid in-sample optimism
    h = m // 2
    w1 = ridge(x[:h], y[:h], 1e-3); s2 = pred(x[h:], w1); sh1 = pred(Xh, w1)
    cubx = []
    for e in range(n):
        c = np.polyfit(s2[:, e], y[h:, e], 3)
        cubx.append(pear(Yh[:, e:e+1], np.polyval(c, sh1[:, e])[:, None])[0])
    # pairwise terms among each example's top-k components (products of ablation indicators)
    out = {}
    for k in (4, 8):
        ps = []
        for e in range(n):
            top = np.argsort(-np.abs(w[:-1, e]))[:k]
            ab, abh = 1 - x[:, top], 1 - Xh[:, top]
            pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
            F = np.hstack([x] + [(ab[:, i] * ab[:, j])[:, None] for i, j in pairs])
            Fh = np.hstack([Xh] + [(abh[:, i] * abh[:, j])[:, None] for i, j in pairs])
            we = ridge(F, y[:, e], 1e-2)
            ps.append(pear(Yh[:, e:e+1], pred(Fh, we)[:, None])[0])
        out[k] = np.mean(ps)
    print(f'{model} m={m}: linear {base:.4f}  cubic read-out {np.mean(cub):.4f} (cross-fitted {np.mean(cubx):.4f})  pairs top4 {out[4]:.4f} top8 {out[8]:.4f}', flush=True)
