/**
 * The models bundled in weights/ (made by weights/train_fashion.py, weights/PROVENANCE.md),
 * each with run defaults sized for about 5 minutes on an idle 2-core machine through the
 * software adapter (BENCHMARKS.md, "Main job"): the ViT has 16 times the CNN's components,
 * so it gets more masks (about 1.1 |C|) and fewer examples.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const WEIGHTS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'weights');

export interface BundledModel { arch: string; weights: string; title: string; examples: number; masks: number }

export const BUNDLED: Record<string, BundledModel> = {
  cnn: { arch: 'mini-resnet', weights: join(WEIGHTS, 'fashion-cnn.safetensors'), title: 'MiniResNet (16 channels, 3 blocks) on Fashion-MNIST', examples: 32, masks: 600 },
  vit: { arch: 'vit', weights: join(WEIGHTS, 'fashion-vit.safetensors'), title: 'ViT (4 layers, width 64) on Fashion-MNIST', examples: 16, masks: 2000 },
};
