/**
 * Decoded RGB pixels to a model's input tensor, as the user's own library would make it:
 * - `torchvision`: Resize(resize) of the shorter side with PIL's antialiased filter,
 *   CenterCrop(crop), ToTensor, Normalize(mean, std) — float32 arithmetic as torch does it.
 * - `ffcv`: FFCV's CenterCropRGBImageDecoder (a centred square of crop/resize of the shorter
 *   side, OpenCV INTER_AREA to crop x crop, shrinking or enlarging) then NormalizeImage (its
 *   float64 table, stored float32).
 * - `none`: ToTensor and Normalize of the pixels as decoded (all images one size).
 */
import { UserError } from '../errors.js';
import { resizeArea } from './resize_area.js';
import { resizePil } from './resample_pil.js';
import { cropRgb, type RgbImage } from './rgb.js';

export const PREPROCESS_KINDS = ['torchvision', 'ffcv', 'none'] as const;
export type PreprocessKind = (typeof PREPROCESS_KINDS)[number];
export const INTERPOLATIONS = ['bilinear', 'bicubic'] as const;
export type Interpolation = (typeof INTERPOLATIONS)[number];

export interface Preprocessing {
  kind: PreprocessKind;
  /** shorter side after Resize (torchvision); crop / resize is FFCV's crop ratio */
  resize: number;
  crop: number;
  interpolation: Interpolation;
  mean: [number, number, number];
  std: [number, number, number];
}

export const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];

/** torchvision's _compute_resized_output_size for one requested size: [height, width]. */
export function resizedSize(h: number, w: number, size: number): [number, number] {
  const [short, long] = w <= h ? [w, h] : [h, w];
  const newLong = Math.trunc((size * long) / short);
  return w <= h ? [newLong, size] : [size, newLong];
}

/** Python's round(): nearest, ties to even. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** torchvision's center_crop: zero padding when the image is smaller, then int(round(offset)). */
function centerCrop(im: RgbImage, size: number): RgbImage {
  if (size > im.width || size > im.height) {
    const pw = Math.max(size - im.width, 0), ph = Math.max(size - im.height, 0);
    const left = Math.floor(pw / 2), top = Math.floor(ph / 2);
    const W = im.width + pw, H = im.height + ph;
    const data = new Uint8Array(W * H * 3);
    for (let y = 0; y < im.height; y++) data.set(im.data.subarray(y * im.width * 3, (y + 1) * im.width * 3), ((y + top) * W + left) * 3);
    im = { data, width: W, height: H };
  }
  const top = Math.trunc(roundHalfEven((im.height - size) / 2)), left = Math.trunc(roundHalfEven((im.width - size) / 2));
  return cropRgb(im, top, left, size, size);
}

/** The uint8 pixels after resizing and cropping (before ToTensor); `name` is for errors. */
export function preprocessPixels(im: RgbImage, p: Preprocessing, name: string): RgbImage {
  if (p.kind === 'none') return im;
  if (p.kind === 'torchvision') {
    const [h, w] = resizedSize(im.height, im.width, p.resize);
    if (h === im.height && w === im.width) return centerCrop(im, p.crop);
    if (p.crop > h || p.crop > w) return centerCrop(resizePil(im, w, h, p.interpolation), p.crop);
    // resize only the centre crop's pixels: the same values, a fraction of the work
    const top = Math.trunc(roundHalfEven((h - p.crop) / 2)), left = Math.trunc(roundHalfEven((w - p.crop) / 2));
    return resizePil(im, w, h, p.interpolation, { top, left, width: p.crop, height: p.crop });
  }
  const s = Math.min(im.height, im.width);
  const c = Math.trunc((p.crop / p.resize) * s);
  // a shorter side under resize px makes a crop under crop px, which OpenCV enlarges (resize_area.ts)
  if (c < 1) throw new UserError(`${name}: ${im.width}x${im.height} is too small for --preprocess ffcv (its centre crop of ${p.crop}/${p.resize} of the shorter side is empty); use images of at least ${Math.ceil(p.resize / p.crop)} px on the shorter side`);
  const square = cropRgb(im, Math.floor((im.height - c) / 2), Math.floor((im.width - c) / 2), c, c);
  return c === p.crop ? square : resizeArea(square, p.crop, p.crop);
}

/** ToTensor + Normalize into out[offset..] as CHW float32. */
export function toTensor(im: RgbImage, p: Preprocessing, out: Float32Array, offset: number): void {
  const n = im.width * im.height;
  const f = Math.fround;
  for (let c = 0; c < 3; c++) {
    const o = offset + c * n;
    if (p.kind === 'ffcv') {
      // FFCV's table: (np.arange(256) - mean * 255) / (std * 255) in float64, then stored as float32
      const m = p.mean[c]! * 255, s = p.std[c]! * 255;
      const table = Float32Array.from({ length: 256 }, (_, v) => (v - m) / s);
      for (let i = 0; i < n; i++) out[o + i] = table[im.data[i * 3 + c]!]!;
    } else {
      // torch: img.float().div(255), then tensor.sub_(mean).div_(std) with float32 mean/std
      const m = f(p.mean[c]!), s = f(p.std[c]!);
      const table = Float32Array.from({ length: 256 }, (_, v) => f(f(f(v / 255) - m) / s));
      for (let i = 0; i < n; i++) out[o + i] = table[im.data[i * 3 + c]!]!;
    }
  }
}

/** Output height and width a preprocessing gives (null: the images' own size). */
export function outputSize(p: Preprocessing): number | null {
  return p.kind === 'none' ? null : p.crop;
}
