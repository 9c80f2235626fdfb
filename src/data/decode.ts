/**
 * Image files to 8-bit RGB exactly as PIL's `Image.open(path).convert('RGB')` gives them,
 * decoded by sharp (libvips; libjpeg-turbo for JPEG, like PIL's). libvips would colour-manage
 * (embedded ICC profiles, CMYK to sRGB through a profile) and rescale 16-bit samples; PIL does
 * neither, so we ask libvips for the samples as stored and apply PIL's own conversions here.
 */
import sharp from 'sharp';
import { UserError } from '../errors.js';
import type { RgbImage } from './rgb.js';

/** The advice every unreadable image ends with. */
export const BAD_IMAGE_HINT = 'fix or remove the file, or pass --bad-images skip';

const OPTIONS = { failOn: 'error', ignoreIcc: true, sequentialRead: true, limitInputPixels: 0x3fff ** 2 } as const;

/** PIL's cmyk2rgb: (255 - k) - c * (255 - k) / 255 with its integer rounding, per channel. */
function cmykToRgb(px: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(n * 3);
  const muldiv255 = (a: number, b: number) => { const t = a * b + 128; return ((t >> 8) + t) >> 8; };
  for (let i = 0; i < n; i++) {
    const nk = 255 - px[i * 4 + 3]!;
    for (let c = 0; c < 3; c++) {
      const v = nk - muldiv255(px[i * 4 + c]!, nk);
      out[i * 3 + c] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return out;
}

/** Gray (+alpha) or RGB (+alpha) samples to RGB: gray is repeated, alpha dropped (PIL does not composite). */
function toRgb(px: Uint8Array | Uint16Array, n: number, channels: number, byte: ((v: number) => number) | null): Uint8Array {
  if (byte === null && channels === 3) return px as Uint8Array;
  const out = new Uint8Array(n * 3);
  const gray = channels <= 2;
  for (let i = 0, o = 0, p = 0; i < n; i++, o += 3, p += channels) {
    if (byte === null) {
      if (gray) { const v = px[p]!; out[o] = v; out[o + 1] = v; out[o + 2] = v; } else { out[o] = px[p]!; out[o + 1] = px[p + 1]!; out[o + 2] = px[p + 2]!; }
    } else {
      for (let c = 0; c < 3; c++) out[o + c] = byte(px[p + (gray ? 0 : c)]!);
    }
  }
  return out;
}

/** Decode one encoded image (the bytes of `name`) to PIL's RGB pixels; unreadable input is a UserError naming the file. */
export async function decodeRgb(bytes: Uint8Array, name: string): Promise<RgbImage> {
  if (bytes.length === 0) throw new UserError(`${name}: the image file is empty (0 bytes); ${BAD_IMAGE_HINT}`);
  try {
    const meta = await sharp(bytes, OPTIONS).metadata();
    const channels = meta.channels ?? 3;
    if (meta.space === 'cmyk') {
      const { data, info } = await sharp(bytes, OPTIONS).pipelineColourspace('cmyk').toColourspace('cmyk').raw().toBuffer({ resolveWithObject: true });
      if (info.channels < 4) throw new Error(`CMYK image decoded to ${info.channels} channels`);
      const n = info.width * info.height;
      const px = info.channels === 4 ? new Uint8Array(data.buffer, data.byteOffset, data.length) : Uint8Array.from({ length: n * 4 }, (_, i) => data[Math.floor(i / 4) * info.channels + (i % 4)]!);
      return { data: cmykToRgb(px, n), width: info.width, height: info.height };
    }
    const wide = meta.depth === 'ushort';
    const space = channels <= 2 ? (wide ? 'grey16' : 'b-w') : wide ? 'rgb16' : 'srgb';
    const { data, info } = await sharp(bytes, OPTIONS).toColourspace(space).raw(wide ? { depth: 'ushort' } : {}).toBuffer({ resolveWithObject: true });
    const n = info.width * info.height;
    const px = wide ? new Uint16Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.length)) : new Uint8Array(data.buffer, data.byteOffset, data.length);
    // PIL opens 16-bit gray as mode I and clips it to 255 on convert; other 16-bit modes keep the high byte
    const byte = !wide ? null : channels === 1 ? (v: number) => Math.min(v, 255) : (v: number) => v >> 8;
    return { data: toRgb(px, n, info.channels, byte), width: info.width, height: info.height };
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`${name}: cannot decode the image (${(e as Error).message.split('\n')[0]}); ${BAD_IMAGE_HINT}`);
  }
}
