"""Independent reference for the network estimators' training on the device: PyTorch trains
the same 2-layer network (torch.nn.functional, torch.optim.AdamW, autograd) from the same
initial weights on the same minibatches, in float64.

  train DIR    reads DIR/{masks,targets,w1,b1,w2,b2,orders}.npy and DIR/spec.json,
               writes DIR/torch_{w1,b1,w2,b2}.npy; prints {"steps": S}

masks [m, C] bool (1 = kept); targets [m, n]; w1 [C, D] (the transpose of PyTorch's
Linear weight); orders [epochs, m_train] (rows of each epoch, in order). spec: hidden units
per example G, grouped, relu, lr, weight_decay, batch, beta1, beta2, eps, train_rows.
"""
import json
import os
import sys

import numpy as np
import torch


def train(d):
    spec = json.load(open(os.path.join(d, 'spec.json')))
    ld = lambda name: np.load(os.path.join(d, f'{name}.npy'))
    v = ld('masks').astype(np.float64)
    t = torch.tensor(ld('targets'), dtype=torch.float64)
    mt = spec['train_rows']
    # the features: the rarer mask value as 1 (over all rows), standardized on the train rows
    u = 1 - v if v.sum() > v.size / 2 else v
    mean = u[:mt].mean(0)
    sd = u[:mt].std(0)
    inv = np.where(sd > 1e-12, 1 / np.where(sd > 1e-12, sd, 1), 0)
    z = torch.tensor((u - mean) * inv)
    w1 = torch.tensor(ld('w1'), dtype=torch.float64).T.contiguous().requires_grad_()  # [D, C]
    b1 = torch.tensor(ld('b1'), dtype=torch.float64).requires_grad_()
    w2 = torch.tensor(ld('w2'), dtype=torch.float64).requires_grad_()  # [n, G]
    b2 = torch.tensor(ld('b2'), dtype=torch.float64).requires_grad_()
    n, g = w2.shape
    opt = torch.optim.AdamW([
        {'params': [w1, w2], 'weight_decay': spec['weight_decay']},
        {'params': [b1, b2], 'weight_decay': 0.0},
    ], lr=spec['lr'], betas=(spec['beta1'], spec['beta2']), eps=spec['eps'])
    steps = 0
    for order in ld('orders'):
        for s in range(0, mt, spec['batch']):
            rows = torch.tensor(order[s:s + spec['batch']].astype(np.int64))
            pre = torch.nn.functional.linear(z[rows], w1, b1)
            h = torch.relu(pre) if spec['relu'] else pre
            if spec['grouped']:
                out = (h.view(len(rows), n, g) * w2).sum(-1) + b2
            else:
                out = torch.nn.functional.linear(h, w2, b2)
            loss = 0.5 * ((out - t[rows]) ** 2).mean(0).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            steps += 1
    for name, p in [('w1', w1.detach().T), ('b1', b1), ('w2', w2), ('b2', b2)]:
        np.save(os.path.join(d, f'torch_{name}.npy'), np.ascontiguousarray(p.detach().numpy()))
    print(json.dumps({'steps': steps}))


if __name__ == '__main__':
    torch.set_num_threads(1)
    if sys.argv[1] == 'train':
        train(sys.argv[2])
    else:
        sys.exit(f'unknown command {sys.argv[1]}')
