// The prior term of the shared estimator's normal equations (src/coar/estimators/shared.ts):
//   out = a + (row_v[r] col_v[c]) x   on [rows x n4] vec4 matrices,
// a per-component, per-example ridge penalty sigma_e^2 / s_j that is separable.
struct Params {
  rows: u32,
  n4: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> row_v: array<f32>;
@group(0) @binding(4) var<storage, read> col_v: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> out: array<vec4<f32>>;

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.rows * p.n4) { return; }
  out[i] = a[i] + (row_v[i / p.n4] * col_v[i % p.n4]) * x[i];
}
