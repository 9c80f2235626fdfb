// The prior term of the shared estimator's normal equations (src/coar/estimators/shared.ts):
//   out = a + d x   on [rows x n4] vec4 matrices,
// d the ridge penalty of each (component, example), sigma_e^2 tau_je / s_j.
struct Params {
  rows: u32,
  n4: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> d: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> out: array<vec4<f32>>;

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.rows * p.n4) { return; }
  out[i] = a[i] + d[i] * x[i];
}
