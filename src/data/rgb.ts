/** An 8-bit RGB image, pixels interleaved row by row (HWC), as PIL holds mode 'RGB'. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** Rows [top, top+h) and columns [left, left+w) of an image (no bounds padding). */
export function cropRgb(im: RgbImage, top: number, left: number, h: number, w: number): RgbImage {
  const out = new Uint8Array(h * w * 3);
  for (let y = 0; y < h; y++) {
    const from = ((top + y) * im.width + left) * 3;
    out.set(im.data.subarray(from, from + w * 3), y * w * 3);
  }
  return { data: out, width: w, height: h };
}
