"""Independent reference for `coar report`'s summaries of attributions.npy (numpy).

  make DIR --c C --n N --classes K --seed S [--masks M]
      DIR: a store a report can be rendered from, without a sweep: manifest.json (C
      components in layers of 16, N examples with labels i % K), attributions.npy float32
      [C, N] written through a memory map by blocks of rows (so large files need little
      memory), bias.npy [N], and an evaluation at the sweep's alpha: eval.json and its true /
      predicted margin files float32 [M, N].
  summary DIR --examples E --classes K --top T
      what the report shows of the attributions, in float64: for each of the first E
      examples its T components of largest |attribution| (ties: lower index first), for each
      of the K classes with most examples (ties: lower label) its T components of largest
      |mean attribution| and those means, and the mass of each layer (sum over its
      components of mean |attribution| over examples), layers in first-seen order.
Every command prints one JSON object.
"""
import json
import os
import sys

import numpy as np


def make(d, c, n, k, seed, masks):
    rng = np.random.default_rng(seed)
    os.makedirs(d, exist_ok=True)
    layers = [f'layer{j // 16}.conv' for j in range(c)]
    names = [f'{layers[j]}.weight[{j % 16}]' for j in range(c)]
    labels = [i % k for i in range(n)]
    a = np.lib.format.open_memmap(os.path.join(d, 'attributions.npy'), mode='w+', dtype=np.float32, shape=(c, n))
    block = max(1, (32 << 20) // (4 * n))
    for r in range(0, c, block):
        e = min(c, r + block)
        a[r:e] = (rng.normal(size=(e - r, n)) * 0.01).astype(np.float32)
    a.flush()
    del a
    bias = rng.normal(size=n).astype(np.float32)
    np.save(os.path.join(d, 'bias.npy'), bias)
    t = rng.normal(size=(masks, n)).astype(np.float32)
    np.save(os.path.join(d, 'eval_true.npy'), t)
    np.save(os.path.join(d, 'eval_pred.npy'), (t + rng.normal(size=(masks, n)) * 0.5).astype(np.float32))
    alpha = 0.05
    with open(os.path.join(d, 'eval.json'), 'w') as f:
        json.dump([{'alpha': alpha, 'masks': masks, 'files': ['eval_true.npy', 'eval_pred.npy'],
                    'pearson': [0.5] * n, 'spearman': [0.5] * n}], f)
    manifest = {
        'format': 'webcoar-store-1', 'model': {'arch': 'mini-resnet', 'weights': 'weights/none.safetensors', 'sha256': '0' * 64},
        'components': names, 'data': {'source': 'npy', 'inputsSha256': '0' * 64}, 'split': 'test',
        'examples': list(range(n)), 'labels': labels, 'classNames': [f'class {x}' for x in range(k)],
        'alpha': alpha, 'seed': seed, 'masks': 1000, 'generator': 'test', 'created': '2026-12-07T00:00:00Z',
    }
    with open(os.path.join(d, 'manifest.json'), 'w') as f:
        json.dump(manifest, f)
    print(json.dumps({'bytes': 4 * c * n}))


def top(v, t):
    order = np.argsort(-np.abs(v), kind='stable')[:t]
    return [[int(j), float(v[j])] for j in order]


def summary(d, e, kmax, t):
    a = np.load(os.path.join(d, 'attributions.npy'), mmap_mode='r')
    with open(os.path.join(d, 'manifest.json')) as f:
        m = json.load(f)
    c, n = a.shape
    labels = np.array(m['labels'])
    examples = {str(i): top(np.asarray(a[:, i], dtype=np.float64), t) for i in range(min(e, n))}
    classes, counts = np.unique(labels, return_counts=True)
    shown = sorted(sorted(zip(-counts, classes))[:kmax], key=lambda x: x[1])
    sums = np.zeros((len(shown), c))
    mass = np.zeros(c)
    block = max(1, (32 << 20) // (8 * n))
    for r in range(0, c, block):
        x = np.asarray(a[r:r + block], dtype=np.float64)
        for q, (_, cl) in enumerate(shown):
            sums[q, r:r + block] = x[:, labels == cl].sum(axis=1)
        mass[r:r + block] = np.abs(x).mean(axis=1)
    means = {str(int(cl)): top(sums[q] / -cnt, t) for q, (cnt, cl) in enumerate(shown)}
    layers = {}
    for j, name in enumerate(m['components']):
        layer = name.rsplit('.weight', 1)[0]
        layers.setdefault(layer, [0, 0.0])
        layers[layer][0] += 1
        layers[layer][1] += float(mass[j])
    print(json.dumps({'examples': examples, 'classes': means, 'layers': [[k, v[0], v[1]] for k, v in layers.items()]}))


def opt(args, name, default=None):
    return args[args.index(name) + 1] if name in args else default


if __name__ == '__main__':
    cmd, d, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
    if cmd == 'make':
        make(d, int(opt(rest, '--c')), int(opt(rest, '--n')), int(opt(rest, '--classes')), int(opt(rest, '--seed')), int(opt(rest, '--masks', '50')))
    elif cmd == 'summary':
        summary(d, int(opt(rest, '--examples')), int(opt(rest, '--classes')), int(opt(rest, '--top')))
    else:
        raise SystemExit(f'unknown command {cmd}')
