"""Independent reference for ResNet ablation: build a random-initialised model in PyTorch
with non-trivial BatchNorm statistics, ablate components the reference way (copy the model,
zero the weight rows, forward), and save everything the engine needs to be compared.

usage: resnet_reference.py ARCH OUT_DIR [--n N] [--size S] [--width P] [--blocks K] [--wm M] [--classes C] [--seed S]
       [--masks-from M.npy] [--inputs-from X.npy --labels-from Y.npy]
ARCH: mini-resnet, a torchvision resnet* or cifar-resnet18/34/50/101/152 (the reference's CIFAR ResNet)
writes OUT_DIR/{weights.safetensors, inputs.npy, labels.npy, masks.npy, logits.npy, components.json}
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torchvision

sys.dont_write_bytecode = True  # no __pycache__ beside the bundled weights
sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'weights'))
import safetensors_io  # noqa: E402
import train_fashion  # noqa: E402
from cifar_resnet_torch import CifarResNet  # noqa: E402
from torch_ablation import ablated_logits, cnn_components, margins, test_masks  # noqa: E402


def MiniResNet(width, blocks, classes, in_channels=3):
    """The reference's CIFAR MiniResNet (REFERENCE.md), the same module the bundled model
    was trained as, with its blocks registered again as `blockN` as the reference does."""
    model = train_fashion.MiniResNet(in_channels, width, blocks, classes)
    for i, b in enumerate(model.layer):
        setattr(model, f'block{i}', b)
    return model


components = cnn_components


def randomise_bn(model, gen):
    for mod in model.modules():
        if isinstance(mod, nn.BatchNorm2d):
            c = mod.num_features
            mod.weight.data = torch.rand(c, generator=gen) + 0.5
            mod.bias.data = torch.randn(c, generator=gen) * 0.2
            mod.running_mean = torch.randn(c, generator=gen) * 0.2
            mod.running_var = torch.rand(c, generator=gen) + 0.5


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('arch')
    ap.add_argument('out')
    ap.add_argument('--n', type=int, default=2)
    ap.add_argument('--size', type=int, default=None)
    ap.add_argument('--width', type=int, default=16)
    ap.add_argument('--blocks', type=int, default=2)
    ap.add_argument('--wm', type=float, default=1.0, help='width multiplier of the CIFAR ResNet (64-128-256-512 at 1)')
    ap.add_argument('--classes', type=int, default=10)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--whole-layer', default=None, help='module name of a layer to ablate entirely')
    ap.add_argument('--no-forward', action='store_true', help='only the weights and the component table')
    ap.add_argument('--masks-from', default=None, help='.npy of masks to use instead of the generated ones')
    ap.add_argument('--inputs-from', default=None, help='float32 .npy [n, 3, S, S] of inputs to use instead of random ones (with --labels-from)')
    ap.add_argument('--labels-from', default=None, help='integer .npy [n] of their labels')
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed + 1)
    if a.arch == 'mini-resnet':
        model = MiniResNet(a.width, a.blocks, a.classes)
        size = a.size or 32
        skip = ('block',)
    elif a.arch.startswith('cifar-'):
        size = a.size or 32
        # the reference's feat_scale: AvgPool2d(4) leaves (size/32)^2 pixels for `linear`
        model = CifarResNet(a.arch[len('cifar-'):], a.classes, a.wm, feat_scale=(size // 32) ** 2)
        skip = ()
    else:
        model = getattr(torchvision.models, a.arch)(num_classes=a.classes)
        size = a.size or 224
        skip = ()
    randomise_bn(model, gen)
    model.eval()
    table = components(model)
    total = sum(c for _, c in table)
    rng = np.random.default_rng(a.seed)
    x = torch.randn(a.n, 3, size, size, generator=gen)
    labels = rng.integers(0, a.classes, size=a.n).astype(np.int64)
    if a.inputs_from:
        # drawn above all the same, so the masks below do not depend on where the inputs came from
        x = torch.from_numpy(np.load(a.inputs_from).astype(np.float32))
        labels = np.load(a.labels_from).astype(np.int64)
    whole = a.whole_layer or table[len(table) // 2][0].rsplit('.', 1)[0]
    masks = test_masks(table, rng, lambda pname: pname == f'{whole}.weight', f'layer {whole}')
    if a.masks_from:
        masks = np.load(a.masks_from).astype(bool)
    logits = np.zeros((len(masks), a.n, a.classes), np.float32) if a.no_forward else ablated_logits(model, table, masks, x)
    os.makedirs(a.out, exist_ok=True)
    safetensors_io.save(os.path.join(a.out, 'weights.safetensors'), safetensors_io.state_dict_tensors(model, skip))
    np.save(os.path.join(a.out, 'inputs.npy'), x.numpy().astype(np.float32))
    np.save(os.path.join(a.out, 'labels.npy'), labels)
    np.save(os.path.join(a.out, 'masks.npy'), masks)
    np.save(os.path.join(a.out, 'logits.npy'), logits.astype(np.float32))
    np.save(os.path.join(a.out, 'margins.npy'), margins(logits, labels))
    names = [f'{p}[{r}]' for p, c in table for r in range(c)]
    with open(os.path.join(a.out, 'components.json'), 'w') as f:
        json.dump({'names': names, 'whole_layer': whole}, f)
    print(json.dumps({'components': total, 'masks': len(masks), 'n': a.n}))


if __name__ == '__main__':
    main()
