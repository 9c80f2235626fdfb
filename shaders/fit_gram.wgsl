// Gram matrices of the standardized masks from their bits (REFERENCE.md, "Regression"), by
// popcount of ANDs. One invocation: a 4 x 4 tile, four words at a time. Block I x block J
// with J after I also writes the mirrored tile into block J's rows (MIRROR), so only the
// blocks on and above the diagonal are computed.
//
// Primal (|C| x |C|), bits packed per component along the mask rows:
//   Q[i, j] = scale * (K_ij - k_i k_j / m) * inv_std_i * inv_std_j
// with K_ij the rows where components i and j both have their bit set and k_i = K_ii.
// Counting the rare bits (ablated when most are kept) keeps both terms small, so the
// difference is exact enough in f32.
//
// Dual (m x m, DUAL), bits packed per mask row along the components, reordered so that each
// word holds components of one standard deviation (one count of set bits), with weight
// d = 1 / std^2 per word:
//   Q[i, k] = sum_j d_j u_ij u_kj - a_i - a_k + c,   a_i = sum_j d_j mu_j u_ij,  c = sum_j d_j mu_j^2
// which is (Z Z^T)[i, k] for Z = (U - 1 mu^T) S^-1.
struct Params {
  words4: u32,     // vec4<u32> per bit row
  rows_i: u32,     // rows of this Q block (block I)
  row0_i: u32,     // first row of block I
  rows_j: u32,     // rows of block J
  row0_j: u32,     // first row of block J
  cols: u32,       // row length of Q
  m: f32,          // primal: mask rows; dual: c
  scale: f32,      // primal only
  valid: u32,      // rows and columns past this one are written as 0 (padding)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> bits_i: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> bits_j: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> row_a: array<f32>;   // primal: k_i; dual: a_i (all rows)
@group(0) @binding(4) var<storage, read> row_b: array<f32>;   // primal: inv_std (0 for constant columns)
@group(0) @binding(5) var<storage, read_write> q: array<f32>;  // block I rows x cols
#if MIRROR
@group(0) @binding(6) var<storage, read_write> q_j: array<f32>;  // block J rows x cols
#endif
#if DUAL
@group(0) @binding(7) var<storage, read> weight: array<vec4<f32>>;  // d per word
#endif

override WG: u32 = 64u;

fn value(acc: vec4<f32>, gi: u32, gj: u32) -> f32 {
  if (gi >= p.valid || gj >= p.valid) { return 0.0; }
#if DUAL
  return acc.x + acc.y + acc.z + acc.w - row_a[gi] - row_a[gj] + p.m;
#else
  let k = acc.x + acc.y + acc.z + acc.w;
  return p.scale * (k - row_a[gi] * row_a[gj] / p.m) * row_b[gi] * row_b[gj];
#endif
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let tiles_j = (p.rows_j + 3u) / 4u;
  let idx = gid.x + gid.y * nwg.x * WG;
  let ti = idx / tiles_j;
  let tj = idx % tiles_j;
  let i0 = ti * 4u;
  let j0 = tj * 4u;
  if (i0 >= p.rows_i) { return; }
  var acc: array<vec4<f32>, 16>;
  for (var t = 0u; t < 16u; t++) { acc[t] = vec4<f32>(0.0); }
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
#if DUAL
    let d = weight[w];
#else
    let d = vec4<f32>(1.0);
#endif
    acc[0] += d * vec4<f32>(countOneBits(a0 & b0)); acc[1] += d * vec4<f32>(countOneBits(a0 & b1));
    acc[2] += d * vec4<f32>(countOneBits(a0 & b2)); acc[3] += d * vec4<f32>(countOneBits(a0 & b3));
    acc[4] += d * vec4<f32>(countOneBits(a1 & b0)); acc[5] += d * vec4<f32>(countOneBits(a1 & b1));
    acc[6] += d * vec4<f32>(countOneBits(a1 & b2)); acc[7] += d * vec4<f32>(countOneBits(a1 & b3));
    acc[8] += d * vec4<f32>(countOneBits(a2 & b0)); acc[9] += d * vec4<f32>(countOneBits(a2 & b1));
    acc[10] += d * vec4<f32>(countOneBits(a2 & b2)); acc[11] += d * vec4<f32>(countOneBits(a2 & b3));
    acc[12] += d * vec4<f32>(countOneBits(a3 & b0)); acc[13] += d * vec4<f32>(countOneBits(a3 & b1));
    acc[14] += d * vec4<f32>(countOneBits(a3 & b2)); acc[15] += d * vec4<f32>(countOneBits(a3 & b3));
  }
  for (var a = 0u; a < 4u; a++) {
    let i = i0 + a;
    if (i >= p.rows_i) { break; }
    let gi = p.row0_i + i;
    for (var b = 0u; b < 4u; b++) {
      let j = j0 + b;
      if (j >= p.rows_j) { break; }
      let gj = p.row0_j + j;
      let v = value(acc[a * 4u + b], gi, gj);
      q[i * p.cols + gj] = v;
#if MIRROR
      q_j[j * p.cols + gi] = v;
#endif
    }
  }
}
