// LayerNorm over the channels of each token, as PyTorch computes it in eval mode:
//   y = (x - mean) / sqrt(var + eps) * gamma + beta,  var biased (divided by D).
// Two passes over the row (mean, then squared deviations) keep f32 accurate when the
// residual stream has a large mean. Padded channels (D..4*D4) are zero in x and get
// gamma = beta = 0, so they stay zero in y.
// Row t < outTokens of each item is normalised; with outTokens = 1 this also picks the
// class token for the classifier (LayerNorm acts on each token alone).

// F16: x and y stored as f16, statistics in f32.
#include "stored_f16.wgsl"

override WG: u32 = 64u;
override EPS: f32 = 1e-6;

struct Params {
  rows: u32,       // items x outTokens
  D: u32,          // real channels
  D4: u32,         // vec4s per token
  inTokens: u32,   // tokens per item in x
  outTokens: u32,  // tokens per item in y
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<SV>;               // [items, inTokens, D4]
@group(0) @binding(2) var<storage, read> gammaBeta: array<vec4f>;    // [2, D4]
@group(0) @binding(3) var<storage, read_write> y: array<SV>;         // [items, outTokens, D4]

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let r = gid.x + (gid.y + gid.z * groups.y) * groups.x * WG;
  if (r >= p.rows) { return; }
  let item = r / p.outTokens;
  let t = r - item * p.outTokens;
  let src = (item * p.inTokens + t) * p.D4;
  let dst = r * p.D4;

  var s = vec4f(0.0);
  for (var c = 0u; c < p.D4; c++) { s += vec4f(x[src + c]); }
  let mean = (s.x + s.y + s.z + s.w) / f32(p.D);

  var q = vec4f(0.0);
  for (var c = 0u; c < p.D4; c++) {
    let d = vec4f(x[src + c]) - mean;
    q += d * d;
  }
  // each padded (zero) channel added mean^2 to the sum: take it back out
  let pad = f32(4u * p.D4 - p.D);
  let variance = max((q.x + q.y + q.z + q.w) - pad * mean * mean, 0.0) / f32(p.D);
  let rstd = inverseSqrt(variance + EPS);

  for (var c = 0u; c < p.D4; c++) {
    y[dst + c] = SV((vec4f(x[src + c]) - mean) * rstd * gammaBeta[c] + gammaBeta[p.D4 + c]);
  }
}
