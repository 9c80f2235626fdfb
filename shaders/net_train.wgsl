// A 2-layer network on ablation masks, trained by minibatch gradient descent (seed 004):
//   phi_e(z) = W2_e . sigma(W1 z + b1)[group of e] + b2_e,
// one output per example e. z is the standardized mask, z_j = (u_j - mean_j) * inv_std_j,
// where u is the packed bit (the rarer mask value, see src/coar/fit_masks.ts). The first
// layer never forms z: with w1 stored by component ([|C| x D/4] vec4),
//   W1 z + b1 = q + sum over the set bits j of u of inv_std_j w1[j],  q = b1 - sum_j mean_j inv_std_j w1[j],
// so a step visits only the ~alpha |C| set bits of each mask. GROUPED: example e owns hidden
// units [e G, (e + 1) G) (one network per example, the seed's estimator); otherwise every
// example reads all D hidden units (a first layer shared by all examples).
struct Params {
  rows: u32,    // rows in this batch
  row0: u32,    // first entry of row_idx for this batch
  comps: u32,   // components |C|
  words: u32,   // u32 words per packed mask row
  d4: u32,      // hidden units / 4 (all groups)
  g4: u32,      // hidden units read by one example / 4
  n: u32,       // examples (outputs)
  bwords: u32,  // u32 words per component in the transposed batch bits
  scale: f32,   // loss weight of a row: 1 / rows (mean over the batch)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> bits: array<u32>;         // [m x words] mask rows
@group(0) @binding(2) var<storage, read> row_idx: array<u32>;      // row order (this epoch's permutation)
@group(0) @binding(3) var<storage, read_write> tbits: array<u32>;  // [comps x bwords] batch bits by component
@group(0) @binding(4) var<storage, read> inv_std: array<f32>;      // [comps]
@group(0) @binding(5) var<storage, read> mean_u: array<f32>;       // [comps]
@group(0) @binding(6) var<storage, read> w1: array<vec4<f32>>;     // [comps x d4]
@group(0) @binding(7) var<storage, read> b1: array<vec4<f32>>;     // [d4]
@group(0) @binding(8) var<storage, read> w2: array<vec4<f32>>;     // [n x g4]
@group(0) @binding(9) var<storage, read> b2: array<f32>;           // [n]
@group(0) @binding(10) var<storage, read_write> q: array<vec4<f32>>;     // [d4]
@group(0) @binding(11) var<storage, read_write> h: array<vec4<f32>>;     // [rows x d4] activations
@group(0) @binding(12) var<storage, read> targets: array<f32>;           // [m x n]
@group(0) @binding(13) var<storage, read_write> dy: array<f32>;          // [rows x n]
@group(0) @binding(14) var<storage, read_write> dpre: array<vec4<f32>>;  // [rows x d4]
@group(0) @binding(15) var<storage, read_write> gw1: array<vec4<f32>>;   // [comps x d4]
@group(0) @binding(16) var<storage, read_write> gb1: array<vec4<f32>>;   // [d4]
@group(0) @binding(17) var<storage, read_write> gw2: array<vec4<f32>>;   // [n x g4]
@group(0) @binding(18) var<storage, read_write> gb2: array<f32>;         // [n]

override WG: u32 = 64u;
override RELU: bool = true;
override GROUPED: bool = true;

fn flat(gid: vec3<u32>, nwg: vec3<u32>) -> u32 { return gid.x + gid.y * nwg.x * WG; }

fn group_of(e: u32) -> u32 { return select(0u, e * p.g4, GROUPED); }

// tbits[j, w] bit t = bit j of batch row w * 32 + t: the batch's masks by component, for the
// first-layer gradient.
@compute @workgroup_size(WG)
fn transpose_bits(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= p.comps * p.bwords) { return; }
  let j = i / p.bwords;
  let w = i % p.bwords;
  let word = j >> 5u;
  let bit = j & 31u;
  var out = 0u;
  for (var t = 0u; t < 32u; t++) {
    let b = w * 32u + t;
    if (b >= p.rows) { break; }
    let r = row_idx[p.row0 + b];
    out |= ((bits[r * p.words + word] >> bit) & 1u) << t;
  }
  tbits[i] = out;
}

