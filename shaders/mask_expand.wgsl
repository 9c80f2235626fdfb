// Bit-packed masks (bit j of a row = component j kept) to one float per component, laid
// out so that every layer's components start at a multiple of 4: the conv epilogue then
// reads its mask as one vec4 per channel group. Runs once per batch.

override WG: u32 = 64u;

const NONE: u32 = 0xffffffffu;

struct Params {
  masks: u32,
  words: u32,     // u32 words per packed row
  width: u32,     // floats per expanded row
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> bits: array<u32>;          // [masks, words]
@group(0) @binding(2) var<storage, read> component: array<u32>;     // [width]: component index or NONE (padding)
@group(0) @binding(3) var<storage, read_write> keep: array<f32>;    // [masks, width]

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = gid.x + gid.y * groups.x * WG;
  if (i >= p.masks * p.width) { return; }
  let row = i / p.width;
  let j = component[i - row * p.width];
  var v = 0.0;
  if (j != NONE) {
    v = f32((bits[row * p.words + (j >> 5u)] >> (j & 31u)) & 1u);
  }
  keep[i] = v;
}
