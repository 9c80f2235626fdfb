"""Independent reference for `coar fit`: numpy writes the stores, scikit-learn fits them.

  make STORE --m M --c C --n N [--seed S] [--alpha A] [--dtype f2|f4] [--incomplete K] [--manifest 1] [--constant K]
  ridge STORE OUT LAMBDA        sklearn Ridge on the standardized masks -> relative errors
  ridge_many STORE LAMBDA OUT.. the same for several outputs -> {OUT: errors}
  ols_min_norm STORE OUT..      numpy lstsq on the centred, standardized masks (the minimum-norm
                                solution in standardized units when m < |C|) -> {OUT: errors}
  ols STORE OUT                 numpy least squares with an intercept -> relative errors
  lasso STORE OUT LAMBDA        sklearn Lasso at the same lambda -> both objectives
  select STORE OUT METHOD       the chosen lambdas against validation MSE of sklearn fits
  gram STORE GRAM.npy           a kept Gram matrix against Z^T Z of the StandardScaler'd masks -> relative error
  time STORE ridge,ols,lasso L LL  seconds taken by scikit-learn / numpy (ridge at L, lasso at LL)
  cholesky DIR N W LAMBDA SEED  numpy writes a Gram-like SPD matrix A [N x N] (one all-zero
                                row and column: a constant component), B [N x W], and numpy's
                                L = cholesky(A + LAMBDA I) (1 on every zero diagonal) and
                                X = (L L^T)^-1 B
Every command prints one JSON object.
"""
import json
import os
import sys

import numpy as np
from sklearn.linear_model import Lasso, Ridge
from sklearn.preprocessing import StandardScaler


def make(store, m, c, n, seed=0, alpha=0.05, dtype='f2', incomplete=0, manifest=False, constant=0):
    rng = np.random.default_rng(seed)
    os.makedirs(store, exist_ok=True)
    masks = rng.random((m, c)) >= alpha  # True = kept
    masks[:, :constant] = True  # components never ablated: no information, weight 0
    w = rng.normal(size=(c, n)) * (rng.random((c, n)) < 0.3)
    margins = 0.5 + masks @ w * 0.2 + rng.normal(scale=0.3, size=(m, n))
    np.save(os.path.join(store, 'masks.npy'), masks)
    np.save(os.path.join(store, 'test_margins.npy'), margins.astype(np.float16 if dtype == 'f2' else np.float32))
    if incomplete:
        done = np.ones(m, dtype=bool)
        done[rng.choice(m, incomplete, replace=False)] = False
        np.save(os.path.join(store, '_completed.npy'), done)
    if manifest:
        with open(os.path.join(store, 'manifest.json'), 'w') as f:
            json.dump({'components': [f'layer.weight[{j}]' for j in range(c)]}, f)


def load(store):
    masks = np.load(os.path.join(store, 'masks.npy'))
    y = np.load(os.path.join(store, 'test_margins.npy')).astype(np.float64)
    done = os.path.join(store, '_completed.npy')
    if os.path.exists(done):
        keep = np.load(done)
        masks, y = masks[keep], y[keep]
    return masks.astype(np.float64), y


def ours(out):
    return np.load(os.path.join(out, 'attributions.npy')).astype(np.float64), np.load(os.path.join(out, 'bias.npy')).astype(np.float64)


def ridge_raw(x, y, lam):
    """sklearn Ridge on StandardScaler(x), converted to raw mask units."""
    sc = StandardScaler().fit(x)
    r = Ridge(alpha=lam, fit_intercept=True, solver='cholesky').fit(sc.transform(x), y)
    w = r.coef_.T / sc.scale_[:, None]
    b = r.intercept_ - sc.mean_ @ w
    return w, b


def rel(a, b):
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def lasso_objective(x, y, w_raw, b, lam, scale):
    m = x.shape[0]
    r = y - b - x @ w_raw
    return 0.5 / m * (r ** 2).sum(axis=0) + lam * np.abs(w_raw * scale[:, None]).sum(axis=0)


