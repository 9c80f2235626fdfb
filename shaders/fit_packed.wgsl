// Product of a 0/1 matrix stored as packed bits with a dense matrix, visiting only the
// set bits:  out[r, :] = sum over set bits b of row r of  x[b, :]  -  sub[:].
// The same kernel gives U P (bits packed per mask row) and U^T Q (bits packed per
// component): the matrix-free path never forms a |C| x |C| Gram matrix. Neighbouring
// invocations share a row, so the bit loop is uniform across SIMD lanes.
struct Params {
  rows: u32,    // bit rows in this block
  row0: u32,    // first global output row of the block
  words4: u32,  // vec4<u32> per bit row
  n4: u32,      // vec4 columns of x and out
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> bits: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> sub: array<vec4<f32>>;   // per column
@group(0) @binding(4) var<storage, read_write> out: array<vec4<f32>>;

override WG: u32 = 64u;

fn gather(word: u32, base: u32, c: u32, acc: ptr<function, vec4<f32>>) {
  var w = word;
  while (w != 0u) {
    let b = firstTrailingBit(w);
    w &= w - 1u;
    *acc += x[(base + b) * p.n4 + c];
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * WG;
  let c = idx % p.n4;
  let r = idx / p.n4;
  if (r >= p.rows) { return; }
  var acc = vec4<f32>(0.0);
  let row = r * p.words4;
  for (var k = 0u; k < p.words4; k++) {
    let v = bits[row + k];
    if (all(v == vec4<u32>(0u))) { continue; }
    gather(v.x, k * 128u, c, &acc);
    gather(v.y, k * 128u + 32u, c, &acc);
    gather(v.z, k * 128u + 64u, c, &acc);
    gather(v.w, k * 128u + 96u, c, &acc);
  }
  out[(p.row0 + r) * p.n4 + c] = acc - sub[c];
}
