"""PyTorch on CUDA beside the engine, for bench/gpu/check.sh: masked passes/s of a torchvision
model (random weights: speed does not depend on them) two ways, in f32 and f16 (autocast):
  reference: the reference procedure per mask (deep copy, zero the ablated rows, forward the examples);
  batched:   every (mask, example) pair in one batch, each conv's output channels multiplied by the
             item's mask (forward hooks): what the engine's fused epilogue does.
usage: torch_cuda.py ARCH MASKS EXAMPLES [SECONDS] [SIDE]  -> one JSON line per measurement
(TORCH_DEVICE=cpu: a dry run of this script where there is no CUDA)"""
import copy
import json
import os
import sys
import time

import torch
import torchvision

arch, masks, examples = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
budget = float(sys.argv[4]) if len(sys.argv) > 4 else 20.0
side = int(sys.argv[5]) if len(sys.argv) > 5 else 224
dev = torch.device(os.environ.get('TORCH_DEVICE', 'cuda'))
model = getattr(torchvision.models, arch)(num_classes=1000).eval().to(dev)
convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
x = torch.randn(examples, 3, side, side, device=dev)
keep = [torch.rand(masks, c.out_channels, device=dev) >= 0.05 for c in convs]


def sync():
    if dev.type == 'cuda': torch.cuda.synchronize()


def timed(fn, passes):
    fn(); sync()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < budget / 4:
        fn(); n += 1
    sync()
    return passes * n / (time.perf_counter() - t0)


def reference():
    for k in range(masks):
        m = copy.deepcopy(model)
        with torch.no_grad():
            for c, kp in zip([mm for mm in m.modules() if isinstance(mm, torch.nn.Conv2d)], keep):
                c.weight[~kp[k]] = 0
            m(x)


def batched():
    xb = x.repeat(masks, 1, 1, 1)
    hooks = [c.register_forward_hook(lambda mod, inp, out, kp=kp: out * kp.repeat_interleave(examples, 0)[:, :, None, None].to(out.dtype)) for c, kp in zip(convs, keep)]
    with torch.no_grad():
        model(xb)
    for h in hooks: h.remove()


for dtype in ('f32', 'f16'):
    ctx = torch.autocast(dev.type, dtype=torch.float16 if dev.type == 'cuda' else torch.bfloat16, enabled=dtype == 'f16')
    with ctx:
        for name, fn in (('reference', reference), ('batched', batched)):
            print(json.dumps({'peer': f'pytorch-{dev.type} {name}', 'arch': arch, 'dtype': dtype if dtype == 'f32' or dev.type == 'cuda' else 'bf16', 'masks': masks, 'examples': examples,
                              'passesPerSecond': timed(fn, masks * examples), 'device': torch.cuda.get_device_name() if dev.type == 'cuda' else 'cpu'}), flush=True)
