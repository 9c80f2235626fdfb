// Flash-style multi-head self-attention for GPUs: softmax(q k^T / sqrt(d)) v, with the same
// bindings, layout and results as attention.wgsl (read its header for the q|k|v layout).
//
// One workgroup per (item, head, block of WG query tokens), one invocation per query. The
// workgroup walks the keys and values in blocks of BK tokens. It stages each block's k and v
// of its head in workgroup memory with coalesced loads (neighbouring invocations read
// neighbouring vec4s of one token's head channels, which lie side by side in qkv). Every
// invocation then reads them from there at the same address as the rest of its workgroup (a
// broadcast, no bank conflicts), so global memory sees each key and value once per workgroup
// rather than once per query. attention.wgsl reads them from storage in every invocation,
// which suits lavapipe, where a barrier costs more than a load.
//
// The softmax is online, one block at a time: the block's scores are kept in registers, the
// running max m grows to the block's max, the sum l of exp(score - m) and the accumulator are
// rescaled once by exp(m_old - m_new), then the block's weights are added. No positive number
// is exponentiated, and no [T, T] score matrix exists anywhere.
//
// A last, partial block (T not a multiple of BK: ViT-B/16 has 197 tokens) stages zeros past
// T and scores only its n < BK real keys. Invocations past the last query (Tq not a multiple
// of WG) still stage and meet every barrier; they only skip the arithmetic and the write.

// F16: q, k, v and the output stored as f16 (and staged as f16); scores, softmax and sums in f32.

#include "attention_types.wgsl"

const HDV: u32 = 16u;   // V values per head (d / 4, or d when SCALAR)
const BK: u32 = 32u;    // keys (and values) staged per block

override WG: u32 = 64u;       // query tokens per workgroup, one per invocation
override SCALE: f32 = 0.125;  // 1 / sqrt(d)

struct Params {
  batch: u32,      // items
  T: u32,          // tokens per item (keys and values)
  Tq: u32,         // queries per item: the first Tq tokens
  heads: u32,
  qkvStride: u32,  // V values per token in qkv (3D padded to 4)
  oStride: u32,    // V values per token in o (D padded to 4)
  DV: u32,         // V values in D: offset of k, and of v after it
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> qkv: array<QV>;        // [batch, T, qkvStride]
@group(0) @binding(2) var<storage, read_write> o: array<QV>;    // [batch, Tq, oStride]

var<workgroup> ks: array<QV, BK * HDV>;  // [key in block, head channel]
var<workgroup> vs: array<QV, BK * HDV>;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let t = wid.x * WG + lid;
  let h = wid.y;
  let item = wid.z;
  let asks = t < p.Tq;
  let tok0 = item * p.T;
  let head = h * HDV;

  var q: array<V, HDV>;
  var acc: array<V, HDV>;
  let qb = (tok0 + min(t, p.Tq - 1u)) * p.qkvStride + head;
  for (var j = 0u; j < HDV; j++) {
    q[j] = V(qkv[qb + j]) * SCALE;
    acc[j] = V(0.0);
  }
  var m = -3.4e38;
  var l = 0.0;

  // p.T is uniform: every invocation of the workgroup runs the same blocks and barriers
  for (var k0 = 0u; k0 < p.T; k0 += BK) {
    let n = min(BK, p.T - k0);
    for (var e = lid; e < BK * HDV; e += WG) {
      let s = e / HDV;
      var kv = QV(0.0);
      var vv = QV(0.0);
      if (s < n) {
        let kb = (tok0 + k0 + s) * p.qkvStride + p.DV + head + e % HDV;
        kv = qkv[kb];
        vv = qkv[kb + p.DV];
      }
      ks[e] = kv;
      vs[e] = vv;
    }
    workgroupBarrier();
    if (asks) {
      var sc: array<f32, BK>;
      var mb = m;
      for (var s = 0u; s < n; s++) {
        var score = 0.0;
        for (var j = 0u; j < HDV; j++) { score += vdot(q[j], V(ks[s * HDV + j])); }
        sc[s] = score;
        mb = max(mb, score);
      }
      // the block's max: rescale what was summed under the old one, once per block
      let r = exp(m - mb);
      l *= r;
      for (var j = 0u; j < HDV; j++) { acc[j] *= r; }
      m = mb;
      for (var s = 0u; s < n; s++) {
        let w = exp(sc[s] - m);
        l += w;
        for (var j = 0u; j < HDV; j++) { acc[j] += w * V(vs[s * HDV + j]); }
      }
    }
    // the next block overwrites ks and vs only after every invocation has read this one
    workgroupBarrier();
  }

  if (!asks) { return; }
  let ob = (item * p.Tq + t) * p.oStride;
  let inv = 1.0 / l;
  for (var j = 0u; j < HDV; j++) { o[ob + head + j] = QV(acc[j] * inv); }
#if SCALAR
  // the last head also zeroes the padding channels D..oStride (pooled buffers are not clean)
  if (h == p.heads - 1u) {
    for (var c = p.DV; c < p.oStride; c++) { o[ob + c] = QV(0.0); }
  }
#endif
}
