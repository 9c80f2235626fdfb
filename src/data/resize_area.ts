/**
 * OpenCV's `cv::resize(..., INTER_AREA)` for 8-bit, 3-channel images when shrinking (FFCV's
 * `resize_crop`): each output pixel is the area-weighted mean of the input pixels its cell
 * covers. OpenCV takes two paths and so do we: an integer factor averages whole blocks in
 * integers (a 2x2 block rounds as (sum + 2) >> 2, other blocks as cvRound(sum * (1/area)));
 * any other factor weighs rows and columns by their covered fraction in float32 (the
 * accumulator type OpenCV uses for uchar) and rounds half to even (cvRound).
 */
import type { RgbImage } from './rgb.js';

const f = Math.fround;

/** cvRound then saturate_cast<uchar>: nearest, ties to even, clamped to 0..255. */
function roundByte(v: number): number {
  let r = Math.round(v);
  if (r - v === 0.5 && r % 2 !== 0) r -= 1; // Math.round sends ties up; cvRound to even
  return r < 0 ? 0 : r > 255 ? 255 : r;
}

interface Tap { di: number; si: number; alpha: number }

/** OpenCV's computeResizeAreaTab: the (output, input, weight) taps of one axis. */
function areaTaps(ssize: number, dsize: number, scale: number): Tap[] {
  const taps: Tap[] = [];
  for (let dx = 0; dx < dsize; dx++) {
    const fsx1 = dx * scale;
    const fsx2 = fsx1 + scale;
    const cellWidth = Math.min(scale, ssize - fsx1);
    let sx1 = Math.ceil(fsx1), sx2 = Math.floor(fsx2);
    sx2 = Math.min(sx2, ssize - 1);
    sx1 = Math.min(sx1, sx2);
    if (sx1 - fsx1 > 1e-3) taps.push({ di: dx, si: sx1 - 1, alpha: f((sx1 - fsx1) / cellWidth) });
    for (let sx = sx1; sx < sx2; sx++) taps.push({ di: dx, si: sx, alpha: f(1 / cellWidth) });
    if (fsx2 - sx2 > 1e-3) taps.push({ di: dx, si: sx2, alpha: f(Math.min(Math.min(fsx2 - sx2, 1), cellWidth) / cellWidth) });
  }
  return taps;
}

function areaFast(im: RgbImage, w: number, h: number, sx: number, sy: number): RgbImage {
  const out = new Uint8Array(w * h * 3);
  const area = sx * sy, inv = f(1 / area);
  const stride = im.width * 3;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let j = 0; j < sy; j++) for (let i = 0; i < sx; i++) sum += im.data[(y * sy + j) * stride + (x * sx + i) * 3 + c]!;
        out[(y * w + x) * 3 + c] = sx === 2 && sy === 2 ? (sum + 2) >> 2 : roundByte(f(sum * inv));
      }
    }
  }
  return { data: out, width: w, height: h };
}

/** `cv2.resize(im, (width, height), interpolation=cv2.INTER_AREA)` for width <= im.width, height <= im.height. */
export function resizeArea(im: RgbImage, width: number, height: number): RgbImage {
  if (width > im.width || height > im.height) throw new Error(`resizeArea shrinks only: ${im.width}x${im.height} -> ${width}x${height}`);
  const scaleX = 1 / (width / im.width), scaleY = 1 / (height / im.height);
  const ix = Math.round(scaleX), iy = Math.round(scaleY);
  if (Math.abs(scaleX - ix) < Number.EPSILON && Math.abs(scaleY - iy) < Number.EPSILON) return areaFast(im, width, height, ix, iy);
  const xt = areaTaps(im.width, width, scaleX), yt = areaTaps(im.height, height, scaleY);
  const W = width * 3, stride = im.width * 3;
  const out = new Uint8Array(W * height);
  const buf = new Float32Array(W), sum = new Float32Array(W);
  let prev = yt[0]!.di;
  for (const { di: dy, si: sy, alpha: beta } of yt) {
    buf.fill(0);
    const row = sy * stride;
    for (const { di, si, alpha } of xt) {
      for (let c = 0; c < 3; c++) buf[di * 3 + c] = f(buf[di * 3 + c]! + f(im.data[row + si * 3 + c]! * alpha));
    }
    if (dy !== prev) {
      for (let i = 0; i < W; i++) { out[prev * W + i] = roundByte(sum[i]!); sum[i] = f(beta * buf[i]!); }
      prev = dy;
    } else {
      for (let i = 0; i < W; i++) sum[i] = f(sum[i]! + f(beta * buf[i]!));
    }
  }
  for (let i = 0; i < W; i++) out[prev * W + i] = roundByte(sum[i]!);
  return { data: out, width, height };
}
