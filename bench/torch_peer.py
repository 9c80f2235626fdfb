"""PyTorch on the CPU running the reference procedure, timed (the peer in bench/peers.ts): for
each mask, deep-copy the model, zero the ablated weight rows, forward the examples.

usage: torch_peer.py ARCH WEIGHTS MASKS.npy N  -> prints JSON {seconds, passes, threads}
ARCH: mini-resnet, resnet50, vit_b_16 (as bench/export_onnx.py); inputs are random."""
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'test', 'reference'))
from export_onnx import build_model  # noqa: E402
import resnet_reference  # noqa: E402
import vit_reference  # noqa: E402


def main():
    arch, weights, masks_path, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    model, cin, size = build_model(arch, weights)
    ref = vit_reference if arch.startswith('vit') else resnet_reference
    table = ref.components(model)
    masks = np.load(masks_path).astype(bool)
    x = torch.randn(n, cin, size, size, generator=torch.Generator().manual_seed(0))
    ref.ablated_logits(model, table, masks[:1], x)  # warm-up
    t = time.perf_counter()
    ref.ablated_logits(model, table, masks, x)
    s = time.perf_counter() - t
    print(json.dumps({'seconds': s, 'passes': int(len(masks) * n), 'threads': torch.get_num_threads()}))


if __name__ == '__main__':
    main()
