// Standardized Gram matrix from bit-packed masks (REFERENCE.md, "Regression"):
//   Q[i, j] = scale * (K_ij - k_i k_j / m) * inv_std_i * inv_std_j
// where K_ij counts the rows in which components i and j both have their bit set, and
// k_i = K_ii. Bits are packed per component along the mask rows ("component-major").
// Counting the rare bits (ablated when most are kept) keeps both terms small, so the
// difference is exact enough in f32. One invocation: a 4 x 4 tile of Q, popcount on vec4.
struct Params {
  words4: u32,     // vec4<u32> per component row of bits
  rows_i: u32,     // rows of this Q block (components of block I)
  row0_i: u32,     // first component of block I
  rows_j: u32,     // components of block J
  row0_j: u32,     // first component of block J
  cols: u32,       // row length of Q (padded component count)
  m: f32,          // mask rows
  scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> bits_i: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> bits_j: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> counts: array<f32>;   // k_i, all components
@group(0) @binding(4) var<storage, read> inv_std: array<f32>;  // 0 for constant columns
@group(0) @binding(5) var<storage, read_write> q: array<f32>;  // block I rows x cols

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let tiles_j = (p.rows_j + 3u) / 4u;
  let idx = gid.x + gid.y * nwg.x * WG;
  let ti = idx / tiles_j;
  let tj = idx % tiles_j;
  let i0 = ti * 4u;
  let j0 = tj * 4u;
  if (i0 >= p.rows_i) { return; }
  var acc: array<vec4<u32>, 16>;
  for (var t = 0u; t < 16u; t++) { acc[t] = vec4<u32>(0u); }
  // rows past the block end read row 0 of the block: computed and discarded
  var ri: array<u32, 4>;
  var rj: array<u32, 4>;
  for (var t = 0u; t < 4u; t++) {
    ri[t] = select(0u, (i0 + t) * p.words4, i0 + t < p.rows_i);
    rj[t] = select(0u, (j0 + t) * p.words4, j0 + t < p.rows_j);
  }
  for (var w = 0u; w < p.words4; w++) {
    let a0 = bits_i[ri[0] + w]; let a1 = bits_i[ri[1] + w]; let a2 = bits_i[ri[2] + w]; let a3 = bits_i[ri[3] + w];
    let b0 = bits_j[rj[0] + w]; let b1 = bits_j[rj[1] + w]; let b2 = bits_j[rj[2] + w]; let b3 = bits_j[rj[3] + w];
    acc[0] += countOneBits(a0 & b0); acc[1] += countOneBits(a0 & b1); acc[2] += countOneBits(a0 & b2); acc[3] += countOneBits(a0 & b3);
    acc[4] += countOneBits(a1 & b0); acc[5] += countOneBits(a1 & b1); acc[6] += countOneBits(a1 & b2); acc[7] += countOneBits(a1 & b3);
    acc[8] += countOneBits(a2 & b0); acc[9] += countOneBits(a2 & b1); acc[10] += countOneBits(a2 & b2); acc[11] += countOneBits(a2 & b3);
    acc[12] += countOneBits(a3 & b0); acc[13] += countOneBits(a3 & b1); acc[14] += countOneBits(a3 & b2); acc[15] += countOneBits(a3 & b3);
  }
  for (var a = 0u; a < 4u; a++) {
    let i = i0 + a;
    if (i >= p.rows_i) { break; }
    let gi = p.row0_i + i;
    for (var b = 0u; b < 4u; b++) {
      let j = j0 + b;
      if (j >= p.rows_j) { break; }
      let gj = p.row0_j + j;
      let c = acc[a * 4u + b];
      let k = f32(c.x + c.y + c.z + c.w);
      q[i * p.cols + gj] = p.scale * (k - counts[gi] * counts[gj] / p.m) * inv_std[gi] * inv_std[gj];
    }
  }
}
