#!/usr/bin/python3
"""Train the bundled Fashion-MNIST models and write them as safetensors.

  fashion-cnn.safetensors  the reference's MiniResNet (stem conv + K BasicBlocks + AvgPool2d(8)
                           + Linear), P channels, on 28x28 images zero-padded to 32x32
  fashion-vit.safetensors  a small torchvision VisionTransformer with a 1-channel patch embedding

Runs on Debian's python3 with its PyTorch (CPU). Deterministic for a given seed and thread
count. The safetensors format is written by hand (the safetensors package is not installed).

  /usr/bin/python3 weights/train_fashion.py            # both models, 1 thread, seed 0

Also a library: the tests import `preprocess`, `load_split`, the model builders and
`read_safetensors` from here, so the engine's preprocessing is checked against the very
function the models were trained with.
"""
import argparse
import gzip
import json
import math
import os
import struct
import sys
import time

if __name__ == '__main__':
    # Debian's PyTorch does its matrix products in OpenBLAS, whose thread pool ignores
    # torch.set_num_threads: fix every pool before numpy/torch load, or a "1-thread" run
    # takes both shared cores (and its numbers depend on the machine's core count).
    _pre = argparse.ArgumentParser(add_help=False)
    _pre.add_argument('--threads', type=int, default=1)
    _threads = str(_pre.parse_known_args()[0].threads)
    for _var in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
        os.environ[_var] = _threads

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DEFAULT_DATA = '/usr/share/datasets/fashion-mnist'
HERE = os.path.dirname(os.path.abspath(__file__))

CLASS_NAMES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat',
               'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']
MEAN = 0.2860
STD = 0.3530
PREPROCESSING = {
    'cnn': 'x = (u8 / 255 - 0.2860) / 0.3530 in float32; zero-pad 2 pixels each side -> [N,1,32,32]',
    'vit': 'x = (u8 / 255 - 0.2860) / 0.3530 in float32 -> [N,1,28,28]',
}
FILES = {'train': ('train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz'),
         'test': ('t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz')}


# ---------------------------------------------------------------- data

def read_idx(path):
    """An IDX file (gzipped or plain) as a numpy uint8 array of its declared shape."""
    with open(path, 'rb') as f:
        raw = f.read()
    if raw[:2] == b'\x1f\x8b':
        raw = gzip.decompress(raw)
    zero, dtype, ndim = struct.unpack('>HBB', raw[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f'{path}: not an unsigned-byte IDX file')
    shape = struct.unpack('>' + 'I' * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_split(split, folder=DEFAULT_DATA):
    """(images uint8 [n,28,28], labels uint8 [n]) of 'train' or 'test'."""
    images, labels = FILES[split]
    return read_idx(os.path.join(folder, images)), read_idx(os.path.join(folder, labels))


def preprocess(images, arch):
    """uint8 [n,28,28] -> float32 NCHW, exactly the models' input (see PREPROCESSING)."""
    x = images.astype(np.float32)
    x = (x / np.float32(255) - np.float32(MEAN)) / np.float32(STD)
    x = x[:, None, :, :]
    if arch == 'cnn':
        # as the reference's 32x32 CIFAR input, so AvgPool2d(8) sees 4x4
        x = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))
    elif arch != 'vit':
        raise ValueError(f'unknown arch {arch!r}')
    return np.ascontiguousarray(x, dtype=np.float32)


def augment(images, rng, shift=2):
    """Random translation by up to `shift` pixels (black fill) and random horizontal flip."""
    n, h, w = images.shape
    padded = np.pad(images, ((0, 0), (shift, shift), (shift, shift)))
    dy = rng.integers(0, 2 * shift + 1, n)
    dx = rng.integers(0, 2 * shift + 1, n)
    rows = dy[:, None] + np.arange(h)
    cols = dx[:, None] + np.arange(w)
    flip = rng.random(n) < 0.5
    cols[flip] = cols[flip, ::-1]
    return padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]


# ---------------------------------------------------------------- models

class BasicBlock(nn.Module):
    """conv-BN-ReLU-conv-BN, identity shortcut, ReLU (stride 1, P -> P)."""

    def __init__(self, planes):
        super().__init__()
        self.conv1 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + x)


