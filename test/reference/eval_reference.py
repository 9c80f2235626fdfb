"""scipy's Pearson and Spearman per example (column) of true vs predicted margins.
usage: eval_reference.py DIR K  (reads eval_{i}_true.npy / eval_{i}_predicted.npy for i < K)"""
import json
import os
import sys

import numpy as np
from scipy import stats

d, k = sys.argv[1], int(sys.argv[2])
out = []
for i in range(k):
    t = np.load(os.path.join(d, f'eval_{i}_true.npy')).astype(np.float64)
    p = np.load(os.path.join(d, f'eval_{i}_predicted.npy')).astype(np.float64)
    out.append({
        'pearson': [float(stats.pearsonr(t[:, e], p[:, e])[0]) for e in range(t.shape[1])],
        'spearman': [float(stats.spearmanr(t[:, e], p[:, e])[0]) for e in range(t.shape[1])],
    })
print(json.dumps(out))
