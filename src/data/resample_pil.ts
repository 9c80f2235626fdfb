/**
 * Pillow's antialiased resize (`Image.resize` with BILINEAR / BICUBIC / ..., Resample.c), so
 * that torchvision's `Resize` on PIL images is reproduced pixel for pixel: a separable filter,
 * horizontal pass first, then vertical; the filter's support grows with the downscale factor
 * (that is the antialiasing); weights are normalised per output pixel, then turned into
 * fixed-point integers with 22 fractional bits (32 - 8 - 2: 8 for the pixel, 2 of headroom for
 * negative lobes), accumulated from a half-unit, and clipped to 0..255 after each pass.
 */
import type { RgbImage } from './rgb.js';

export type PilFilter = 'bilinear' | 'bicubic' | 'box' | 'hamming' | 'lanczos';

const PRECISION_BITS = 32 - 8 - 2;

function sinc(x: number): number {
  if (x === 0) return 1;
  x *= Math.PI;
  return Math.sin(x) / x;
}

/** Each filter's kernel and support (radius at scale 1), as Pillow defines them. */
const FILTERS: Record<PilFilter, { support: number; f: (x: number) => number }> = {
  box: { support: 0.5, f: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
  bilinear: { support: 1, f: (x) => { x = Math.abs(x); return x < 1 ? 1 - x : 0; } },
  hamming: {
    support: 1,
    f: (x) => {
      x = Math.abs(x);
      if (x === 0) return 1;
      if (x >= 1) return 0;
      x *= Math.PI;
      // Pillow writes the constants as C floats (0.54f, 0.46f)
      return (Math.sin(x) / x) * (Math.fround(0.54) + Math.fround(0.46) * Math.cos(x));
    },
  },
  bicubic: {
    support: 2,
    f: (x) => {
      const a = -0.5;
      x = Math.abs(x);
      if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
      if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
      return 0;
    },
  },
  lanczos: { support: 3, f: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0) },
};

/** Per output position: first input index, tap count, and `ksize` fixed-point weights. */
interface Coeffs { ksize: number; bounds: Int32Array; kk: Int32Array }

/** Pillow's precompute_coeffs followed by normalize_coeffs_8bpc, for the box [0, inSize). */
function coefficients(inSize: number, outSize: number, filter: PilFilter): Coeffs {
  const { support: base, f } = FILTERS[filter];
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = base * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Int32Array(outSize * ksize);
  const w = new Float64Array(ksize);
  const ss = 1 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    // C's (int) cast truncates toward zero
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      w[x] = f((x + xmin - center + 0.5) * ss);
      ww += w[x]!;
    }
    for (let x = 0; x < ksize; x++) {
      const v = x < xmax ? (ww !== 0 ? w[x]! / ww : w[x]!) : 0;
      kk[xx * ksize + x] = v < 0 ? Math.trunc(-0.5 + v * (1 << PRECISION_BITS)) : Math.trunc(0.5 + v * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, kk };
}

const HALF = 1 << (PRECISION_BITS - 1);

/** Pillow's clip8: the integer part of a fixed-point sum, clamped to a byte. */
function clip8(ss: number): number {
  const v = ss >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** Output columns [x0, x0 + outW) of the horizontal pass, over input rows [y0, y0 + h). */
function horizontal(im: RgbImage, x0: number, outW: number, y0: number, h: number, c: Coeffs): RgbImage {
  const { width: inW, data } = im;
  const out = new Uint8Array(outW * h * 3);
  const { ksize, bounds, kk } = c;
  for (let y = 0; y < h; y++) {
    const row = (y + y0) * inW * 3;
    for (let xx = 0; xx < outW; xx++) {
      const xmin = bounds[(xx + x0) * 2]!, xmax = bounds[(xx + x0) * 2 + 1]!, k0 = (xx + x0) * ksize;
      let s0 = HALF, s1 = HALF, s2 = HALF;
      for (let x = 0, p = row + xmin * 3; x < xmax; x++, p += 3) {
        const k = kk[k0 + x]!;
        s0 += data[p]! * k; s1 += data[p + 1]! * k; s2 += data[p + 2]! * k;
      }
      const o = (y * outW + xx) * 3;
      out[o] = clip8(s0); out[o + 1] = clip8(s1); out[o + 2] = clip8(s2);
    }
  }
  return { data: out, width: outW, height: h };
}

/** Output rows [y0, y0 + outH) of the vertical pass; `first` is the input row im's row 0 stands for. */
function vertical(im: RgbImage, y0: number, outH: number, first: number, c: Coeffs): RgbImage {
  const { width: w, data } = im;
  const stride = w * 3;
  const out = new Uint8Array(stride * outH);
  const { ksize, bounds, kk } = c;
  // sums of a whole output row at once: the inner loop runs along memory
  const acc = new Float64Array(stride);
  for (let yy = 0; yy < outH; yy++) {
    const ymin = bounds[(yy + y0) * 2]! - first, ymax = bounds[(yy + y0) * 2 + 1]!, k0 = (yy + y0) * ksize;
    acc.fill(HALF);
    for (let y = 0; y < ymax; y++) {
      const k = kk[k0 + y]!, row = (y + ymin) * stride;
      for (let i = 0; i < stride; i++) acc[i] = acc[i]! + data[row + i]! * k;
    }
    const o = yy * stride;
    for (let i = 0; i < stride; i++) out[o + i] = clip8(acc[i]!);
  }
  return { data: out, width: w, height: outH };
}

/** A window of the output: rows [top, top + height), columns [left, left + width). */
export interface Window { top: number; left: number; width: number; height: number }

/**
 * `Image.resize((width, height), filter)` of an RGB image, as Pillow computes it; with `window`,
 * only that part of the result (each output pixel depends on its own weights alone, so a
 * window is exactly the crop of the full result, without computing the rest).
 */
export function resizePil(im: RgbImage, width: number, height: number, filter: PilFilter, window?: Window): RgbImage {
  const win = window ?? { top: 0, left: 0, width, height };
  let cur = im;
  const vert = height !== im.height ? coefficients(im.height, height, filter) : null;
  // input rows the vertical pass reads (all rows of the window when there is no vertical pass)
  const first = vert ? vert.bounds[win.top * 2]! : win.top;
  const last = vert ? vert.bounds[(win.top + win.height - 1) * 2]! + vert.bounds[(win.top + win.height - 1) * 2 + 1]! : win.top + win.height;
  if (width !== im.width) cur = horizontal(cur, win.left, win.width, first, last - first, coefficients(im.width, width, filter));
  else cur = cropRows(cur, win.left, win.width, first, last - first);
  if (vert) cur = vertical(cur, win.top, win.height, first, vert);
  return cur;
}

function cropRows(im: RgbImage, x0: number, w: number, y0: number, h: number): RgbImage {
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) out.set(im.data.subarray(((y + y0) * im.width + x0) * 3, ((y + y0) * im.width + x0 + w) * 3), y * w * 3);
  return { data: out, width: w, height: h };
}