class MiniResNet(nn.Module):
    """The reference's CIFAR-10 model, with C_in input channels, P planes and K blocks."""

    def __init__(self, in_channels=1, planes=16, blocks=3, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, planes, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.layer = nn.Sequential(*[BasicBlock(planes) for _ in range(blocks)])
        self.pool = nn.AvgPool2d(8)
        self.linear = nn.Linear(planes * 16, num_classes)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.pool(self.layer(out))
        return self.linear(torch.flatten(out, 1))


VIT_CONFIG = dict(image_size=28, patch_size=4, num_layers=4, num_heads=4, hidden_dim=64, mlp_dim=128)


def build_vit(num_classes=10):
    from torchvision.models.vision_transformer import VisionTransformer
    model = VisionTransformer(**VIT_CONFIG, num_classes=num_classes)
    # 1-channel patch embedding, initialised as torchvision initialises its own
    proj = nn.Conv2d(1, VIT_CONFIG['hidden_dim'], VIT_CONFIG['patch_size'], VIT_CONFIG['patch_size'])
    nn.init.trunc_normal_(proj.weight, std=math.sqrt(1 / (VIT_CONFIG['patch_size'] ** 2)))
    nn.init.zeros_(proj.bias)
    model.conv_proj = proj
    return model


def build_model(arch, planes=16, blocks=3):
    return MiniResNet(1, planes, blocks) if arch == 'cnn' else build_vit()


# ---------------------------------------------------------------- safetensors, by hand

def write_safetensors(path, tensors, metadata):
    """tensors: {name: float32 tensor}; metadata: {str: str}. Written atomically."""
    header, chunks, offset = {'__metadata__': metadata}, [], 0
    for name, t in tensors.items():
        data = t.detach().cpu().contiguous().to(torch.float32).numpy().astype('<f4').tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(',', ':')).encode('utf-8')
    text += b' ' * (-len(text) % 8)
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for c in chunks:
            f.write(c)
    os.replace(tmp, path)


