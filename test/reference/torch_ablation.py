"""The reference ablation procedure (REFERENCE.md, "Components" and "Ablation"), shared by
the reference scripts: component tables by the reference's rules, one deep copy of the model
per mask with the dropped weight rows zeroed (biases, BatchNorm and LayerNorm untouched), and
the margin (true-class logit minus the best other logit)."""
import copy

import numpy as np
import torch
import torch.nn as nn


def cnn_components(model):
    """Every Conv2d whose module name contains 'conv', in named_modules() order."""
    return [(f'{name}.weight', mod.out_channels) for name, mod in model.named_modules()
            if isinstance(mod, nn.Conv2d) and 'conv' in name]


def vit_components(model):
    """Every nn.Linear outside the classifier `heads` (its output rows) and every
    MultiheadAttention (the rows of in_proj_weight: q, k, v), in named_modules() order."""
    table = []
    for name, mod in model.named_modules():
        if name == 'heads' or name.startswith('heads.'):
            continue
        if isinstance(mod, nn.MultiheadAttention):
            table.append((f'{name}.in_proj_weight', mod.in_proj_weight.shape[0]))
        elif isinstance(mod, nn.Linear):
            table.append((f'{name}.weight', mod.out_features))
    return table


def zero_rows(model, table, mask):
    """Ablate in place: zero the output rows whose mask bit is False (mask[j] = kept)."""
    params = dict(model.named_parameters())
    j = 0
    with torch.no_grad():
        for pname, count in table:
            params[pname][torch.from_numpy(~mask[j:j + count])] = 0
            j += count


def ablated_logits(model, table, masks, x):
    """[masks, n, classes]: for each mask a deep copy of the model, rows zeroed, forward."""
    out = []
    for mask in masks:
        m = copy.deepcopy(model)
        zero_rows(m, table, mask)
        with torch.no_grad():
            out.append(m(x).numpy())
        del m
    return np.stack(out)


def margins(logits, labels):
    """[..., n, classes] logits -> [..., n] margins: true-class logit minus best other."""
    n = logits.shape[-2]
    true = logits[..., np.arange(n), labels]
    other = logits.copy()
    other[..., np.arange(n), labels] = -np.inf
    return (true - other.max(axis=-1)).astype(np.float32)


def test_masks(table, rng, dropped, what):
    """The masks every ablation test uses: nothing ablated, i.i.d. at alpha 5% and 50%, and
    every row of the parameters `dropped(pname)` selects (a whole layer or block) ablated."""
    total = sum(c for _, c in table)
    masks = [np.ones(total, bool)] + [rng.random(total) >= alpha for alpha in (0.05, 0.5)]
    m = np.ones(total, bool)
    j = 0
    for pname, count in table:
        if dropped(pname):
            m[j:j + count] = False
        j += count
    assert not m.all(), f'no {what}'
    return np.stack(masks + [m])
