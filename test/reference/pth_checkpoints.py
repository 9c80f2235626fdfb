"""Checkpoints as users have them, made by PyTorch: a torchvision resnet18 state dict (random
init, BatchNorm buffers included), the same under DataParallel's 'module.' prefix and in a
{'state_dict': ...} wrapper, a whole pickled model, and a pickle whose unpickling would run
code (it would create the file named PWNED). Prints the resnet18 tensors' sums for checking.
usage: pth_checkpoints.py OUTDIR"""
import json
import os
import sys

import torch
import torchvision

d = sys.argv[1]
os.makedirs(d, exist_ok=True)
torch.manual_seed(0)
m = torchvision.models.resnet18(num_classes=10)
for mod in m.modules():
    if isinstance(mod, torch.nn.BatchNorm2d):
        mod.running_mean.uniform_(-0.5, 0.5)
        mod.running_var.uniform_(0.5, 1.5)
sd = m.state_dict()
torch.save(sd, os.path.join(d, 'plain.pth'))
torch.save({'module.' + k: v for k, v in sd.items()}, os.path.join(d, 'dataparallel.pth'))
torch.save({'state_dict': sd, 'epoch': 3}, os.path.join(d, 'wrapped.pth'))
torch.save(m, os.path.join(d, 'whole_model.pth'))


class Evil:
    def __reduce__(self):
        return (os.system, (f'touch {os.path.join(d, "PWNED")}',))


torch.save({'conv1.weight': torch.zeros(1), 'x': Evil()}, os.path.join(d, 'evil.pth'))
print(json.dumps({k: [list(v.shape), float(v.double().sum())] for k, v in sd.items() if v.is_floating_point()}))