def read_safetensors(path):
    """({name: float32 tensor}, metadata) of an F32 safetensors file."""
    with open(path, 'rb') as f:
        raw = f.read()
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n])
    metadata = header.pop('__metadata__', {})
    tensors = {}
    for name, info in header.items():
        assert info['dtype'] == 'F32', f'{path}: {name} is {info["dtype"]}'
        b, e = info['data_offsets']
        arr = np.frombuffer(raw, '<f4', count=(e - b) // 4, offset=8 + n + b).reshape(info['shape'])
        tensors[name] = torch.from_numpy(arr.copy())
    return tensors, metadata


def model_tensors(model):
    # num_batches_tracked only counts steps; the forward pass never reads it
    return {k: v for k, v in model.state_dict().items() if not k.endswith('num_batches_tracked')}


def load_model(path):
    """Rebuild a model from a file written here (architecture from its metadata)."""
    tensors, meta = read_safetensors(path)
    model = build_model(meta['arch'], int(meta.get('channels', 16)), int(meta.get('blocks', 3)))
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    missing = [k for k in missing if not k.endswith('num_batches_tracked')]
    if missing or unexpected:
        raise ValueError(f'{path}: missing {missing}, unexpected {unexpected}')
    return model.eval(), meta


# ---------------------------------------------------------------- training

@torch.no_grad()
def accuracy(model, images, labels, arch, batch=500):
    model.eval()
    correct = 0
    for i in range(0, len(images), batch):
        x = torch.from_numpy(preprocess(images[i:i + batch], arch))
        correct += (model(x).argmax(1).numpy() == labels[i:i + batch]).sum()
    return correct / len(images)


def train(arch, args, train_set, transform=None):
    """transform(indices, images, labels) -> (images, labels), if given, alters each augmented
    batch (the case-study variants in train_variants.py add a trigger or a spurious cue)."""
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    model = build_model(arch, args.channels, args.blocks)
    images, labels = train_set
    epochs = args.epochs or (8 if arch == 'cnn' else 15)
    steps_per_epoch = len(images) // args.batch
    total = epochs * steps_per_epoch
    if arch == 'cnn':
        # channels_last: ~30% faster convolutions on CPU, same numbers
        model = model.to(memory_format=torch.channels_last)
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
        peak, warmup = 0.1, steps_per_epoch // 2
    else:
        decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and 'pos_embedding' not in n and 'class_token' not in n]
        no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and 'pos_embedding' not in n and 'class_token' not in n)]
        opt = torch.optim.AdamW([{'params': decay, 'weight_decay': 0.05}, {'params': no_decay, 'weight_decay': 0.0}], lr=2e-3)
        peak, warmup = 2e-3, steps_per_epoch
    # linear warm-up, then cosine to zero
    lr_at = lambda s: peak * (s + 1) / warmup if s < warmup else peak * 0.5 * (1 + math.cos(math.pi * (s - warmup) / (total - warmup)))

    start, cpu_start = time.time(), time.process_time()
    step = 0
    for epoch in range(epochs):
        model.train()
        order = rng.permutation(len(images))
        loss_sum, correct = 0.0, 0
        for b in range(steps_per_epoch):
            idx = order[b * args.batch:(b + 1) * args.batch]
            batch, batch_labels = augment(images[idx], rng), labels[idx]
            if transform is not None:
                batch, batch_labels = transform(idx, batch, batch_labels)
            x = torch.from_numpy(preprocess(batch, arch))
            if arch == 'cnn':
                x = x.contiguous(memory_format=torch.channels_last)
            y = torch.from_numpy(batch_labels.astype(np.int64))
            for g in opt.param_groups:
                g['lr'] = lr_at(step)
            out = model(x)
            loss = F.cross_entropy(out, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            loss_sum += loss.item()
            correct += (out.argmax(1) == y).sum().item()
        n = steps_per_epoch * args.batch
        print(f'{arch} epoch {epoch + 1}/{epochs}: train loss {loss_sum / steps_per_epoch:.4f}, '
              f'train acc {correct / n:.4f}, {time.time() - start:.0f} s', flush=True)
    seconds = (time.time() - start, time.process_time() - cpu_start)
    model = model.to(memory_format=torch.contiguous_format).eval()
    return model, epochs, seconds


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--arch', choices=['cnn', 'vit', 'all'], default='all')
    p.add_argument('--threads', type=int, default=1, help='torch threads (the 2 cores are shared)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--epochs', type=int, default=0, help='0: 8 for the CNN, 15 for the ViT')
    p.add_argument('--batch', type=int, default=128)
    p.add_argument('--channels', type=int, default=16, help='CNN planes P')
    p.add_argument('--blocks', type=int, default=3, help='CNN BasicBlocks K')
    p.add_argument('--data', default=DEFAULT_DATA, help='folder with the four gzipped IDX files')
    p.add_argument('--out', default=HERE)
    p.add_argument('--limit', type=int, default=0, help='train on the first N images only (smoke tests)')
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)

    train_set, test_set = load_split('train', args.data), load_split('test', args.data)
    if args.limit:
        train_set = (train_set[0][:args.limit], train_set[1][:args.limit])
    command = ' '.join(['/usr/bin/python3 weights/train_fashion.py'] + sys.argv[1:])
    for arch in (['cnn', 'vit'] if args.arch == 'all' else [args.arch]):
        model, epochs, seconds = train(arch, args, train_set)
        acc = accuracy(model, *test_set, arch)
        meta = {
            'arch': arch,
            'num_classes': '10',
            'class_names': json.dumps(CLASS_NAMES),
            'test_accuracy': f'{acc:.4f}',
            'seed': str(args.seed),
            'preprocessing': PREPROCESSING[arch],
            'input_shape': '1,32,32' if arch == 'cnn' else '1,28,28',
            'epochs': str(epochs),
            'threads': str(args.threads),
            'torch_version': torch.__version__,
        }
        if arch == 'cnn':
            meta.update(channels=str(args.channels), blocks=str(args.blocks))
        else:
            meta.update({k: str(v) for k, v in VIT_CONFIG.items()})
        path = os.path.join(args.out, f'fashion-{arch}.safetensors')
        write_safetensors(path, model_tensors(model), meta)
        # the file, not the model in memory, is what ships: check it reproduces the accuracy
        reloaded, _ = load_model(path)
        acc2 = accuracy(reloaded, *test_set, arch)
        assert abs(acc2 - acc) < 1e-9, f'{path}: reloaded accuracy {acc2} != {acc}'
        print(json.dumps({'file': path, 'arch': arch, 'test_accuracy': round(float(acc), 4), 'epochs': epochs,
                          'training_wall_seconds': round(seconds[0]), 'training_cpu_seconds': round(seconds[1]), 'parameters': sum(p.numel() for p in model.parameters()),
                          'command': command}), flush=True)


if __name__ == '__main__':
    main()
