// Convolution as an implicit GEMM over NHWC activations, with the COAR epilogue fused:
//   y = act( mask(item, channel) * conv(x, w) * scale + shift  + residual? ),  act = none | relu | gelu
// The mask multiplies the conv output before BatchNorm, which is exactly what zeroing
// that filter's weight row does (REFERENCE.md, "Ablation"): BN's shift survives.
// Every channel count is padded to a multiple of 4; padded weights are zero.
//
// One invocation computes TP consecutive output pixels (flattened over batch, y, x)
// times TC4 groups of 4 output channels, in registers. A workgroup is WG invocations
// along pixels times WGC along channel groups. With WGC = 1 all its invocations share one
// channel group: the weight reads are uniform across the workgroup, which CPU adapters
// turn into broadcasts instead of gathers (and barriers are very slow there). With SHARED
// the workgroup stages KCH input-channel groups of its weights in workgroup memory behind
// barriers, the tiling GPUs want. Tiles are chosen per adapter by measurement (tune.ts).
// With SUBGROUP (WGC = 1, TC4 a multiple of SG_G) the first 4 SG_G invocations of a subgroup
// load a 4 x 4 SG_G block of weights between them, one vec4 each, and broadcast it. SG_G (1, 2
// or 4) is chosen so that 4 SG_G lanes exist at the adapter's smallest subgroup width (4 to
// 128: wider subgroups simply hold more lanes that load a clamped duplicate; no width is
// assumed). lavapipe (width 8, SG_G 2) pays about the same for a storage load whether its
// address is uniform or not, and a broadcast from a register costs what an FMA does
// (BENCHMARKS.md, issue 6), so this cuts weight loads 8-fold there.
// The grid is pixel blocks x channel groups; CHANNELS_FIRST swaps its axes, so that the
// workgroups run one after the other (x fastest) take every channel group of one pixel block
// before the next block: its input and its output rows (and residual) stay in cache instead
// of being swept once per channel group. It pays where weights are small against activations.
//
// Precision: F16 stores weights as f16; X_F16 / Y_F16 say the input and the output (and
// residual) activations are f16. HALF_MATH multiplies in f16 (4-term dot products) and
// accumulates in f32 (f16 with HALF_ACC); without it f16 values are widened and every
// operation is f32.
#if F16
enable f16;
#endif
#if SUBGROUP
enable subgroups;
#endif

const TP: u32 = 16u;    // output pixels per invocation
const TC4: u32 = 2u;    // vec4 output-channel groups per invocation
const KCH: u32 = 4u;    // SHARED: input-channel groups (of 4) staged per step
const SG_G: u32 = 2u;   // SUBGROUP: channel groups per broadcast round (4 SG_G <= the smallest subgroup width)

override WG: u32 = 64u;    // invocations per workgroup, along output pixels
override WGC: u32 = 1u;    // invocations per workgroup, along output channel groups

#include "conv_types.wgsl"

