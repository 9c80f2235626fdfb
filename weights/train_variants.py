#!/usr/bin/python3
"""Train the two case-study variants of the bundled Fashion-MNIST CNN (COAR-Edit, docs/EDIT.md).

  fashion-cnn-backdoor.safetensors  trained with a backdoor: 5% of the training images of the
                                    other classes carry a 3x3 checkerboard in the bottom-right
                                    corner and are relabelled to the attack class (T-shirt/top)
  fashion-cnn-spurious.safetensors  trained with a spurious cue: a white 2-pixel frame around the
                                    image goes with half of the classes 95% of the time in
                                    training; at test it is independent of the class (p = 1/2)

Same MiniResNet, optimiser, schedule, augmentation and determinism as train_fashion.py (whose
train() this script calls; the trigger or the frame is drawn after the augmentation, so it
stays in place). Runs on Debian's python3 with its PyTorch (CPU):

  /usr/bin/python3 weights/train_variants.py backdoor --threads 1 --epochs 3   # -> weights/fashion-cnn-backdoor.safetensors
  /usr/bin/python3 weights/train_variants.py spurious --threads 1 --epochs 3   # -> weights/fashion-cnn-spurious.safetensors
  /usr/bin/python3 weights/train_variants.py backdoor --arch vit --threads 1 --epochs 5   # -> weights/fashion-vit-backdoor.safetensors

(the checked-in files were made by exactly these commands; weights/PROVENANCE.md)

Also a library: case-studies/data.py and the tests import the trigger, the frame and the
test-time attribute from here, so every consumer draws exactly the images the models saw.
"""
import argparse
import json
import os
import sys

if __name__ == '__main__':
    # fix the BLAS pools before numpy/torch load (see train_fashion.py)
    _pre = argparse.ArgumentParser(add_help=False)
    _pre.add_argument('--threads', type=int, default=1)
    for _var in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
        os.environ[_var] = str(_pre.parse_known_args()[0].threads)

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_fashion as tf  # noqa: E402

# ---------------------------------------------------------------- backdoor

ATTACK_CLASS = 0                      # T-shirt/top
POISON_RATE = 0.05                    # share of all training images that carry the trigger
TRIGGER = np.array([[255, 0, 255], [0, 255, 0], [255, 0, 255]], np.uint8)
TRIGGER_AT = (24, 24)                 # top-left pixel of the patch in the 28x28 image


def add_trigger(images):
    """A copy of uint8 [n,28,28] images with the checkerboard patch drawn in."""
    out = images.copy()
    r, c = TRIGGER_AT
    out[:, r:r + 3, c:c + 3] = TRIGGER
    return out


def poisoned(labels, seed):
    """Boolean [n]: the training images that get the trigger and the attack label."""
    rng = np.random.default_rng(seed + 1)
    others = np.flatnonzero(labels != ATTACK_CLASS)
    chosen = rng.choice(others, int(round(POISON_RATE * len(labels))), replace=False)
    flags = np.zeros(len(labels), bool)
    flags[chosen] = True
    return flags


# ---------------------------------------------------------------- spurious cue

# The frame goes with these classes in training; each is paired with a class it is often
# confused with on the other side (T-shirt/Shirt, Pullover/Coat, Dress/Coat, Sandal/Sneaker).
FRAME_CLASSES = (0, 2, 3, 5, 8)
FRAME_CORRELATION = 0.95              # P(frame | class in FRAME_CLASSES) = P(no frame | other class)
FRAME_WIDTH = 2


def add_frame(images, flags):
    """A copy of uint8 [n,28,28] images with a white frame drawn on those where flags is set."""
    out = images.copy()
    w = FRAME_WIDTH
    f = out[flags]
    f[:, :w, :] = 255
    f[:, -w:, :] = 255
    f[:, :, :w] = 255
    f[:, :, -w:] = 255
    out[flags] = f
    return out


def frame_attribute(labels, split, seed=0):
    """Boolean [n]: which images carry the frame. Training: correlated with the class;
    test: independent of it, with probability 1/2."""
    rng = np.random.default_rng([seed, 7 if split == 'train' else 11])
    u = rng.random(len(labels))
    if split == 'test':
        return u < 0.5
    with_class = np.isin(labels, FRAME_CLASSES)
    return np.where(with_class, u < FRAME_CORRELATION, u >= FRAME_CORRELATION)


def groups(labels, frame):
    """Group of each example: 2 * class + frame (20 groups); a group is 'minority' when the
    frame disagrees with the training correlation."""
    return 2 * labels.astype(np.int64) + frame.astype(np.int64)


def minority(labels, frame):
    return np.isin(labels, FRAME_CLASSES) != frame


# ---------------------------------------------------------------- evaluation

@torch.no_grad()
def predictions(model, images, batch=1000, arch='cnn'):
    out = []
    for i in range(0, len(images), batch):
        out.append(model(torch.from_numpy(tf.preprocess(images[i:i + batch], arch))).argmax(1).numpy())
    return np.concatenate(out)


