"""The reference procedure on the CPU, timed: for each mask, deep-copy the model, zero the
ablated weight rows, forward all examples (REFERENCE.md: one mask per pass, no batching).

usage: torch_ablate.py ARCH DIR [--width P --blocks K] -> prints JSON {seconds, passes, threads}
DIR holds weights.safetensors, inputs.npy, masks.npy (from test/reference/resnet_reference.py)."""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'test', 'reference'))
import safetensors_io  # noqa: E402
from resnet_reference import MiniResNet, ablated_logits, components  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('arch')
    ap.add_argument('dir')
    ap.add_argument('--width', type=int, default=16)
    ap.add_argument('--blocks', type=int, default=2)
    ap.add_argument('--classes', type=int, default=10)
    a = ap.parse_args()
    tensors, _ = safetensors_io.load(os.path.join(a.dir, 'weights.safetensors'))
    if a.arch == 'mini-resnet':
        model = MiniResNet(a.width, a.blocks, a.classes)
        model.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=False)
    else:
        model = getattr(torchvision.models, a.arch)(num_classes=a.classes)
        model.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=False)
    model.eval()
    x = torch.from_numpy(np.load(os.path.join(a.dir, 'inputs.npy')))
    masks = np.load(os.path.join(a.dir, 'masks.npy'))
    table = components(model)
    ablated_logits(model, table, masks[:1], x)  # warm-up
    t = time.perf_counter()
    ablated_logits(model, table, masks, x)
    s = time.perf_counter() - t
    print(json.dumps({'seconds': s, 'passes': int(len(masks) * len(x)), 'threads': torch.get_num_threads()}))


if __name__ == '__main__':
    main()