// q = b1 - sum_j mean_j inv_std_j w1[j]: the first layer's output for u = 0.
@compute @workgroup_size(WG)
fn shift(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let k = flat(gid, nwg);
  if (k >= p.d4) { return; }
  var acc = b1[k];
  for (var j = 0u; j < p.comps; j++) { acc -= (mean_u[j] * inv_std[j]) * w1[j * p.d4 + k]; }
  q[k] = acc;
}

// h = sigma(W1 z + b1) for the batch rows (sigma = identity without RELU).
@compute @workgroup_size(WG)
fn hidden(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= p.rows * p.d4) { return; }
  let b = i / p.d4;
  let k = i % p.d4;
  let base = row_idx[p.row0 + b] * p.words;
  var acc = q[k];
  for (var w = 0u; w < p.words; w++) {
    var v = bits[base + w];
    while (v != 0u) {
      let j = w * 32u + firstTrailingBit(v);
      v &= v - 1u;
      acc += inv_std[j] * w1[j * p.d4 + k];
    }
  }
  h[i] = select(acc, max(acc, vec4<f32>(0.0)), RELU);
}

// dy = d loss / d output for 0.5 * mean over the batch of the squared error, per example.
@compute @workgroup_size(WG)
fn output(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= p.rows * p.n) { return; }
  let b = i / p.n;
  let e = i % p.n;
  let g = group_of(e);
  var acc = b2[e];
  for (var k = 0u; k < p.g4; k++) { acc += dot(w2[e * p.g4 + k], h[b * p.d4 + g + k]); }
  dy[i] = (acc - targets[row_idx[p.row0 + b] * p.n + e]) * p.scale;
}

// Second layer gradients: gw2[e] = sum_b dy[b, e] h[b, group of e],  gb2[e] = sum_b dy[b, e].
@compute @workgroup_size(WG)
fn grad_w2(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= p.n * p.g4) { return; }
  let e = i / p.g4;
  let k = i % p.g4;
  let g = group_of(e);
  var acc = vec4<f32>(0.0);
  var s = 0.0;
  for (var b = 0u; b < p.rows; b++) {
    let d = dy[b * p.n + e];
    acc += d * h[b * p.d4 + g + k];
    s += d;
  }
  gw2[i] = acc;
  if (k == 0u) { gb2[e] = s; }
}

// dpre = d loss / d (W1 z + b1): back through the second layer and the ReLU.
@compute @workgroup_size(WG)
fn grad_hidden(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= p.rows * p.d4) { return; }
  let b = i / p.d4;
  let k = i % p.d4;
  var g = vec4<f32>(0.0);
  if (GROUPED) {
    let e = k / p.g4;
    g = dy[b * p.n + e] * w2[e * p.g4 + k % p.g4];
  } else {
    for (var e = 0u; e < p.n; e++) { g += dy[b * p.n + e] * w2[e * p.g4 + k]; }
  }
  if (RELU) { g = select(vec4<f32>(0.0), g, h[i] > vec4<f32>(0.0)); }
  dpre[i] = g;
}

// gb1 = sum over the batch of dpre.
@compute @workgroup_size(WG)
fn grad_b1(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let k = flat(gid, nwg);
  if (k >= p.d4) { return; }
  var s = vec4<f32>(0.0);
  for (var b = 0u; b < p.rows; b++) { s += dpre[b * p.d4 + k]; }
  gb1[k] = s;
}

// gw1[j] = sum_b z[b, j] dpre[b] = inv_std_j (sum over the batch rows with bit j set of dpre - mean_j gb1).
@compute @workgroup_size(WG)
fn grad_w1(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= p.comps * p.d4) { return; }
  let j = i / p.d4;
  let k = i % p.d4;
  var acc = vec4<f32>(0.0);
  for (var w = 0u; w < p.bwords; w++) {
    var v = tbits[j * p.bwords + w];
    while (v != 0u) {
      let b = w * 32u + firstTrailingBit(v);
      v &= v - 1u;
      acc += dpre[b * p.d4 + k];
    }
  }
  gw1[i] = inv_std[j] * (acc - mean_u[j] * gb1[k]);
}