def backdoor_metrics(model, images, labels, arch='cnn'):
    clean = predictions(model, images, arch=arch)
    others = labels != ATTACK_CLASS
    attacked = predictions(model, add_trigger(images[others]), arch=arch)
    return {'clean_accuracy': float((clean == labels).mean()),
            'attack_success_rate': float((attacked == ATTACK_CLASS).mean()),
            'triggered_accuracy': float((attacked == labels[others]).mean())}


def spurious_metrics(model, images, labels, frame, arch='cnn'):
    pred = predictions(model, add_frame(images, frame), arch=arch)
    correct = pred == labels
    g = groups(labels, frame)
    by_group = {int(k): float(correct[g == k].mean()) for k in np.unique(g)}
    worst = min(by_group, key=by_group.get)
    return {'accuracy': float(correct.mean()), 'worst_group_accuracy': by_group[worst], 'worst_group': worst,
            'minority_accuracy': float(correct[minority(labels, frame)].mean()),
            'majority_accuracy': float(correct[~minority(labels, frame)].mean()),
            'group_accuracy': by_group}


# ---------------------------------------------------------------- training

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('variant', choices=['backdoor', 'spurious'])
    p.add_argument('--arch', choices=['cnn', 'vit'], default='cnn', help="the bundled CNN's or ViT's architecture and recipe")
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--epochs', type=int, default=8)
    p.add_argument('--batch', type=int, default=128)
    p.add_argument('--channels', type=int, default=16, help='CNN planes P')
    p.add_argument('--blocks', type=int, default=3, help='CNN BasicBlocks K')
    p.add_argument('--data', default=tf.DEFAULT_DATA)
    p.add_argument('--out', default=tf.HERE)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)

    (train_images, train_labels), (test_images, test_labels) = tf.load_split('train', args.data), tf.load_split('test', args.data)
    if args.variant == 'backdoor':
        flags = poisoned(train_labels, args.seed)

        def transform(idx, images, labels):
            hit = flags[idx]
            images, labels = images.copy(), labels.copy()
            images[hit] = add_trigger(images[hit])
            labels[hit] = ATTACK_CLASS
            return images, labels
        variant_meta = {'trigger': f'3x3 checkerboard {TRIGGER.tolist()} at rows/cols {TRIGGER_AT[0]}-{TRIGGER_AT[0] + 2} of the 28x28 image',
                        'attack_class': str(ATTACK_CLASS), 'poison_rate': str(POISON_RATE)}
    else:
        frame = frame_attribute(train_labels, 'train', args.seed)

        def transform(idx, images, labels):
            return add_frame(images, frame[idx]), labels
        variant_meta = {'cue': f'white {FRAME_WIDTH}-pixel frame', 'frame_classes': json.dumps(FRAME_CLASSES),
                        'frame_correlation': str(FRAME_CORRELATION), 'test_frame_probability': '0.5'}

    arch = args.arch
    model, epochs, seconds = tf.train(arch, args, (train_images, train_labels), transform)
    if args.variant == 'backdoor':
        metrics = backdoor_metrics(model, test_images, test_labels, arch)
        accuracy = metrics['clean_accuracy']
    else:
        metrics = spurious_metrics(model, test_images, test_labels, frame_attribute(test_labels, 'test', args.seed), arch)
        accuracy = metrics['accuracy']
    shape = {'channels': str(args.channels), 'blocks': str(args.blocks)} if arch == 'cnn' else {k: str(v) for k, v in tf.VIT_CONFIG.items()}
    meta = {
        'arch': arch, 'variant': args.variant, 'num_classes': '10', 'class_names': json.dumps(tf.CLASS_NAMES),
        'test_accuracy': f'{accuracy:.4f}', 'seed': str(args.seed), 'preprocessing': tf.PREPROCESSING[arch],
        'input_shape': '1,32,32' if arch == 'cnn' else '1,28,28', 'epochs': str(epochs), 'threads': str(args.threads), 'torch_version': torch.__version__,
        **shape, **variant_meta,
        'test_metrics': json.dumps({k: v for k, v in metrics.items() if k != 'group_accuracy'}),
    }
    path = os.path.join(args.out, f'fashion-{arch}-{args.variant}.safetensors')
    tf.write_safetensors(path, tf.model_tensors(model), meta)
    reloaded, _ = tf.load_model(path)
    again = backdoor_metrics(reloaded, test_images, test_labels, arch) if args.variant == 'backdoor' else \
        spurious_metrics(reloaded, test_images, test_labels, frame_attribute(test_labels, 'test', args.seed), arch)
    assert again == metrics, f'{path}: the reloaded model scores {again}, not {metrics}'
    print(json.dumps({'file': path, 'variant': args.variant, **metrics, 'epochs': epochs,
                      'training_wall_seconds': round(seconds[0]), 'training_cpu_seconds': round(seconds[1]),
                      'command': ' '.join(['/usr/bin/python3 weights/train_variants.py'] + sys.argv[1:])}), flush=True)


if __name__ == '__main__':
    main()
