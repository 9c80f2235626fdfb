"""Independent reference for `coar eval --heldout`: numpy writes a held-out store and
attributions, scipy scores them.

  make DIR --m M --c C --n N --seed S [--alpha A] [--attributions ADIR] [--incomplete K]
      DIR: masks.npy bool [M, C] (alpha ablated, i.i.d.), test_margins.npy float16 [M, N]
      (a planted linear model plus noise), manifest.json {seed, alpha}; ADIR (default DIR):
      attributions.npy float32 [C, N] (the planted weights, perturbed) and bias.npy [N].
      With --incomplete K, _completed.npy marks every K-th row not completed.
      Written in blocks of rows through memory maps, so large stores need little memory.
  score DIR ADIR
      scipy's Pearson and Spearman per example between the stored margins and
      masks @ attributions + bias (float64), over the completed rows (_completed.npy) if the
      store has one: {"pearson": [...], "spearman": [...]}
Every command prints one JSON object.
"""
import json
import os
import sys

import numpy as np
from scipy import stats


def make(d, m, c, n, seed, alpha, adir, incomplete):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(c, n)).astype(np.float32) * np.float32(0.3 / np.sqrt(alpha * c))
    bias = rng.normal(size=n).astype(np.float32)
    os.makedirs(d, exist_ok=True)
    os.makedirs(adir, exist_ok=True)
    masks = np.lib.format.open_memmap(os.path.join(d, 'masks.npy'), mode='w+', dtype=np.bool_, shape=(m, c))
    margins = np.lib.format.open_memmap(os.path.join(d, 'test_margins.npy'), mode='w+', dtype=np.float16, shape=(m, n))
    block = max(1, (64 << 20) // (4 * max(c, n)))
    for r in range(0, m, block):
        e = min(m, r + block)
        x = rng.random((e - r, c)) >= alpha
        masks[r:e] = x
        margins[r:e] = (x.astype(np.float32) @ w + bias + rng.normal(scale=0.1, size=(e - r, n)).astype(np.float32)).astype(np.float16)
    masks.flush()
    margins.flush()
    del masks, margins
    # attributions near the planted ones, so the correlations are high but not perfect
    a = w + rng.normal(size=(c, n)).astype(np.float32) * np.float32(0.3 / np.sqrt(alpha * c))
    np.save(os.path.join(adir, 'attributions.npy'), a.astype(np.float32))
    np.save(os.path.join(adir, 'bias.npy'), bias)
    if incomplete:
        done = np.ones(m, dtype=bool)
        done[::incomplete] = False
        np.save(os.path.join(d, '_completed.npy'), done)
    with open(os.path.join(d, 'manifest.json'), 'w') as f:
        json.dump({'seed': seed, 'alpha': alpha}, f)
    print(json.dumps({'rows': m}))


def score(d, adir):
    a = np.load(os.path.join(adir, 'attributions.npy')).astype(np.float64)
    b = np.load(os.path.join(adir, 'bias.npy')).astype(np.float64)
    x = np.load(os.path.join(d, 'masks.npy')).astype(np.float64)
    y = np.load(os.path.join(d, 'test_margins.npy')).astype(np.float64)
    p = x @ a + b
    done = os.path.join(d, '_completed.npy')
    if os.path.exists(done):
        keep = np.load(done)
        p, y = p[keep], y[keep]
    out = {'pearson': [float(stats.pearsonr(y[:, e], p[:, e])[0]) for e in range(y.shape[1])],
           'spearman': [float(stats.spearmanr(y[:, e], p[:, e])[0]) for e in range(y.shape[1])]}
    print(json.dumps(out))


if __name__ == '__main__':
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == 'make':
        kw = dict(zip([k.lstrip('-') for k in args[1::2]], args[2::2]))
        make(args[0], int(kw['m']), int(kw['c']), int(kw['n']), int(kw['seed']), float(kw.get('alpha', 0.05)),
             kw.get('attributions', args[0]), int(kw.get('incomplete', 0)))
    elif cmd == 'score':
        score(args[0], args[1])
    else:
        sys.exit(f'unknown command {cmd}')
