/**
 * Fashion-MNIST from Debian's `dataset-fashion-mnist` package (installed by scripts/setup.sh):
 * the default data of the bundled models in weights/. `preprocess` is the models' input
 * exactly as weights/train_fashion.py computes it (the tests compare the two).
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { readIdx } from '../io/idx.js';

/** Where the Debian package puts the four gzipped IDX files (`dpkg -L dataset-fashion-mnist`). */
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

export const CLASS_NAMES: readonly string[] = [
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
];

export type Split = 'train' | 'test';
/** 'cnn': 28×28 zero-padded to 32×32 (the MiniResNet's AvgPool2d(8) needs 32×32); 'vit': 28×28. */
export type FashionArch = 'cnn' | 'vit';

export const IMAGE_SIZE = 28;
export const MEAN = 0.286;
export const STD = 0.353;

export interface FashionMnist {
  /** uint8 pixels [count, 28, 28], row-major */
  images: Uint8Array;
  /** class indices [count], each < 10 */
  labels: Uint8Array;
  count: number;
  classNames: string[];
}

const FILES: Record<Split, { images: string; labels: string }> = {
  train: { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte' },
  test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' },
};

const SETUP_HINT = "run scripts/setup.sh (it installs Debian's dataset-fashion-mnist)";

/** The gzipped file, or a plain one of the same name without .gz (e.g. an unpacked copy). */
function locate(folder: string, name: string): string {
  for (const candidate of [join(folder, `${name}.gz`), join(folder, name)]) {
    if (existsSync(candidate)) return candidate;
  }
  throw new UserError(`Fashion-MNIST: ${folder} holds no ${name}.gz (nor ${name}); ${SETUP_HINT}, or give a folder with the four IDX files`);
}

export function loadFashionMnist(split: Split, folder: string = FASHION_MNIST_DIR): FashionMnist {
  if (!existsSync(folder) || !statSync(folder).isDirectory()) {
    throw new UserError(`Fashion-MNIST not found: no folder ${folder}; ${SETUP_HINT}, or give a folder with the four IDX files`);
  }
  const imagePath = locate(folder, FILES[split].images);
  const labelPath = locate(folder, FILES[split].labels);
  const images = readIdx(imagePath);
  const labels = readIdx(labelPath);
  const [count, h, w] = images.shape;
  if (images.shape.length !== 3 || h !== IMAGE_SIZE || w !== IMAGE_SIZE) {
    throw new UserError(`${imagePath}: expected images of shape [n, 28, 28], found [${images.shape.join(', ')}]`);
  }
  if (labels.shape.length !== 1 || labels.shape[0] !== count) {
    throw new UserError(`${labelPath}: expected ${count} labels (one per image in ${imagePath}), found shape [${labels.shape.join(', ')}]`);
  }
  const badLabel = labels.data.findIndex((l) => l >= CLASS_NAMES.length);
  if (badLabel >= 0) throw new UserError(`${labelPath}: label ${labels.data[badLabel]} at index ${badLabel} is not a class (0-9)`);
  return { images: images.data, labels: labels.data, count: count!, classNames: [...CLASS_NAMES] };
}

/** [channels, height, width] of one preprocessed image. */
export function inputShape(arch: FashionArch): [number, number, number] {
  return arch === 'cnn' ? [1, 32, 32] : [1, IMAGE_SIZE, IMAGE_SIZE];
}

/**
 * (u8 / 255 − 0.2860) / 0.3530, each step rounded to float32 as numpy does in the training
 * script (float64 arithmetic then fround is exact here: a single +, −, × or ÷ rounded twice
 * from 53 to 24 bits gives the float32 result).
 */
const NORMALISED = Float32Array.from({ length: 256 }, (_, v) => {
  const f = Math.fround;
  return f(f(f(v / 255) - f(MEAN)) / f(STD));
});

/** The models' input for images[indices]: float32 NCHW [indices.length, 1, H, W]. */
export function preprocess(images: Uint8Array, indices: ArrayLike<number>, arch: FashionArch): Float32Array {
  const pixels = IMAGE_SIZE * IMAGE_SIZE;
  const count = images.length / pixels;
  const [, H, W] = inputShape(arch);
  const pad = (H - IMAGE_SIZE) / 2; // zeros around the normalised image (0 is the mean pixel)
  const out = new Float32Array(indices.length * H * W);
  for (let n = 0; n < indices.length; n++) {
    const i = indices[n]!;
    if (!Number.isInteger(i) || i < 0 || i >= count) {
      throw new UserError(`image index ${i} is out of range: the set has ${count} images (0-${count - 1})`);
    }
    for (let y = 0; y < IMAGE_SIZE; y++) {
      const src = i * pixels + y * IMAGE_SIZE;
      const dst = n * H * W + (y + pad) * W + pad;
      for (let x = 0; x < IMAGE_SIZE; x++) out[dst + x] = NORMALISED[images[src + x]!]!;
    }
  }
  return out;
}