def lasso_raw(x, y, lam):
    sc = StandardScaler().fit(x)
    z = sc.transform(x)
    ws, bs = [], []
    for k in range(y.shape[1]):
        l = Lasso(alpha=lam, fit_intercept=True, tol=1e-12, max_iter=200000).fit(z, y[:, k])
        ws.append(l.coef_ / sc.scale_)
        bs.append(l.intercept_ - sc.mean_ @ (l.coef_ / sc.scale_))
    return np.array(ws).T, np.array(bs), sc.scale_


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == 'make':
        store = args[0]
        opts = dict(zip(args[1::2], args[2::2]))
        make(store, int(opts['--m']), int(opts['--c']), int(opts['--n']), int(opts.get('--seed', 0)),
             float(opts.get('--alpha', 0.05)), opts.get('--dtype', 'f2'), int(opts.get('--incomplete', 0)),
             opts.get('--manifest', '0') == '1', int(opts.get('--constant', 0)))
        print(json.dumps({'ok': True}))
    elif cmd == 'ridge':
        x, y = load(args[0])
        w, b = ridge_raw(x, y, float(args[2]))
        ow, ob = ours(args[1])
        print(json.dumps({'attributions': rel(ow, w), 'bias': rel(ob, b)}))
    elif cmd == 'ridge_many':
        x, y = load(args[0])
        w, b = ridge_raw(x, y, float(args[1]))
        res = {}
        for out in args[2:]:
            ow, ob = ours(out)
            res[out] = {'attributions': rel(ow, w), 'bias': rel(ob, b)}
        print(json.dumps(res))
    elif cmd == 'ols_min_norm':
        x, y = load(args[0])
        # (scikit-learn 1.2's LinearRegression also interpolates here, but with a larger norm than
        # numpy's lstsq / pinv: not the minimum-norm solution)
        sc = StandardScaler().fit(x)
        z = sc.transform(x)
        z -= z.mean(axis=0)
        ws, *_ = np.linalg.lstsq(z, y - y.mean(axis=0), rcond=None)
        w = ws / sc.scale_[:, None]
        b = y.mean(axis=0) - sc.mean_ @ w
        res = {'rank': int(np.linalg.matrix_rank(z))}
        for out in args[1:]:
            ow, ob = ours(out)
            res[out] = {'attributions': rel(ow, w), 'bias': rel(ob, b)}
        print(json.dumps(res))
    elif cmd == 'ols':
        x, y = load(args[0])
        sol, *_ = np.linalg.lstsq(np.hstack([np.ones((x.shape[0], 1)), x]), y, rcond=None)
        ow, ob = ours(args[1])
        print(json.dumps({'attributions': rel(ow, sol[1:]), 'bias': rel(ob, sol[0])}))
    elif cmd == 'lasso':
        x, y = load(args[0])
        lam = float(args[2])
        w, b, scale = lasso_raw(x, y, lam)
        ow, ob = ours(args[1])
        ref = lasso_objective(x, y, w, b, lam, scale)
        got = lasso_objective(x, y, ow, ob, lam, scale)
        print(json.dumps({'objective': float(((got - ref) / ref).max()), 'sklearn': ref.tolist(), 'ours': got.tolist(),
                          'attributions': rel(ow, w), 'nonzero_sklearn': int((w != 0).sum()), 'nonzero_ours': int((ow != 0).sum())}))
    elif cmd == 'select':
        store, out, method = args
        x, y = load(store)
        with open(os.path.join(out, 'fit.json')) as f:
            info = json.load(f)
        chosen = np.load(os.path.join(out, 'lambda.npy')).astype(np.float64)
        m = x.shape[0]
        mv = int(round(m * info['valFrac']))
        xt, yt, xv, yv = x[:m - mv], y[:m - mv], x[m - mv:], y[m - mv:]
        n = y.shape[1]
        worst_gap = 0.0
        on_grid = True
        for k in range(n):
            if method == 'ridge':
                grid = np.array(info['lambdaGrid'])
            else:
                sc = StandardScaler().fit(xt)
                lmax = np.abs(sc.transform(xt).T @ (yt[:, k] - yt[:, k].mean())).max() / xt.shape[0]
                grid = np.array(info['lambdaGrid']) * lmax
            on_grid &= bool(np.isclose(grid, chosen[k], rtol=1e-4).any())
            errs = []
            for lam in grid:
                if method == 'ridge':
                    w, b = ridge_raw(xt, yt[:, k:k + 1], lam)
                else:
                    w, b, _ = lasso_raw(xt, yt[:, k:k + 1], lam)
                errs.append(float(((yv[:, k] - b[0] - xv @ w[:, 0]) ** 2).mean()))
            errs = np.array(errs)
            pick = errs[np.argmin(np.abs(np.log(grid) - np.log(chosen[k])))]
            worst_gap = max(worst_gap, float(pick / errs.min() - 1))
        # the final fit: the method on all rows at each chosen lambda
        ow, ob = ours(out)
        if method == 'ridge':
            ws, bs = zip(*[ridge_raw(x, y[:, k:k + 1], chosen[k]) for k in range(n)])
        else:
            ws, bs = zip(*[lasso_raw(x, y[:, k:k + 1], chosen[k])[:2] for k in range(n)])
        w, b = np.hstack(ws), np.concatenate(bs)
        print(json.dumps({'on_grid': on_grid, 'validation_gap': worst_gap, 'attributions': rel(ow, w), 'bias': rel(ob, b)}))
    elif cmd == 'cholesky':
        out, n, w, lam, seed = args[0], int(args[1]), int(args[2]), float(args[3]), int(args[4])
        rng = np.random.default_rng(seed)
        z = (rng.random((2 * n, n)) >= 0.05).astype(np.float64)
        sd = z.std(0)
        z = (z - z.mean(0)) / np.where(sd > 0, sd, 1)
        a = z.T @ z
        zero = n // 3
        a[zero, :] = 0
        a[:, zero] = 0
        b = rng.normal(size=(n, w)).astype(np.float32)
        shifted = a + lam * np.eye(n)
        constant = np.diag(a) == 0
        shifted[constant, constant] = 1
        l = np.linalg.cholesky(shifted)
        x = np.linalg.solve(shifted, b.astype(np.float64))
        os.makedirs(out, exist_ok=True)
        for name, v in (('a', a), ('b', b), ('l', l), ('x', x)):
            np.save(os.path.join(out, f'{name}.npy'), v)
        print(json.dumps({'zero': zero}))
    elif cmd == 'gram':
        # a kept Gram matrix [Cp x Cp] float32 against Z^T Z of the StandardScaler'd masks (padding rows 0)
        x, _ = load(args[0])
        g = np.load(args[1], allow_pickle=False).astype(np.float64)
        z = StandardScaler().fit_transform(x)
        ref = np.zeros_like(g)
        c = x.shape[1]
        ref[:c, :c] = z.T @ z
        print(json.dumps({'shape': list(g.shape), 'dtype': str(np.load(args[1], allow_pickle=False).dtype), 'relative': rel(g, ref) if g.shape == ref.shape else None}))
    elif cmd == 'time':
        print(json.dumps(timing(args[0], args[1].split(','), float(args[2]), float(args[3]))))
    else:
        raise SystemExit(f'unknown command {cmd}')


def timing(store, methods, lam, lasso_lam):
    """Wall-clock seconds of the CPU references on a store (bench/fit.ts)."""
    import time
    x, y = load(store)
    out = {}
    if 'ridge' in methods:
        t = time.perf_counter()
        sc = StandardScaler().fit(x)
        Ridge(alpha=lam, fit_intercept=True).fit(sc.transform(x), y)
        out['sklearn_ridge'] = time.perf_counter() - t
    if 'ols' in methods:
        t = time.perf_counter()
        np.linalg.lstsq(np.hstack([np.ones((x.shape[0], 1)), x]), y, rcond=None)
        out['numpy_lstsq'] = time.perf_counter() - t
    if 'lasso' in methods:
        t = time.perf_counter()
        sc = StandardScaler().fit(x)
        Lasso(alpha=lasso_lam, fit_intercept=True).fit(sc.transform(x), y)
        out['sklearn_lasso'] = time.perf_counter() - t
    return out


if __name__ == '__main__':
    main()
