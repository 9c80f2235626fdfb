// One row block of  out = Q P + diag(lambda) P  (the normal-equation operator of ridge on a
// stored Gram matrix Q). Q is [rows x cols] of this block, P and out are [cols x n4] vec4.
// Register tiling, no shared memory: one invocation holds ROWS rows x one vec4 column.
struct Params {
  rows: u32,   // rows in this Q block
  row0: u32,   // first global row of the block
  cols4: u32,  // Q row length / 4
  n4: u32,     // vec4 columns of P
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> lambda: array<vec4<f32>>;  // per column
@group(0) @binding(4) var<storage, read_write> out: array<vec4<f32>>;

const ROWS: u32 = 8u;
override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * WG;
  let c = idx % p.n4;
  let r0 = (idx / p.n4) * ROWS;
  if (r0 >= p.rows) { return; }
  var acc: array<vec4<f32>, ROWS>;
  var base: array<u32, ROWS>;
  for (var t = 0u; t < ROWS; t++) {
    acc[t] = vec4<f32>(0.0);
    base[t] = select(0u, (r0 + t) * p.cols4, r0 + t < p.rows);
  }
  for (var k = 0u; k < p.cols4; k++) {
    let x0 = x[(k * 4u) * p.n4 + c];
    let x1 = x[(k * 4u + 1u) * p.n4 + c];
    let x2 = x[(k * 4u + 2u) * p.n4 + c];
    let x3 = x[(k * 4u + 3u) * p.n4 + c];
    for (var t = 0u; t < ROWS; t++) {
      let a = q[base[t] + k];
      acc[t] += a.x * x0 + a.y * x1 + a.z * x2 + a.w * x3;
    }
  }
  let lam = lambda[c];
  for (var t = 0u; t < ROWS; t++) {
    let r = r0 + t;
    if (r >= p.rows) { break; }
    let o = (p.row0 + r) * p.n4 + c;
    out[o] = acc[t] + lam * x[o];
  }
}
