"""What numpy sees in a sweep store: shapes, dtypes, completed rows, and a digest of the data.
usage: store_reference.py DIR SPLIT"""
import hashlib
import json
import os
import sys

import numpy as np

d, split = sys.argv[1], sys.argv[2]
masks = np.load(os.path.join(d, 'masks.npy'), mmap_mode='r')
margins = np.load(os.path.join(d, f'{split}_margins.npy'), mmap_mode='r')
done = np.load(os.path.join(d, '_completed.npy'))
print(json.dumps({
    'masks': [str(masks.dtype), list(masks.shape)],
    'margins': [str(margins.dtype), list(margins.shape)],
    'completed': [str(done.dtype), int(done.sum())],
    'keep_rate': float(np.asarray(masks).mean()),
    'digest': hashlib.sha256(np.asarray(masks).tobytes() + np.asarray(margins).tobytes()).hexdigest(),
}))
