// COAR's output function (REFERENCE.md, "Output function"):
//   margin = logit[true class] - max over other classes of logit.

override WG: u32 = 64u;

struct Params {
  batch: u32,
  classes: u32,
  stride: u32,         // floats per item row (classes padded to a multiple of 4)
  examples: u32,       // item b is example b % examples
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read_write> margins: array<f32>;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let b = gid.x;
  if (b >= p.batch) { return; }
  let label = labels[b % p.examples];
  let row = b * p.stride;
  var best = -3.4e38;
  for (var k = 0u; k < p.classes; k++) {
    if (k != label) { best = max(best, logits[row + k]); }
  }
  margins[b] = logits[row + label] - best;
}
