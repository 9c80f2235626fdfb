/**
 * The flags that name a model and its examples (--arch, --weights, --data or --inputs/--labels,
 * --examples or --indices, and the image flags), parsed once for every command that takes
 * them: sweep, run, curve and ablate.
 */
import type { Argv } from 'yargs';
import { fashionSpec, imageSpec, npySpec, type DataSpec } from '../coar/examples.js';
import { parseIndices } from '../coar/indices.js';
import { check } from '../errors.js';
import { ARCHS } from '../models/index.js';
import { imageOptions, parseImageSource, preprocessingFrom, type ImageArgs } from './image_options.js';
import { gpuOptions, type GpuArgs } from './options.js';

/** --data/--inputs/--labels and the image flags, without --arch/--weights. */
export interface DataArgs extends ImageArgs { inputs?: string; labels?: string; data?: string; examples?: number; indices?: string }

export interface ModelDataArgs extends GpuArgs, DataArgs { arch: string; weights: string }

export const DATA_DESCRIBE = "instead of --inputs/--labels: 'fashion-mnist[:test|:train]' (Debian's dataset-fashion-mnist), 'imagefolder:DIR' (torchvision ImageFolder) or 'list:FILE' (path<TAB>label lines)";

/** --arch/--weights and the examples: --inputs/--labels .npy, or --data fashion-mnist[:split] | imagefolder:DIR | list:FILE. */
export function modelDataOptions<T>(y: Argv<T>): Argv<T & ModelDataArgs> {
  return imageOptions(gpuOptions(y))
    .option('arch', { type: 'string', demandOption: true, describe: `architecture: ${ARCHS.join(', ')}` })
    .option('weights', { type: 'string', demandOption: true, describe: 'safetensors file with PyTorch parameter names' })
    .option('inputs', { type: 'string', describe: 'float32 .npy [n, C, H, W], already preprocessed' })
    .option('labels', { type: 'string', describe: 'integer .npy [n]' })
    .option('data', { type: 'string', describe: DATA_DESCRIBE })
    .option('examples', { type: 'number', describe: 'use the first N examples' }) as Argv<T & ModelDataArgs>;
}

/** The data source the flags name; `arch` picks Fashion-MNIST's input size. */
export function dataSpec(args: DataArgs, arch: string): DataSpec {
  if (args.data !== undefined) {
    check(args.inputs === undefined && args.labels === undefined, () => 'give either --data or --inputs/--labels, not both');
    const images = parseImageSource(args.data);
    if (images) return imageSpec(images.source, images.path, preprocessingFrom(args), args['bad-images'] ?? 'fail');
    const m = /^fashion-mnist(?::(train|test))?$/.exec(args.data);
    check(m, () => `--data ${args.data}: use fashion-mnist, fashion-mnist:test, fashion-mnist:train, imagefolder:DIR or list:FILE`);
    return fashionSpec((m[1] ?? 'test') as 'train' | 'test', arch);
  }
  check(args.inputs !== undefined && args.labels !== undefined, () => 'name the examples: --inputs X.npy --labels Y.npy, or --data fashion-mnist');
  return npySpec(args.inputs, args.labels);
}

/** Which examples of the source: the first --examples N, or --indices. */
export function exampleSelection(args: DataArgs): { count?: number; indices?: number[] } {
  check(args.indices === undefined || args.examples === undefined, () => 'give --examples (the first N) or --indices, not both');
  return args.indices !== undefined ? { indices: parseIndices(args.indices, '--indices') } : { count: args.examples };
}
