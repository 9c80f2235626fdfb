// A large buffer copy, the probe for the adapter's memory bandwidth (coar bench ceiling):
// each invocation moves VPI vec4s, strided so that neighbouring invocations touch
// neighbouring addresses.

const VPI: u32 = 4u;   // vec4s per invocation

override WG: u32 = 64u;

struct Params { n: u32, stride: u32 }   // n vec4s; stride = invocations in the grid

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4f>;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i0 = gid.x + gid.y * groups.x * WG;
  for (var v = 0u; v < VPI; v++) {
    let i = i0 + v * p.stride;
    if (i < p.n) { dst[i] = src[i]; }
  }
}
