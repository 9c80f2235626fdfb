// Multi-head self-attention core, softmax(q k^T / sqrt(d)) v, per (item, head, query
// token), reading q, k, v from the fused in_proj output (its rows 0..D-1 are q,
// D..2D-1 k, 2D..3D-1 v; head h owns channels h*d..h*d+d-1 of each) and writing the
// heads side by side, as nn.MultiheadAttention does before out_proj.
//
// The softmax is computed online in one pass over the keys: a running max m, the sum l
// of exp(score - m) and the accumulator, both rescaled when the max grows. No positive
// number is ever exponentiated (numerically stable), and there is no score array, no
// shared memory, no barrier. Each invocation keeps QT query tokens so that every key
// and value read serves QT of them.
//
// Head channels are read as vec4s when the head width d and D are multiples of 4
// (V = vec4f); otherwise one float at a time (SCALAR: V = f32).

// F16: q, k, v and the output stored as f16; scores, softmax and sums in f32.

#include "attention_types.wgsl"

const HDV: u32 = 16u;   // V values per head (d / 4, or d when SCALAR)
const QT: u32 = 1u;     // query tokens per invocation

override WG: u32 = 64u;
override SCALE: f32 = 0.125;  // 1 / sqrt(d)

struct Params {
  batch: u32,      // items
  T: u32,          // tokens per item (keys and values)
  Tq: u32,         // queries per item: the first Tq tokens (T, or 1 when only the class token is needed)
  heads: u32,
  qkvStride: u32,  // V values per token in qkv (3D padded to 4)
  oStride: u32,    // V values per token in o (D padded to 4)
  DV: u32,         // V values in D: offset of k, and of v after it
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> qkv: array<QV>;        // [batch, T, qkvStride]
@group(0) @binding(2) var<storage, read_write> o: array<QV>;    // [batch, Tq, oStride]

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  // x: blocks of QT query tokens; invocations of a workgroup read the same keys together
  let t0 = gid.x * QT;
  let h = gid.y;
  let item = gid.z;
  if (t0 >= p.Tq) { return; }
  let tok0 = item * p.T;
  let head = h * HDV;

  var q: array<array<V, HDV>, QT>;
  var acc: array<array<V, HDV>, QT>;
  var m: array<f32, QT>;
  var l: array<f32, QT>;
  for (var i = 0u; i < QT; i++) {
    let qb = (tok0 + min(t0 + i, p.Tq - 1u)) * p.qkvStride + head;
    for (var j = 0u; j < HDV; j++) {
      q[i][j] = V(qkv[qb + j]) * SCALE;
      acc[i][j] = V(0.0);
    }
    m[i] = -3.4e38;
    l[i] = 0.0;
  }

  for (var s = 0u; s < p.T; s++) {
    let kb = (tok0 + s) * p.qkvStride + p.DV + head;
    let vb = kb + p.DV;
    var w: array<f32, QT>;
    for (var i = 0u; i < QT; i++) {
      var score = 0.0;
      for (var j = 0u; j < HDV; j++) { score += vdot(q[i][j], V(qkv[kb + j])); }
      if (score > m[i]) {
        // new max: rescale what was summed under the old one
        let r = exp(m[i] - score);
        l[i] *= r;
        for (var j = 0u; j < HDV; j++) { acc[i][j] *= r; }
        m[i] = score;
      }
      w[i] = exp(score - m[i]);
      l[i] += w[i];
    }
    for (var j = 0u; j < HDV; j++) {
      let v = V(qkv[vb + j]);
      for (var i = 0u; i < QT; i++) { acc[i][j] += w[i] * v; }
    }
  }

  for (var i = 0u; i < QT; i++) {
    let t = t0 + i;
    if (t >= p.Tq) { break; }
    let ob = (item * p.Tq + t) * p.oStride;
    let inv = 1.0 / l[i];
    for (var j = 0u; j < HDV; j++) { o[ob + head + j] = QV(acc[i][j] * inv); }
#if SCALAR
    // the last head also zeroes the padding channels D..oStride (pooled buffers are not clean)
    if (h == p.heads - 1u) {
      for (var c = p.DV; c < p.oStride; c++) { o[ob + c] = QV(0.0); }
    }
#endif
  }
}
