// Max or average pooling over NHWC activations, one vec4 of channels per invocation.
// Average pooling divides by the full window (PyTorch's count_include_pad=True); the
// adaptive average pool to 1x1 is the window that covers the whole map.

// F16: activations stored as f16, arithmetic in f32.
#include "stored_f16.wgsl"

override WG: u32 = 64u;

struct Params {
  batch: u32,
  H: u32, W: u32, C4: u32,
  Ho: u32, Wo: u32,
  KH: u32, KW: u32, stride: u32, pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<SV>;
@group(0) @binding(2) var<storage, read_write> y: array<SV>;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = gid.x + gid.y * groups.x * WG;
  let total = p.batch * p.Ho * p.Wo * p.C4;
  if (i >= total) { return; }
  let c = i % p.C4;
  let pix = i / p.C4;
  let ox = pix % p.Wo;
  let oy = (pix / p.Wo) % p.Ho;
  let b = pix / (p.Wo * p.Ho);
#if MAX
  var acc = vec4f(-3.4e38);
#else
  var acc = vec4f(0.0);
#endif
  for (var ky = 0u; ky < p.KH; ky++) {
    let iy = i32(oy * p.stride + ky) - i32(p.pad);
    if (iy < 0 || iy >= i32(p.H)) { continue; }
    for (var kx = 0u; kx < p.KW; kx++) {
      let ix = i32(ox * p.stride + kx) - i32(p.pad);
      if (ix < 0 || ix >= i32(p.W)) { continue; }
      let v = vec4f(x[((b * p.H + u32(iy)) * p.W + u32(ix)) * p.C4 + c]);
#if MAX
      acc = max(acc, v);
#else
      acc = acc + v;
#endif
    }
  }
#if MAX
  y[i] = SV(acc);
#else
  y[i] = SV(acc / f32(p.KH * p.KW));
#endif
}
