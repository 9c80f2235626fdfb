/** Model loading by --arch: one place that maps an architecture name to its reader. */
import { UserError } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import { readSafetensors } from '../io/safetensors.js';
import type { ComponentTable } from './components.js';
import type { Network } from './network.js';
import { buildResNet, RESNET_ARCHS, resnetSpec } from './resnet.js';
import { Weights } from './weights.js';

export interface Model {
  arch: string;
  components: ComponentTable;
  inChannels: number;
  classes: number;
  weights: Weights;
  /** upload to the device, laid out for inputs of shape [c, h, w] */
  build(ctx: GpuContext, input: { c: number; h: number; w: number }): Network;
}

export const ARCHS = [...RESNET_ARCHS];

export function loadModel(arch: string, weightsPath: string): Model {
  if (!ARCHS.includes(arch)) throw new UserError(`unknown --arch '${arch}': use one of ${ARCHS.join(', ')}`);
  const wts = new Weights(readSafetensors(weightsPath));
  const s = resnetSpec(arch, wts);
  return {
    arch, components: s.components, inChannels: s.inChannels, classes: s.classes, weights: wts,
    build: (ctx, input) => buildResNet(ctx, s, input),
  };
}
