// The linear model read off a 2-layer network (seed 004): drop the ReLU,
//   w_e = W2_e W1[group of e],  b_e = W2_e b1[group of e] + b2_e,
// and what the estimators need around it: moments of a linear model's predictions against
// the targets on a set of rows (correlation, least-squares scale), and keeping each
// example's best model so far.
struct Params {
  comps: u32,  // components |C|
  d4: u32,     // hidden units / 4
  g4: u32,     // hidden units per example / 4
  n: u32,      // examples
  n4: u32,     // vec4 columns of the linear model
  rows: u32,   // validation rows (sq_err)
  row0: u32,   // first entry of row_idx (sq_err)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w1: array<vec4<f32>>;      // [comps x d4]
@group(0) @binding(2) var<storage, read> b1: array<vec4<f32>>;      // [d4]
@group(0) @binding(3) var<storage, read> w2: array<vec4<f32>>;      // [n x g4]
@group(0) @binding(4) var<storage, read> b2: array<f32>;            // [n]
@group(0) @binding(5) var<storage, read_write> lin_w: array<vec4<f32>>;  // [comps x n4]
@group(0) @binding(6) var<storage, read_write> lin_b: array<vec4<f32>>;  // [n4]
@group(0) @binding(7) var<storage, read> pred: array<vec4<f32>>;    // [rows x n4]
@group(0) @binding(8) var<storage, read> targets: array<f32>;       // [m x n]
@group(0) @binding(9) var<storage, read> row_idx: array<u32>;
@group(0) @binding(10) var<storage, read_write> err: array<vec4<f32>>;  // [5 x n4]
@group(0) @binding(11) var<storage, read> flags: array<vec4<f32>>;     // [n4], 1 = keep
@group(0) @binding(12) var<storage, read> cur_w: array<vec4<f32>>;     // [comps x n4]
@group(0) @binding(13) var<storage, read> cur_b: array<vec4<f32>>;     // [n4]

override WG: u32 = 64u;
override GROUPED: bool = true;

fn flat(gid: vec3<u32>, nwg: vec3<u32>) -> u32 { return gid.x + gid.y * nwg.x * WG; }

// Row j < comps of lin_w, or (j = comps) lin_b.
@compute @workgroup_size(WG)
fn extract(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= (p.comps + 1u) * p.n4) { return; }
  let j = i / p.n4;
  let e4 = i % p.n4;
  var out = vec4<f32>(0.0);
  for (var c = 0u; c < 4u; c++) {
    let e = e4 * 4u + c;
    if (e >= p.n) { break; }
    let g = select(0u, e * p.g4, GROUPED);
    var s = 0.0;
    if (j < p.comps) {
      for (var k = 0u; k < p.g4; k++) { s += dot(w1[j * p.d4 + g + k], w2[e * p.g4 + k]); }
    } else {
      for (var k = 0u; k < p.g4; k++) { s += dot(b1[g + k], w2[e * p.g4 + k]); }
      s += b2[e];
    }
    out[c] = s;
  }
  if (j < p.comps) { lin_w[i] = out; } else { lin_b[e4] = out; }
}

// Moments over the rows of predictions and targets, per example, for correlations and the
// least-squares scale: err[k * n4 + e4] = sum of p, t, p p, t t, p t (k = 0..4).
@compute @workgroup_size(WG)
fn moments(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e4 = flat(gid, nwg);
  if (e4 >= p.n4) { return; }
  var sp = vec4<f32>(0.0);
  var st = vec4<f32>(0.0);
  var spp = vec4<f32>(0.0);
  var stt = vec4<f32>(0.0);
  var spt = vec4<f32>(0.0);
  for (var b = 0u; b < p.rows; b++) {
    let base = row_idx[p.row0 + b] * p.n;
    var t = vec4<f32>(0.0);
    for (var c = 0u; c < 4u; c++) {
      let e = e4 * 4u + c;
      if (e < p.n) { t[c] = targets[base + e]; }
    }
    let y = pred[b * p.n4 + e4];
    sp += y; st += t; spp += y * y; stt += t * t; spt += y * t;
  }
  err[e4] = sp;
  err[p.n4 + e4] = st;
  err[2u * p.n4 + e4] = spp;
  err[3u * p.n4 + e4] = stt;
  err[4u * p.n4 + e4] = spt;
}

// lin_w, lin_b <- cur_w, cur_b for the examples flagged.
@compute @workgroup_size(WG)
fn keep(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= (p.comps + 1u) * p.n4) { return; }
  let j = i / p.n4;
  let e4 = i % p.n4;
  let f = flags[e4] > vec4<f32>(0.5);
  if (j < p.comps) { lin_w[i] = select(lin_w[i], cur_w[i], f); } else { lin_b[e4] = select(lin_b[e4], cur_b[e4], f); }
}
