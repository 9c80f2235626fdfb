"""numpy's own .npy files for the reader test, and a check of files our writer made.
usage: npy_reference.py write DIR | npy_reference.py check DIR"""
import json
import os
import sys

import numpy as np

mode, d = sys.argv[1], sys.argv[2]
if mode == 'write':
    rng = np.random.default_rng(0)
    arrays = {
        'f4': rng.standard_normal((3, 5)).astype(np.float32),
        'f2': rng.standard_normal((4, 2)).astype(np.float16),
        'b1': rng.random((2, 7)) > 0.5,
        'u1': rng.integers(0, 255, (6,)).astype(np.uint8),
        'i8': rng.integers(-10**12, 10**12, (2, 3)).astype(np.int64),
        'f8': rng.standard_normal((2, 2, 2)),
        'scalar_shape': np.zeros((0, 3), np.float32),
        # numpy writes these orders as they are: '>' in descr, fortran_order True
        'f4_big': rng.standard_normal((3, 4)).astype('>f4'),
        'i8_big': rng.integers(-10**12, 10**12, (5,)).astype('>i8'),
        'f4_fortran': np.asfortranarray(rng.standard_normal((2, 3, 4)).astype(np.float32)),
        'u1_fortran': np.asfortranarray(rng.integers(0, 255, (3, 5)).astype(np.uint8)),
        'f8_big_fortran': np.asfortranarray(rng.standard_normal((4, 3)).astype('>f8')),
    }
    for name, a in arrays.items():
        np.save(os.path.join(d, name + '.npy'), a)
    with open(os.path.join(d, 'v2.npy'), 'wb') as f:
        np.lib.format.write_array(f, arrays['f4'], version=(2, 0))
    print(json.dumps({k: {'shape': list(v.shape), 'values': v.astype(np.float64).ravel().tolist()} for k, v in arrays.items()}))
else:
    out = {}
    for name in sorted(os.listdir(d)):
        if name.startswith('ours_'):
            a = np.load(os.path.join(d, name), mmap_mode='r')
            out[name] = {'dtype': str(a.dtype), 'shape': list(a.shape), 'values': np.asarray(a, np.float64).ravel().tolist()}
    print(json.dumps(out))
