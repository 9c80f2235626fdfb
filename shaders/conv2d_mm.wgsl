// Convolution as an implicit GEMM over NHWC on the shared matmul core (matmul_core.wgsl):
// the workgroup-memory tile of a real GPU. Same bindings, parameters and fused epilogue as
// conv2d.wgsl: y = act( mask(item, channel) * conv(x, w) * scale + shift + residual? ).
//   A [pixels, K4]: row = output pixel (flattened over items, y, x), K = (ky, kx, input channel),
//     read straight from the NHWC input (zeros in the padding): no im2col buffer;
//   B [4 K4, Cout4] = the weights as uploaded ([KH, KW, Cin4*4, Cout4*4]);
//   C [pixels, Cout4] = y, written through the epilogue.
// PER_INPUT computes the sums once per input image and writes every item of that image
// (each with its own mask), as conv2d.wgsl does. HALF_MATH stages f16 and multiplies in f16
// (f32 accumulation); without it f16 storage is widened to f32 on load.
#if F16
enable f16;
#endif

#include "conv_types.wgsl"

struct Params {
  batch: u32,
  H: u32, W: u32, Cin4: u32,
  Ho: u32, Wo: u32, Cout4: u32,
  KH: u32, KW: u32, stride: u32, pad: u32,
  inputItems: u32,
  itemsPerMask: u32,
  maskStride4: u32,
  maskOffset4: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<XV>;             // [inputItems, H, W, Cin4]
@group(0) @binding(2) var<storage, read> w: array<WV>;             // [KH*KW*Cin4*4, Cout4]
@group(0) @binding(3) var<storage, read> scaleShift: array<vec4f>; // [2, Cout4]
@group(0) @binding(4) var<storage, read_write> y: array<YV>;       // [batch, Ho, Wo, Cout4]
#if MASKED
@group(0) @binding(5) var<storage, read> keep: array<vec4f>;       // [masks, maskStride4]
#endif
#if RESIDUAL
@group(0) @binding(6) var<storage, read> residual: array<YV>;      // same shape as y
#endif

#if GELU
#include "gelu.wgsl"
#endif
#include "conv_epilogue.wgsl"

// the pixels whose sums are computed: one copy per input image when PER_INPUT
fn pixels() -> u32 {
#if PER_INPUT
  return p.inputItems * p.Ho * p.Wo;
#else
  return p.batch * p.Ho * p.Wo;
#endif
}

fn mmDims() -> vec3u { return vec3u(pixels(), p.Cout4, p.KH * p.KW * p.Cin4); }

// (top input row, left input column, first input pixel of the item's image) of an output pixel
fn mmRowInfo(pix: u32) -> vec3i {
  let hw = p.Ho * p.Wo;
  let b = pix / hw;
  let r = pix - b * hw;
  let oy = r / p.Wo;
  let ox = r - oy * p.Wo;
  return vec3i(i32(oy * p.stride) - i32(p.pad), i32(ox * p.stride) - i32(p.pad), i32((b % p.inputItems) * p.H * p.W));
}

fn mmReadA(info: vec3i, k4: u32) -> AV {
  let tap = k4 / p.Cin4;
  let ci = k4 - tap * p.Cin4;
  let ky = tap / p.KW;
  let iy = info.x + i32(ky);
  let ix = info.y + i32(tap - ky * p.KW);
  if (iy < 0 || iy >= i32(p.H) || ix < 0 || ix >= i32(p.W)) { return AV(0.0); }
  return AV(x[(u32(info.z) + u32(iy) * p.W + u32(ix)) * p.Cin4 + ci]);
}

fn mmReadB(k: u32, col4: u32) -> AV { return AV(w[k * p.Cout4 + col4]); }

fn mmWrite(row: u32, ch: u32, sums: vec4f) {
  let hw = p.Ho * p.Wo;
  let scale = scaleShift[ch];
  let shift = scaleShift[p.Cout4 + ch];
  // PER_INPUT: copy r goes to items r * inputItems + image (items are mask-major)
  let copies = (p.batch * hw) / pixels();
  for (var r = 0u; r < copies; r++) {
    let pix = r * pixels() + row;
    var v = sums;
#if MASKED
    v = v * keep[((pix / hw) / p.itemsPerMask) * p.maskStride4 + p.maskOffset4 + ch];
#endif
    epilogue(v, scale, shift, pix, ch);
  }
}

#include "matmul_core.wgsl"