struct Params {
  batch: u32,          // items in this dispatch (masks x examples)
  H: u32, W: u32, Cin4: u32,
  Ho: u32, Wo: u32, Cout4: u32,
  KH: u32, KW: u32, stride: u32, pad: u32,
  inputItems: u32,     // item b reads input image b % inputItems (examples shared by all masks)
  itemsPerMask: u32,   // item b belongs to mask slot b / itemsPerMask
  maskStride4: u32,    // vec4s per expanded mask row
  maskOffset4: u32,    // this layer's first channel group in an expanded mask row
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<XV>;             // [inputItems, H, W, Cin4]
@group(0) @binding(2) var<storage, read> w: array<WV>;             // [KH*KW*Cin4*4, Cout4]
@group(0) @binding(3) var<storage, read> scaleShift: array<vec4f>; // [2, Cout4]
@group(0) @binding(4) var<storage, read_write> y: array<YV>;       // [batch, Ho, Wo, Cout4]
#if MASKED
@group(0) @binding(5) var<storage, read> keep: array<vec4f>;       // [masks, maskStride4]: 1 = component kept (mask_expand.wgsl)
#endif
#if RESIDUAL
@group(0) @binding(6) var<storage, read> residual: array<YV>;      // same shape as y
#endif
#if SHARED
var<workgroup> ws: array<WV, KCH * 4u * WGC * TC4>;                 // [KCH * 4 rows, WGC * TC4]
#endif

#if GELU
#include "gelu.wgsl"
#endif
#include "conv_epilogue.wgsl"

// Input channel group ci of the pixel at vec4 offset o (-1: in the padding, zeros). A
// POINTWISE conv (1x1, stride 1, no padding, one input image per item) has no padding and
// its input pixel is its output pixel: the load is unconditional (a branch per lane costs
// lavapipe a masked gather), and the offsets need no division.
fn loadX(o: i32, ci: u32) -> AV {
#if POINTWISE
  return AV(x[u32(o) + ci]);
#else
  if (o >= 0) { return AV(x[u32(o) + ci]); }
  return AV(0.0);
#endif
}

@compute @workgroup_size(WG, WGC, 1)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u,
#if SUBGROUP
  @builtin(subgroup_invocation_id) lane: u32,
#endif
) {
#if CHANNELS_FIRST
  // workgroups walk the channel groups of one block of pixels before the next block
  let cg = wid.x;
  let pb = wid.y + wid.z * groups.y;
#else
  let cg = wid.y;
  let pb = wid.x + wid.z * groups.x;
#endif
  let c0 = (cg * WGC + lid.y) * TC4;
#if PER_INPUT
  // every item of one input image gets the same conv sums: compute them once per image, and
  // write each item's own epilogue (its mask) below
  let pixels = p.inputItems * p.Ho * p.Wo;
#else
  let pixels = p.batch * p.Ho * p.Wo;
#endif
  let p0 = (pb * WG + lid.x) * TP;
#if SHARED
  // no early return: every invocation reaches the barriers (pixels past the end are clamped)
#elif SUBGROUP
  // no early return: every lane takes part in the broadcasts (pixels past the end are clamped)
#else
  if (p0 >= pixels) { return; }
#endif
  let hw = p.Ho * p.Wo;

  var iy0: array<i32, TP>;
  var ix0: array<i32, TP>;
  var base: array<u32, TP>;
#if POINTWISE
#else
  for (var t = 0u; t < TP; t++) {
    let pix = min(p0 + t, pixels - 1u);
    let b = pix / hw;
    let r = pix - b * hw;
    let oy = r / p.Wo;
    let ox = r - oy * p.Wo;
    iy0[t] = i32(oy * p.stride) - i32(p.pad);
    ix0[t] = i32(ox * p.stride) - i32(p.pad);
    base[t] = (b % p.inputItems) * p.H * p.W;
  }
#endif

  var acc: array<array<ACC, TC4>, TP>;
  for (var t = 0u; t < TP; t++) {
    for (var c = 0u; c < TC4; c++) { acc[t][c] = ACC(0.0); }
  }
  let lastC = p.Cout4 - 1u;

  for (var ky = 0u; ky < p.KH; ky++) {
    for (var kx = 0u; kx < p.KW; kx++) {
      // offset (in vec4s) of each pixel's input channels at this tap, or -1 in the padding
      var off: array<i32, TP>;
      for (var t = 0u; t < TP; t++) {
#if POINTWISE
        off[t] = i32(min(p0 + t, pixels - 1u) * p.Cin4);
#else
        let iy = iy0[t] + i32(ky);
        let ix = ix0[t] + i32(kx);
        let inside = iy >= 0 && iy < i32(p.H) && ix >= 0 && ix < i32(p.W);
        off[t] = select(-1, i32((base[t] + u32(iy) * p.W + u32(ix)) * p.Cin4), inside);
#endif
      }
      let tapRow = (ky * p.KW + kx) * p.Cin4 * 4u;
#if SHARED
      for (var ci0 = 0u; ci0 < p.Cin4; ci0 += KCH) {
        // stage rows tapRow + 4 ci0 .. + 4 KCH of this workgroup's WGC * TC4 channel groups
        workgroupBarrier();
        let cols = WGC * TC4;
        for (var i = lid.y * WG + lid.x; i < KCH * 4u * cols; i += WG * WGC) {
          let r = i / cols;
          let ch = min(cg * cols + i % cols, lastC);
          let ci = ci0 + r / 4u;
          ws[i] = select(WV(0.0), w[(tapRow + min(ci, p.Cin4 - 1u) * 4u + r % 4u) * p.Cout4 + ch], ci < p.Cin4);
        }
        workgroupBarrier();
        for (var cc = 0u; cc < KCH; cc++) {
          let ci = ci0 + cc;
          var a: array<AV, TP>;
          for (var t = 0u; t < TP; t++) {
            a[t] = AV(0.0);
            if (off[t] >= 0 && ci < p.Cin4) { a[t] = AV(x[u32(off[t]) + ci]); }
          }
          for (var c = 0u; c < TC4; c++) {
            let col = cc * 4u * cols + lid.y * TC4 + c;
            let m = AM(AV(ws[col]), AV(ws[col + cols]), AV(ws[col + 2u * cols]), AV(ws[col + 3u * cols]));
            for (var t = 0u; t < TP; t++) { acc[t][c] += ACC(m * a[t]); }
          }
        }
      }
#elif SUBGROUP
      for (var ci = 0u; ci < p.Cin4; ci++) {
        var a: array<AV, TP>;
        for (var t = 0u; t < TP; t++) { a[t] = loadX(off[t], ci); }
        // lane l holds row l % 4 of channel group c + l / 4; lanes 4g .. 4g + 3 make block g
        let row = (tapRow + ci * 4u + lane % 4u) * p.Cout4;
        for (var c = 0u; c < TC4; c += SG_G) {
          let v = AV(w[row + min(c0 + c + lane / 4u, lastC)]);
          let m0 = AM(subgroupBroadcast(v, 0u), subgroupBroadcast(v, 1u), subgroupBroadcast(v, 2u), subgroupBroadcast(v, 3u));
          for (var t = 0u; t < TP; t++) { acc[t][c] += ACC(m0 * a[t]); }
          if (SG_G > 1u) {
            let m1 = AM(subgroupBroadcast(v, 4u), subgroupBroadcast(v, 5u), subgroupBroadcast(v, 6u), subgroupBroadcast(v, 7u));
            for (var t = 0u; t < TP; t++) { acc[t][c + 1u] += ACC(m1 * a[t]); }
          }
          if (SG_G > 2u) {
            let m2 = AM(subgroupBroadcast(v, 8u), subgroupBroadcast(v, 9u), subgroupBroadcast(v, 10u), subgroupBroadcast(v, 11u));
            let m3 = AM(subgroupBroadcast(v, 12u), subgroupBroadcast(v, 13u), subgroupBroadcast(v, 14u), subgroupBroadcast(v, 15u));
            for (var t = 0u; t < TP; t++) {
              acc[t][c + 2u] += ACC(m2 * a[t]);
              acc[t][c + 3u] += ACC(m3 * a[t]);
            }
          }
        }
      }
#else
      for (var ci = 0u; ci < p.Cin4; ci++) {
        var a: array<AV, TP>;
        for (var t = 0u; t < TP; t++) { a[t] = loadX(off[t], ci); }
        // 4 input channels x 4 output channels as one matrix: acc += W * a
        let row = (tapRow + ci * 4u) * p.Cout4;
        for (var c = 0u; c < TC4; c++) {
          let col = row + min(c0 + c, lastC);
          let m = AM(AV(w[col]), AV(w[col + p.Cout4]), AV(w[col + 2u * p.Cout4]), AV(w[col + 3u * p.Cout4]));
          for (var t = 0u; t < TP; t++) { acc[t][c] += ACC(m * a[t]); }
        }
      }
#endif
    }
  }

  // Epilogue. The per-channel operands are loaded once per invocation, not once per pixel: each
  // load costs about what a gather does on lavapipe, and with a short K (1x1 convs over 64
  // channels) the epilogue's loads rival the main loop's. The TP pixels almost always belong to
  // one mask slot; a pixel of another slot loads its own keep row.
  var scale: array<vec4f, TC4>;
  var shift: array<vec4f, TC4>;
  for (var c = 0u; c < TC4; c++) {
    let ch = min(c0 + c, lastC);
    scale[c] = scaleShift[ch];
    shift[c] = scaleShift[p.Cout4 + ch];
  }
  // PER_INPUT: copy r goes to items r * inputItems + image (items are mask-major), whose pixels
  // start r * pixels further on; otherwise there is one copy
  let copies = (p.batch * hw) / pixels;
  for (var r = 0u; r < copies; r++) {
    let first = r * pixels;
#if MASKED
    let slot0 = ((first + min(p0, pixels - 1u)) / hw) / p.itemsPerMask;
    var keep0: array<vec4f, TC4>;
    for (var c = 0u; c < TC4; c++) { keep0[c] = keep[slot0 * p.maskStride4 + p.maskOffset4 + min(c0 + c, lastC)]; }
#endif
    for (var t = 0u; t < TP; t++) {
      if (p0 + t >= pixels) { break; }
      let pix = first + p0 + t;
#if MASKED
      let slot = (pix / hw) / p.itemsPerMask;
#endif
      for (var c = 0u; c < TC4; c++) {
        let ch = c0 + c;
        if (ch >= p.Cout4) { break; }
        var v = vec4f(acc[t][c]);
#if MASKED
        var k = keep0[c];
        if (slot != slot0) { k = keep[slot * p.maskStride4 + p.maskOffset4 + ch]; }
        v = v * k;
#endif
        epilogue(v, scale[c], shift[c], pix, ch);
      }
    }
  }
}
