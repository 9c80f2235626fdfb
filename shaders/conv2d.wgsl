// Convolution as an implicit GEMM over NHWC activations, with the COAR epilogue fused:
//   y = act( mask(item, channel) * conv(x, w) * scale + shift  + residual? ),  act = none | relu | gelu
// The mask multiplies the conv output before BatchNorm, which is exactly what zeroing
// that filter's weight row does (REFERENCE.md, "Ablation"): BN's shift survives.
// Every channel count is padded to a multiple of 4; padded weights are zero.
//
// One invocation computes TP consecutive output pixels (flattened over batch, y, x)
// times TC4 groups of 4 output channels, in registers: no shared memory, no barriers
// (barriers are very slow on software adapters; real GPUs get bigger tiles by tuning).
// A workgroup's invocations share one channel group (workgroup_id.y): the weight reads
// are uniform across the workgroup, which CPU adapters turn into broadcasts instead of
// gathers, and GPUs serve from cache.

const TP: u32 = 16u;    // output pixels per invocation
const TC4: u32 = 2u;    // vec4 output-channel groups per invocation

override WG: u32 = 64u;    // invocations per workgroup, along output pixels

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
@group(0) @binding(1) var<storage, read> x: array<vec4f>;          // [inputItems, H, W, Cin4]
@group(0) @binding(2) var<storage, read> w: array<vec4f>;          // [KH*KW*Cin4*4, Cout4]
@group(0) @binding(3) var<storage, read> scaleShift: array<vec4f>; // [2, Cout4]
@group(0) @binding(4) var<storage, read_write> y: array<vec4f>;    // [batch, Ho, Wo, Cout4]
#if MASKED
@group(0) @binding(5) var<storage, read> keep: array<vec4f>;       // [masks, maskStride4]: 1 = component kept (mask_expand.wgsl)
#endif
#if RESIDUAL
@group(0) @binding(6) var<storage, read> residual: array<vec4f>;   // same shape as y
#endif

#if GELU
// exact GELU, x * Phi(x), as torchvision's ViT uses (nn.GELU without tanh approximation)
fn gelu(v: vec4f) -> vec4f {
  return 0.5 * v * (vec4f(1.0) + erf4(v * 0.70710678118654752));
}

// erf for f32 (WGSL has none), from the Chebyshev fit erfc(a) = t * exp(-a^2 + poly(t)),
// t = 1 / (1 + a/2), whose fractional error is below 1.2e-7 everywhere.
fn erf4(x: vec4f) -> vec4f {
  let a = abs(x);
  let t = 1.0 / (1.0 + 0.5 * a);
  let poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  let erfc = t * exp(-a * a + poly);
  return sign(x) * (vec4f(1.0) - erfc);
}
#endif

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let c0 = wid.y * TC4;
  let pixels = p.batch * p.Ho * p.Wo;
  let p0 = (gid.x + wid.z * groups.x * WG) * TP;
  if (p0 >= pixels) { return; }
  let hw = p.Ho * p.Wo;

  var iy0: array<i32, TP>;
  var ix0: array<i32, TP>;
  var base: array<u32, TP>;
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

  var acc: array<array<vec4f, TC4>, TP>;
  for (var t = 0u; t < TP; t++) {
    for (var c = 0u; c < TC4; c++) { acc[t][c] = vec4f(0.0); }
  }
  let lastC = p.Cout4 - 1u;

  for (var ky = 0u; ky < p.KH; ky++) {
    for (var kx = 0u; kx < p.KW; kx++) {
      // offset (in vec4s) of each pixel's input channels at this tap, or -1 in the padding
      var off: array<i32, TP>;
      for (var t = 0u; t < TP; t++) {
        let iy = iy0[t] + i32(ky);
        let ix = ix0[t] + i32(kx);
        let inside = iy >= 0 && iy < i32(p.H) && ix >= 0 && ix < i32(p.W);
        off[t] = select(-1, i32((base[t] + u32(iy) * p.W + u32(ix)) * p.Cin4), inside);
      }
      let tapRow = (ky * p.KW + kx) * p.Cin4 * 4u;
      for (var ci = 0u; ci < p.Cin4; ci++) {
        var a: array<vec4f, TP>;
        for (var t = 0u; t < TP; t++) {
          a[t] = vec4f(0.0);
          if (off[t] >= 0) { a[t] = x[u32(off[t]) + ci]; }
        }
        // 4 input channels x 4 output channels as one matrix: acc += W * a
        let row = (tapRow + ci * 4u) * p.Cout4;
        for (var c = 0u; c < TC4; c++) {
          let col = row + min(c0 + c, lastC);
          let m = mat4x4f(w[col], w[col + p.Cout4], w[col + 2u * p.Cout4], w[col + 3u * p.Cout4]);
          for (var t = 0u; t < TP; t++) { acc[t][c] += m * a[t]; }
        }
      }
    }
  }

  for (var t = 0u; t < TP; t++) {
    let pix = p0 + t;
    if (pix >= pixels) { break; }
#if MASKED
    let slot = (pix / hw) / p.itemsPerMask;
#endif
    for (var c = 0u; c < TC4; c++) {
      let ch = c0 + c;
      if (ch >= p.Cout4) { break; }
      var v = acc[t][c];
#if MASKED
      v = v * keep[slot * p.maskStride4 + p.maskOffset4 + ch];
#endif
      v = v * scaleShift[ch] + scaleShift[p.Cout4 + ch];
#if RESIDUAL
      v = v + residual[pix * p.Cout4 + ch];
#endif
#if RELU
      v = max(v, vec4f(0.0));
#elif GELU
      v = gelu(v);
#endif
      y[pix * p.Cout4 + ch] = v;
    }
  }
}
