// The token sequence a ViT encoder starts from: the class token, then one token per
// image patch (row-major, as the patch-embedding conv writes them), plus the position
// embedding:  x[item, 0] = cls + pos[0],  x[item, t] = patch[example, t - 1] + pos[t].
// The patch embedding does not depend on the mask, so it is computed once per example
// and every item reads its example's patches.
// `first_token` copies token 0 of every item: the class token that the last block's
// residual and the classifier need (nothing else of the last block reaches the logits).

// F16: patches, tokens and outputs stored as f16 (class token and positions stay f32).
#include "stored_f16.wgsl"

override WG: u32 = 64u;

struct Params {
  batch: u32,      // items
  T: u32,          // tokens per item (patches + 1)
  D4: u32,         // vec4s per token
  examples: u32,   // item b reads example b % examples (main only)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> patches: array<SV>;     // [examples, T - 1, D4]
@group(0) @binding(2) var<storage, read> clsPos: array<vec4f>;    // [1 + T, D4]: class token, then pos[0..T)
@group(0) @binding(3) var<storage, read_write> x: array<SV>;     // [batch, T, D4]

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = gid.x + (gid.y + gid.z * groups.y) * groups.x * WG;
  if (i >= p.batch * p.T * p.D4) { return; }
  let c = i % p.D4;
  let t = (i / p.D4) % p.T;
  let item = i / (p.D4 * p.T);
  let pos = clsPos[(1u + t) * p.D4 + c];
  if (t == 0u) {
    x[i] = SV(clsPos[c] + pos);
  } else {
    x[i] = SV(vec4f(patches[((item % p.examples) * (p.T - 1u) + t - 1u) * p.D4 + c]) + pos);
  }
}

@group(0) @binding(4) var<storage, read> tokens: array<SV>;      // [batch, T, D4]
@group(0) @binding(5) var<storage, read_write> first: array<SV>;   // [batch, D4]

@compute @workgroup_size(WG, 1, 1)
fn first_token(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = gid.x + (gid.y + gid.z * groups.y) * groups.x * WG;
  if (i >= p.batch * p.D4) { return; }
  let c = i % p.D4;
  let item = i / p.D4;
  first[i] = tokens[item * p.T * p.D4 + c];
}
