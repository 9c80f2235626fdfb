/**
 * OpenCV's `cv::resize(..., INTER_AREA)` for 8-bit, 3-channel images (FFCV's `resize_crop`).
 * Shrinking, each output pixel is the area-weighted mean of the input pixels its cell
 * covers. OpenCV takes two paths and so do we: an integer factor averages whole blocks in
 * integers (a 2x2 block rounds as (sum + 2) >> 2, other blocks as cvRound(sum * (1/area)));
 * any other factor weighs rows and columns by their covered fraction in float32 (the
 * accumulator type OpenCV uses for uchar) and rounds half to even (cvRound).
 * Enlarging (an image whose shorter side is under 256 px), OpenCV emulates area with a
 * bilinear resize whose taps are placed by area rather than by pixel centres (so it is not
 * INTER_LINEAR: they agree on 2-10% of values), in 11-bit fixed point (resizeAreaUp).
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

/** Python's round() / cvRound: nearest, ties to even. */
function roundEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * One axis of OpenCV's resizeGeneric_ in area mode (resize.cpp, `area_mode`): the source
 * index of each output and the weights of it and its successor, as shorts summing to 2048.
 */
function upTaps(ssize: number, dsize: number): { ofs: Int32Array; a0: Int32Array; a1: Int32Array } {
  const inv = dsize / ssize, scale = 1 / inv;
  const ofs = new Int32Array(dsize), a0 = new Int32Array(dsize), a1 = new Int32Array(dsize);
  for (let d = 0; d < dsize; d++) {
    let s = Math.floor(d * scale);
    let fx = f((d + 1) - (s + 1) * inv);
    fx = fx <= 0 ? 0 : f(fx - Math.floor(fx));
    if (s >= ssize - 1) { fx = 0; s = ssize - 1; }
    ofs[d] = s;
    a0[d] = roundEven(f(f(1 - fx) * 2048));
    a1[d] = roundEven(f(fx * 2048));
  }
  return { ofs, a0, a1 };
}

/**
 * `cv2.resize(im, (width, height), interpolation=cv2.INTER_AREA)` for width >= im.width and
 * height >= im.height: a horizontal pass in integers (pixel x weight), then the vertical pass
 * as OpenCV's SIMD kernel VResizeLinearVec_32s8u computes it on every column of an 8-bit row:
 * ((S0 >> 4) * b0 >> 16) + ((S1 >> 4) * b1 >> 16), rounded by (v + 2) >> 2. (Its scalar
 * formula, (S0 b0 + S1 b1 + 2^21) >> 22, differs in the last bit on about 5% of values.)
 */
function resizeAreaUp(im: RgbImage, width: number, height: number): RgbImage {
  const xt = upTaps(im.width, width), yt = upTaps(im.height, height);
  const W = width * 3, stride = im.width * 3;
  // the horizontal pass of each source row, made once (every source row is used)
  const rows = new Int32Array(im.height * W);
  for (let y = 0; y < im.height; y++) {
    const src = y * stride, dst = y * W;
    for (let x = 0; x < width; x++) {
      const s = xt.ofs[x]! * 3, w0 = xt.a0[x]!, w1 = xt.a1[x]!;
      const last = xt.ofs[x]! >= im.width - 1;
      for (let c = 0; c < 3; c++) {
        rows[dst + x * 3 + c] = last ? im.data[src + s + c]! * 2048 : im.data[src + s + c]! * w0 + im.data[src + s + 3 + c]! * w1;
      }
    }
  }
  const out = new Uint8Array(W * height);
  for (let y = 0; y < height; y++) {
    const s0 = yt.ofs[y]! * W, s1 = Math.min(yt.ofs[y]! + 1, im.height - 1) * W;
    const b0 = yt.a0[y]!, b1 = yt.a1[y]!;
    for (let i = 0; i < W; i++) {
      const v = (((rows[s0 + i]! >> 4) * b0) >> 16) + (((rows[s1 + i]! >> 4) * b1) >> 16);
      const r = (v + 2) >> 2;
      out[y * W + i] = r < 0 ? 0 : r > 255 ? 255 : r;
    }
  }
  return { data: out, width, height };
}

/** `cv2.resize(im, (width, height), interpolation=cv2.INTER_AREA)`, shrinking or enlarging both sides. */
export function resizeArea(im: RgbImage, width: number, height: number): RgbImage {
  if (width === im.width && height === im.height) return { data: im.data.slice(), width, height };
  if (width >= im.width && height >= im.height) return resizeAreaUp(im, width, height);
  if (width > im.width || height > im.height) throw new Error(`resizeArea shrinks or enlarges both sides: ${im.width}x${im.height} -> ${width}x${height}`);
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
