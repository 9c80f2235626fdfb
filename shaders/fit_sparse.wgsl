// Product of a sparse 0/1 matrix given as index lists with a dense matrix:
//   out[row0 + r, :] = sum over k in [ptr[r], ptr[r + 1]) of x[idx[k], :]  -  sub[:]
// (or += that sum when `accumulate` is set, for the later blocks of a blocked product).
// With the lists of a mask row's ablated components this is U P; with the lists of a
// component's ablating mask rows it is U^T Q. One workgroup per row; its lanes own the
// vec4 columns, so every lane reads the same index stream and neighbouring lanes read
// neighbouring columns of x.
struct Params {
  rows: u32,        // output rows of this dispatch
  row0: u32,        // first output row
  n4: u32,          // vec4 columns of x and out
  ptr0: u32,        // offset of this dispatch's row pointers in ptr
  accumulate: u32,  // 1: out += sum (no sub)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ptr: array<u32>;
@group(0) @binding(2) var<storage, read> idx: array<u32>;
@group(0) @binding(3) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> sub: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> out: array<vec4<f32>>;

const CB: u32 = 4u;     // vec4 columns per lane in one pass
override LANES: u32 = 8u;

@compute @workgroup_size(LANES)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let r = wid.x + wid.y * nwg.x;
  if (r >= p.rows) { return; }
  let k0 = ptr[p.ptr0 + r];
  let k1 = ptr[p.ptr0 + r + 1u];
  for (var c0 = 0u; c0 < p.n4; c0 += LANES * CB) {
    var acc: array<vec4<f32>, CB>;
    for (var t = 0u; t < CB; t++) { acc[t] = vec4<f32>(0.0); }
    for (var k = k0; k < k1; k++) {
      let b = idx[k] * p.n4 + c0 + lane;
      for (var t = 0u; t < CB; t++) {
        if (c0 + lane + t * LANES < p.n4) { acc[t] += x[b + t * LANES]; }
      }
    }
    for (var t = 0u; t < CB; t++) {
      let c = c0 + lane + t * LANES;
      if (c < p.n4) {
        let o = (p.row0 + r) * p.n4 + c;
        if (p.accumulate != 0u) { out[o] += acc[t]; } else { out[o] = acc[t] - sub[c]; }
      }
    }
  }
}
