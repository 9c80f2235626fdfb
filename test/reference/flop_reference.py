"""Independent count of a MiniResNet's per-example FLOPs: build the model in PyTorch from a
safetensors file, run one example through it with forward hooks on every Conv2d and Linear,
and report each module's input, output and weight shapes as PyTorch produced them, and its
FLOPs (2 per multiply-add: output elements x multiply-adds per output element).

usage: flop_reference.py WEIGHTS SIZE
prints JSON {module: {"input": [...], "output": [...], "weight": [...], "flops": F}}
"""
import json
import os
import sys

import torch
import torch.nn as nn

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'weights'))
import safetensors_io  # noqa: E402
import train_fashion  # noqa: E402


def main():
    weights, size = sys.argv[1], int(sys.argv[2])
    tensors, _ = safetensors_io.load(weights)
    planes, in_channels = tensors['conv1.weight'].shape[:2]
    blocks = len({k.split('.')[1] for k in tensors if k.startswith('layer.')})
    classes = tensors['linear.weight'].shape[0]
    model = train_fashion.MiniResNet(in_channels, planes, blocks, classes)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=False)
    model.eval()
    out = {}

    def hook(name):
        def f(module, inputs, output):
            w = module.weight
            per_output = w.numel() // w.shape[0]  # Cin/groups x KH x KW, or in_features
            out[name] = {'input': list(inputs[0].shape), 'output': list(output.shape), 'weight': list(w.shape),
                         'flops': 2 * output.numel() * per_output}
        return f

    for name, m in model.named_modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            m.register_forward_hook(hook(name))
    with torch.no_grad():
        model(torch.zeros(1, in_channels, size, size))
    print(json.dumps(out))


if __name__ == '__main__':
    main()
