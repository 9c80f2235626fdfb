"""torchvision's side of bench/images.ts: ImageFolder + Resize/CenterCrop/ToTensor/Normalize
through a DataLoader with 2 workers; prints {"images": n, "seconds": s} of the best of 2 passes."""
import json
import sys
import time

import torch
from torchvision import transforms as T
from torchvision.datasets import ImageFolder

root = sys.argv[1]
tf = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(), T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
torch.set_num_threads(1)
best = None
for _ in range(2):
    t0 = time.perf_counter()
    loader = torch.utils.data.DataLoader(ImageFolder(root, transform=tf), batch_size=32, num_workers=2, shuffle=False)
    n = sum(x.shape[0] for x, _ in loader)
    s = time.perf_counter() - t0
    best = s if best is None else min(best, s)
print(json.dumps({'images': n, 'seconds': best}))
