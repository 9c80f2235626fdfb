"""Independent reference for ViT ablation: build a random-initialised torchvision
VisionTransformer (every bias, LayerNorm, token and head parameter made non-trivial),
ablate components the reference way (copy the model, zero the weight rows, forward), and
save everything the engine needs to be compared. Optionally also write the same weights
in timm's layout, renamed by hand (timm is not installed here; its names are documented).

usage: vit_reference.py OUT_DIR [--arch vit_b_16] [--layers L] [--width D] [--heads H]
         [--mlp M] [--patch P] [--size S] [--classes C] [--n N] [--seed S]
         [--whole-block B] [--timm] [--no-metadata] [--no-forward] [--time] [--masks K --alpha A]
writes OUT_DIR/{weights.safetensors, [weights_timm.safetensors], inputs.npy, labels.npy,
masks.npy, logits.npy, components.json}
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torchvision

sys.path.insert(0, os.path.dirname(__file__))
import safetensors_io  # noqa: E402
from torch_ablation import ablated_logits, test_masks, vit_components  # noqa: E402


components = vit_components


def randomise(model, gen):
    """torchvision zeroes the head, the class token and MHA biases and draws 1e-6 MLP
    biases: give every such parameter a visible value so an ablated row's bias counts."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith('bias') or name == 'class_token':
                p.copy_(torch.randn(p.shape, generator=gen) * 0.1)
            elif name.endswith('weight') and p.dim() == 1:  # LayerNorm gains
                p.copy_(torch.rand(p.shape, generator=gen) + 0.5)
        head = model.heads.head.weight
        head.copy_(torch.randn(head.shape, generator=gen) / head.shape[1] ** 0.5)


def timm_name(name):
    """torchvision ViT parameter name -> timm VisionTransformer parameter name."""
    fixed = {
        'class_token': 'cls_token', 'encoder.pos_embedding': 'pos_embed',
        'conv_proj.weight': 'patch_embed.proj.weight', 'conv_proj.bias': 'patch_embed.proj.bias',
        'encoder.ln.weight': 'norm.weight', 'encoder.ln.bias': 'norm.bias',
        'heads.head.weight': 'head.weight', 'heads.head.bias': 'head.bias',
    }
    if name in fixed:
        return fixed[name]
    parts = name.split('.')
    assert parts[:2] == ['encoder', 'layers'], name
    block = parts[2].replace('encoder_layer_', '')
    rest = '.'.join(parts[3:])
    for a, b in (('ln_1.', 'norm1.'), ('ln_2.', 'norm2.'), ('self_attention.in_proj_weight', 'attn.qkv.weight'),
                 ('self_attention.in_proj_bias', 'attn.qkv.bias'), ('self_attention.out_proj.', 'attn.proj.'),
                 ('mlp.0.', 'mlp.fc1.'), ('mlp.3.', 'mlp.fc2.')):
        if rest.startswith(a):
            return f'blocks.{block}.{b}{rest[len(a):]}'
    raise AssertionError(name)


def build(a):
    if a.arch == 'vit_b_16':
        return torchvision.models.vit_b_16(num_classes=a.classes), 224, 12
    size = a.size
    model = torchvision.models.VisionTransformer(
        image_size=size, patch_size=a.patch, num_layers=a.layers, num_heads=a.heads,
        hidden_dim=a.width, mlp_dim=a.mlp, num_classes=a.classes)
    return model, size, a.heads


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('out')
    ap.add_argument('--arch', default='vit')
    ap.add_argument('--layers', type=int, default=2)
    ap.add_argument('--width', type=int, default=32)
    ap.add_argument('--heads', type=int, default=4)
    ap.add_argument('--mlp', type=int, default=64)
    ap.add_argument('--patch', type=int, default=8)
    ap.add_argument('--size', type=int, default=32)
    ap.add_argument('--classes', type=int, default=10)
    ap.add_argument('--n', type=int, default=2)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--whole-block', type=int, default=None, help='encoder layer to ablate entirely (default: the middle one)')
    ap.add_argument('--timm', action='store_true', help='also write weights_timm.safetensors')
    ap.add_argument('--no-metadata', action='store_true', help='leave num_heads out of the safetensors metadata')
    ap.add_argument('--no-forward', action='store_true', help='only the weights and the component table')
    ap.add_argument('--time', action='store_true', help='report the seconds the ablated passes took')
    ap.add_argument('--masks', type=int, default=None, help='instead of the test masks: this many i.i.d. masks at --alpha')
    ap.add_argument('--alpha', type=float, default=0.05)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed + 1)
    model, size, heads = build(a)
    randomise(model, gen)
    model.eval()
    table = components(model)
    total = sum(c for _, c in table)
    layers = len(model.encoder.layers)
    rng = np.random.default_rng(a.seed)
    x = torch.randn(a.n, 3, size, size, generator=gen)
    labels = rng.integers(0, a.classes, size=a.n).astype(np.int64)
    block = layers // 2 if a.whole_block is None else a.whole_block
    prefix = f'encoder.layers.encoder_layer_{block}.'
    masks = test_masks(table, rng, lambda pname: pname.startswith(prefix), f'block {block}')
    if a.masks:
        masks = rng.random((a.masks, total)) >= a.alpha
    seconds = None
    if a.no_forward:
        logits = np.zeros((len(masks), a.n, a.classes), np.float32)
    else:
        t0 = time.perf_counter()
        logits = ablated_logits(model, table, masks, x)
        seconds = time.perf_counter() - t0
    os.makedirs(a.out, exist_ok=True)
    tensors = safetensors_io.state_dict_tensors(model)
    meta = None if a.no_metadata else {'num_heads': heads}
    safetensors_io.save(os.path.join(a.out, 'weights.safetensors'), tensors, meta)
    if a.timm:
        safetensors_io.save(os.path.join(a.out, 'weights_timm.safetensors'), {timm_name(k): v for k, v in tensors.items()}, meta)
    np.save(os.path.join(a.out, 'inputs.npy'), x.numpy().astype(np.float32))
    np.save(os.path.join(a.out, 'labels.npy'), labels)
    np.save(os.path.join(a.out, 'masks.npy'), masks)
    np.save(os.path.join(a.out, 'logits.npy'), logits.astype(np.float32))
    names = [f'{p}[{r}]' for p, c in table for r in range(c)]
    timm_names = [f'{timm_name(p)}[{r}]' for p, c in table for r in range(c)]
    with open(os.path.join(a.out, 'components.json'), 'w') as f:
        json.dump({'names': names, 'timm_names': timm_names, 'whole_block': block}, f)
    print(json.dumps({'components': total, 'masks': len(masks), 'n': a.n, 'heads': heads, 'seconds': seconds, 'threads': torch.get_num_threads()}))


if __name__ == '__main__':
    main()
