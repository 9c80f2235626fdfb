"""Independent reference for test/fashion.test.ts (Debian python3, numpy, PyTorch).

  idx <out_dir>                    the four gzipped IDX files read with gzip + numpy
                                   -> <out_dir>/{train,test}_{images,labels}.npy
  preprocess <out_dir> <i,j,...>   weights/train_fashion.py's own preprocess() of those test images
                                   -> <out_dir>/{cnn,vit}.npy
  evaluate <file> <n>              rebuild the model in PyTorch from the safetensors file (read here,
                                   not by the training script) and measure accuracy on the first n
                                   test images; prints JSON
  ablate <file> <masks.npy> <i,j,...> <out.npy>
                                   margins [masks, examples] of those test images under the masks
                                   (bool [k, |C|], True = kept), the reference way: zero the weight rows;
                                   prints JSON {seconds, passes, threads} (the timed passes, after a warm-up)
"""
import gzip
import json
import os
import struct
import sys
import time

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')
sys.dont_write_bytecode = True  # no __pycache__ beside the bundled weights
sys.path.insert(0, os.path.join(ROOT, 'weights'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
DATA = '/usr/share/datasets/fashion-mnist'
FILES = {'train': ('train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz'),
         'test': ('t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz')}


def read_gz(path, magic, ndim):
    with gzip.open(path, 'rb') as f:
        raw = f.read()
    got = struct.unpack('>I', raw[:4])[0]
    assert got == magic, f'{path}: magic {got}, expected {magic}'
    dims = struct.unpack('>' + 'I' * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(split):
    images, labels = FILES[split]
    return read_gz(os.path.join(DATA, images), 2051, 3), read_gz(os.path.join(DATA, labels), 2049, 1)


def read_safetensors(path):
    with open(path, 'rb') as f:
        raw = f.read()
    n = struct.unpack('<Q', raw[:8])[0]
    assert n % 8 == 0, f'{path}: header length {n} is not a multiple of 8'
    header = json.loads(raw[8:8 + n].decode('utf-8'))
    meta = header.pop('__metadata__')
    out = {}
    for name, info in header.items():
        assert info['dtype'] == 'F32', name
        b, e = info['data_offsets']
        out[name] = np.frombuffer(raw[8 + n + b:8 + n + e], dtype='<f4').reshape(info['shape']).copy()
    return out, meta


def load_model(path):
    """The bundled model rebuilt in PyTorch from a safetensors file read here."""
    import torch
    from train_fashion import MiniResNet, build_vit
    torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS', '2')))
    tensors, meta = read_safetensors(path)
    model = MiniResNet(1, int(meta['channels']), int(meta['blocks'])) if meta['arch'] == 'cnn' else build_vit()
    state = {k: torch.from_numpy(v) for k, v in tensors.items()}
    # every parameter and buffer must come from the file; only the step counters may be absent
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith('num_batches_tracked')]
    assert not missing and not unexpected, f'missing {missing}, unexpected {unexpected}'
    return model.eval(), meta


def main():
    cmd = sys.argv[1]
    if cmd == 'idx':
        out = sys.argv[2]
        for split in ('train', 'test'):
            images, labels = load(split)
            np.save(os.path.join(out, f'{split}_images.npy'), images)
            np.save(os.path.join(out, f'{split}_labels.npy'), labels)
    elif cmd == 'preprocess':
        from train_fashion import preprocess
        out, indices = sys.argv[2], [int(i) for i in sys.argv[3].split(',')]
        images, _ = load('test')
        for arch in ('cnn', 'vit'):
            np.save(os.path.join(out, f'{arch}.npy'), preprocess(images[indices], arch))
    elif cmd == 'evaluate':
        import torch
        from train_fashion import preprocess
        path, n = sys.argv[2], int(sys.argv[3])
        model, meta = load_model(path)
        arch = meta['arch']
        images, labels = load('test')
        with torch.no_grad():
            logits = torch.cat([model(torch.from_numpy(preprocess(images[i:i + 500], arch)))
                                for i in range(0, n, 500)])[:n]
        acc = float((logits.argmax(1).numpy() == labels[:n]).mean())
        print(json.dumps({'accuracy': acc, 'n': n, 'metadata': meta,
                          'parameters': sum(p.numel() for p in model.parameters())}))
    elif cmd == 'ablate':
        import torch
        from train_fashion import preprocess
        from torch_ablation import ablated_logits, cnn_components, margins, vit_components
        path, masks, out = sys.argv[2], np.load(sys.argv[3]).astype(bool), sys.argv[5]
        indices = [int(i) for i in sys.argv[4].split(',')]
        model, meta = load_model(path)
        table = (cnn_components if meta['arch'] == 'cnn' else vit_components)(model)
        assert masks.shape[1] == sum(c for _, c in table), f'masks {masks.shape} for {sum(c for _, c in table)} components'
        images, labels = load('test')
        x = torch.from_numpy(preprocess(images[indices], meta['arch']))
        ablated_logits(model, table, masks[:1], x)  # warm-up, so the timing below is the steady state
        t0 = time.perf_counter()
        logits = ablated_logits(model, table, masks, x)
        seconds = time.perf_counter() - t0
        np.save(out, margins(logits, labels[indices].astype(np.int64)))
        print(json.dumps({'seconds': seconds, 'passes': len(masks) * len(indices), 'threads': torch.get_num_threads()}))
    else:
        raise SystemExit(f'unknown command {cmd}')


if __name__ == '__main__':
    main()
