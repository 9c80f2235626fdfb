"""Independent reference for `coar curve`: numpy writes the stores, scipy scores the points.

  make DIR --m M --c C --n N --seed S [--alpha A] [--noise SD] [--wseed W]
      a store of M masks over C components (alpha ablated) and N examples whose margins
      are a planted linear model (weights from --wseed, the same for every store made with
      it) plus noise; manifest.json names the seed and alpha
  score CURVE_DIR HELDOUT EST M
      the point's attributions (points/EST-M.attributions.npy, .bias.npy) scored on the
      held-out store with scipy: {"pearson": [...], "spearman": [...]}
  ols STORE M EXAMPLES
      numpy's least squares with an intercept on the first M rows, for the first EXAMPLES
      examples (float64): {"attributions": [[...] per component], "bias": [...]}
Every command prints one JSON object.
"""
import json
import os
import sys

import numpy as np
from scipy import stats


def make(d, m, c, n, seed, alpha=0.1, noise=0.1, wseed=0):
    w = np.random.default_rng(wseed).normal(size=(c, n))
    rng = np.random.default_rng(seed)
    masks = rng.random((m, c)) >= alpha
    margins = 1.0 + masks @ w * 0.3 + rng.normal(scale=noise, size=(m, n))
    os.makedirs(d, exist_ok=True)
    np.save(os.path.join(d, 'masks.npy'), masks)
    np.save(os.path.join(d, 'test_margins.npy'), margins.astype(np.float32))
    np.save(os.path.join(d, '_completed.npy'), np.ones(m, dtype=bool))
    with open(os.path.join(d, 'manifest.json'), 'w') as f:
        json.dump({'components': [f'layer.weight[{j}]' for j in range(c)], 'seed': seed, 'alpha': alpha}, f)
    print(json.dumps({'rows': m}))


def score(curve, heldout, est, m):
    a = np.load(os.path.join(curve, 'points', f'{est}-{m}.attributions.npy')).astype(np.float64)
    b = np.load(os.path.join(curve, 'points', f'{est}-{m}.bias.npy')).astype(np.float64)
    x = np.load(os.path.join(heldout, 'masks.npy')).astype(np.float64)
    y = np.load(os.path.join(heldout, 'test_margins.npy')).astype(np.float64)
    p = x @ a + b
    def r(f, e):
        if np.ptp(p[:, e]) == 0 or np.ptp(y[:, e]) == 0:
            return None  # undefined: constant predictions or margins
        return float(f(y[:, e], p[:, e])[0])
    out = {'pearson': [r(stats.pearsonr, e) for e in range(y.shape[1])],
           'spearman': [r(stats.spearmanr, e) for e in range(y.shape[1])]}
    print(json.dumps(out))


def ols(d, m, e):
    x = np.load(os.path.join(d, 'masks.npy'), mmap_mode='r')[:m].astype(np.float64)
    y = np.load(os.path.join(d, 'test_margins.npy'), mmap_mode='r')[:m, :e].astype(np.float64)
    coef = np.linalg.lstsq(np.hstack([x, np.ones((m, 1))]), y, rcond=None)[0]
    print(json.dumps({'attributions': coef[:-1].tolist(), 'bias': coef[-1].tolist()}))


if __name__ == '__main__':
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == 'make':
        kw = dict(zip([k.lstrip('-') for k in args[1::2]], args[2::2]))
        make(args[0], int(kw['m']), int(kw['c']), int(kw['n']), int(kw['seed']), float(kw.get('alpha', 0.1)),
             float(kw.get('noise', 0.1)), int(kw.get('wseed', 0)))
    elif cmd == 'score':
        score(args[0], args[1], args[2], int(args[3]))
    elif cmd == 'ols':
        ols(args[0], int(args[1]), int(args[2]))
    else:
        sys.exit(f'unknown command {cmd}')
