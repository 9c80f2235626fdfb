"""Export a model to ONNX with Debian's PyTorch, for the onnxruntime-node peer (bench/peers.ts).
The weights are the same safetensors our engine runs; the ONNX file goes to a scratch folder
and is never committed.

usage: export_onnx.py ARCH WEIGHTS OUT.onnx [--batch 8] [--size S] [--classes C]
  ARCH: mini-resnet (the bundled Fashion-MNIST MiniResNet: 1 channel, width and blocks read
  from the weights), resnet50, vit_b_16"""
import argparse
import os
import sys

import torch
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'test', 'reference'))
import safetensors_io  # noqa: E402
from resnet_reference import MiniResNet  # noqa: E402


def build_model(arch, weights):
    """The PyTorch model for ARCH with WEIGHTS loaded; returns (model, channels, size)."""
    tensors, _ = safetensors_io.load(weights)
    state = {k: torch.from_numpy(v) for k, v in tensors.items()}
    if arch == 'mini-resnet':
        width, cin = state['conv1.weight'].shape[:2]
        blocks = len({k.split('.')[1] for k in state if k.startswith('layer.')})
        model = MiniResNet(width, blocks, state['linear.weight'].shape[0], in_channels=cin)
        size = 32
    elif arch == 'resnet50':
        model = torchvision.models.resnet50(num_classes=state['fc.weight'].shape[0])
        size, cin = 224, 3
    elif arch == 'vit_b_16':
        model = torchvision.models.vit_b_16(num_classes=state['heads.head.weight'].shape[0])
        size, cin = 224, 3
    else:
        raise SystemExit(f'unknown arch {arch}')
    missing = model.load_state_dict(state, strict=False)
    # MiniResNet registers each block twice (layer.N and blockN): the aliases load with layer.N
    bad = [k for k in missing.missing_keys if not k.endswith('num_batches_tracked') and not k.startswith('block')]
    if bad:
        raise SystemExit(f'weights lack {bad[:3]}')
    model.eval()
    return model, cin, size


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('arch')
    ap.add_argument('weights')
    ap.add_argument('out')
    ap.add_argument('--batch', type=int, default=8)
    a = ap.parse_args()
    model, cin, size = build_model(a.arch, a.weights)
    x = torch.zeros(a.batch, cin, size, size)
    with torch.no_grad():
        torch.onnx.export(model, x, a.out, input_names=['input'], output_names=['logits'], opset_version=14)
    print(f'{a.out}: {a.arch}, batch {a.batch}, input {cin}x{size}x{size}')


if __name__ == '__main__':
    main()
