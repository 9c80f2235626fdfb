/** Model loading by --arch: one place that maps an architecture name to its reader. */
import { UserError } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import { readSafetensors } from '../io/safetensors.js';
import type { ComponentTable } from './components.js';
import type { Network } from './network.js';
import { buildResNet, RESNET_ARCHS, resnetSpec } from './resnet.js';
import { buildViT, VIT_ARCHS, vitSpec } from './vit.js';
import { Weights } from './weights.js';

export interface Model {
  arch: string;
  components: ComponentTable;
  inChannels: number;
  classes: number;
  weights: Weights;
  /** the input side the model is made for, when its weights say (ViT: patches x patch size; the CIFAR ResNets: 32) */
  inputSize?: number;
  /** upload to the device, laid out for inputs of shape [c, h, w] */
  build(ctx: GpuContext, input: { c: number; h: number; w: number }): Network;
}

export const ARCHS = [...RESNET_ARCHS, ...VIT_ARCHS];

export interface LoadOptions {
  /** attention heads of a ViT (else the safetensors metadata key `num_heads`) */
  heads?: number;
}

export function loadModel(arch: string, weightsPath: string, opts: LoadOptions = {}): Model {
  if (!ARCHS.includes(arch)) throw new UserError(`unknown --arch '${arch}': use one of ${ARCHS.join(', ')}`);
  if (opts.heads !== undefined && !VIT_ARCHS.includes(arch)) throw new UserError(`--heads is for Vision Transformers (--arch ${VIT_ARCHS.join(' or ')}), not ${arch}`);
  const wts = new Weights(readSafetensors(weightsPath));
  if (VIT_ARCHS.includes(arch)) {
    const v = vitSpec(arch, wts, opts);
    return {
      arch, components: v.components, inChannels: v.inChannels, classes: v.classes, weights: wts,
      inputSize: Math.round(Math.sqrt(v.tokens - 1)) * v.patch,
      build: (ctx, input) => buildViT(ctx, v, input),
    };
  }
  const s = resnetSpec(arch, wts);
  return {
    arch, components: s.components, inChannels: s.inChannels, classes: s.classes, weights: wts,
    inputSize: s.inputSize,
    build: (ctx, input) => buildResNet(ctx, s, input),
  };
}
