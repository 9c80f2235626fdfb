"""A store as the reference's sweep writes one (numpy only, no webcoar code): masks drawn with
np.random like its get_mask, files made with open_memmap(mode='w+'), then for each finished
row the mask and margins written and flushed, then its _completed flag.
usage:
  reference_layout_store.py masks OUT.npy ROWS COMPONENTS ALPHA SEED
  reference_layout_store.py store DIR MASKS.npy MARGINS.npy COMPLETED SPLIT DTYPE"""
import sys

import numpy as np
from numpy.lib.format import open_memmap

if sys.argv[1] == 'masks':
    out, rows, comps, alpha, seed = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
    rng = np.random.RandomState(seed)
    np.save(out, rng.rand(rows, comps) < 1 - alpha)
else:
    d, masks_path, margins_path, completed, split, dtype = sys.argv[2:8]
    masks, margins, completed = np.load(masks_path), np.load(margins_path), int(completed)
    import os
    os.makedirs(d, exist_ok=True)
    m = masks.shape[0]
    mm = open_memmap(os.path.join(d, 'masks.npy'), mode='w+', dtype=bool, shape=masks.shape)
    gm = open_memmap(os.path.join(d, f'{split}_margins.npy'), mode='w+', dtype=np.dtype(dtype), shape=(m, margins.shape[1]))
    cm = open_memmap(os.path.join(d, '_completed.npy'), mode='w+', dtype=bool, shape=(m,))
    for i in range(completed):
        mm[i] = masks[i]
        gm[i] = margins[i]
        mm.flush(); gm.flush()
        cm[i] = True
        cm.flush()
    del mm, gm, cm
