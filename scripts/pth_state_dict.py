"""Read a PyTorch checkpoint WITHOUT executing pickle code (torch.load(weights_only=True):
a restricted unpickler that builds only tensors and plain containers) and write each
floating tensor as float32 .npy into OUTDIR, with an index on stdout. Used by `coar convert`.
usage: pth_state_dict.py IN.pth OUTDIR"""
import json
import os
import sys

import numpy as np
import torch

src, out = sys.argv[1], sys.argv[2]


def fail(why):
    print(json.dumps({'error': why}))
    sys.exit(3)


try:
    obj = torch.load(src, map_location='cpu', weights_only=True)
except Exception as e:  # the restricted unpickler refuses classes, functions, code
    first = (str(e).strip().splitlines() or [''])[0][:160]
    fail(f'not a plain state dict: the safe loader refused it ({type(e).__name__}: {first})')

# common wrappers of a state dict, still plain data
if isinstance(obj, dict) and not any(torch.is_tensor(v) for v in obj.values()):
    for key in ('state_dict', 'model_state_dict', 'model'):
        if isinstance(obj.get(key), dict):
            obj = obj[key]
            break
if not isinstance(obj, dict) or not obj:
    fail(f'not a plain state dict: it holds a {type(obj).__name__}, expected a dict of parameter name -> tensor')

index, skipped = [], []
for i, (name, t) in enumerate(obj.items()):
    if not isinstance(name, str) or not torch.is_tensor(t):
        fail(f'not a plain state dict: entry {name!r} is a {type(t).__name__}, not a tensor')
    if not t.is_floating_point():
        skipped.append(name)  # e.g. BatchNorm's num_batches_tracked: not a weight
        continue
    f = f'{i}.npy'
    np.save(os.path.join(out, f), t.detach().to(torch.float32).contiguous().numpy())
    index.append({'name': name, 'file': f})
print(json.dumps({'tensors': index, 'skipped': skipped}))
