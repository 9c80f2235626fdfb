/** The flags that turn image files into tensors (--preprocess and friends), shared by every command that takes --data. */
import type { Argv } from 'yargs';
import type { BadImages } from '../data/image_pool.js';
import { IMAGENET_MEAN, IMAGENET_STD, INTERPOLATIONS, PREPROCESS_KINDS, type Interpolation, type Preprocessing, type PreprocessKind } from '../data/preprocess.js';
import { check } from '../errors.js';

export interface ImageArgs {
  preprocess?: PreprocessKind; resize?: number; crop?: number; interpolation?: Interpolation;
  mean?: string; std?: string; 'bad-images'?: BadImages;
}

export function imageOptions<T>(y: Argv<T>): Argv<T & ImageArgs> {
  const group = 'Images (--data imagefolder:DIR or list:FILE):';
  return y
    .option('preprocess', { choices: PREPROCESS_KINDS, describe: "torchvision: Resize(--resize, PIL) + CenterCrop(--crop); ffcv: centre crop of --crop/--resize of the shorter side + OpenCV INTER_AREA to --crop; none: pixels as decoded (default: torchvision, the family of every built-in architecture)", group })
    .option('resize', { type: 'number', describe: 'shorter side after resizing (torchvision; for ffcv, crop/resize is the crop ratio) (default 256)', group })
    .option('crop', { type: 'number', describe: 'centre crop, the model input size (default 224)', group })
    .option('interpolation', { choices: INTERPOLATIONS, describe: "PIL filter of torchvision's Resize (default bilinear; timm's eval transforms use bicubic)", group })
    .option('mean', { type: 'string', describe: 'per-channel mean, R,G,B in [0, 1] (default ImageNet 0.485,0.456,0.406)', group })
    .option('std', { type: 'string', describe: 'per-channel std (default ImageNet 0.229,0.224,0.225)', group })
    .option('bad-images', { choices: ['fail', 'skip'] as const, describe: 'an unreadable image stops the command (fail, default) or is left out and listed in the manifest (skip)', group }) as Argv<T & ImageArgs>;
}

function triple(flag: string, text: string | undefined, fallback: [number, number, number], positive: boolean): [number, number, number] {
  if (text === undefined) return fallback;
  const v = text.split(',').map((s) => Number(s.trim()));
  check(v.length === 3 && v.every((x) => Number.isFinite(x) && (!positive || x > 0)), () => `${flag} ${text}: give three ${positive ? 'positive ' : ''}numbers R,G,B, e.g. ${fallback.join(',')}`);
  return v as [number, number, number];
}

/** The preprocessing the flags ask for, with the defaults of the model family filled in. */
export function preprocessingFrom(args: ImageArgs): Preprocessing {
  const kind = args.preprocess ?? 'torchvision';
  const resize = args.resize ?? 256, crop = args.crop ?? 224;
  check(Number.isInteger(resize) && resize > 0, () => `--resize must be a positive integer, got ${args.resize}`);
  check(Number.isInteger(crop) && crop > 0, () => `--crop must be a positive integer, got ${args.crop}`);
  check(kind !== 'ffcv' || crop <= resize, () => `--crop ${crop} is larger than --resize ${resize}: FFCV's crop ratio crop/resize must be at most 1`);
  return {
    kind, resize, crop, interpolation: args.interpolation ?? 'bilinear',
    mean: triple('--mean', args.mean, IMAGENET_MEAN, false), std: triple('--std', args.std, IMAGENET_STD, true),
  };
}

/** `imagefolder:DIR` or `list:FILE`, or null for another kind of source. */
export function parseImageSource(text: string): { source: 'imagefolder' | 'list'; path: string } | null {
  const m = /^(imagefolder|list):(.+)$/.exec(text);
  return m ? { source: m[1] as 'imagefolder' | 'list', path: m[2]! } : null;
}
