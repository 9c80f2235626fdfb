"""Shard stores of one sweep, large enough that a merge takes seconds, written by numpy:
random bool masks and float16 margins, each shard completing its contiguous row range.
usage: synthetic_shards.py DIR ROWS COMPONENTS EXAMPLES SHARDS"""
import json
import os
import sys

import numpy as np
from numpy.lib.format import open_memmap

d, m, c, n, k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
rng = np.random.default_rng(0)
manifest = {
    'format': 'webcoar-store-1', 'model': {'arch': 'mini-resnet', 'weights': 'w.safetensors', 'sha256': '0' * 64},
    'components': [f'c[{i}]' for i in range(c)],
    'data': {'source': 'npy', 'inputs': 'x.npy', 'labels': 'y.npy', 'inputsSha256': '1' * 64},
    'split': 'examples', 'examples': list(range(n)), 'labels': [0] * n, 'alpha': 0.05, 'seed': 0, 'masks': m,
    'generator': 'synthetic', 'marginsDtype': 'f2', 'created': 'test',
}
for s in range(k):
    p = os.path.join(d, f'shard{s}')
    os.makedirs(p)
    a, b = s * m // k, (s + 1) * m // k
    masks = open_memmap(os.path.join(p, 'masks.npy'), mode='w+', dtype=bool, shape=(m, c))
    margins = open_memmap(os.path.join(p, 'examples_margins.npy'), mode='w+', dtype=np.float16, shape=(m, n))
    done = open_memmap(os.path.join(p, '_completed.npy'), mode='w+', dtype=bool, shape=(m,))
    for r in range(a, b, 1000):
        e = min(b, r + 1000)
        masks[r:e] = rng.random((e - r, c)) < 0.95
        margins[r:e] = rng.standard_normal((e - r, n)).astype(np.float16)
    done[a:b] = True
    del masks, margins, done
    with open(os.path.join(p, 'manifest.json'), 'w') as f:
        json.dump(manifest, f)
