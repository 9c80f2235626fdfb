// Column-wise reductions and element-wise updates on [rows x n4] vec4 matrices, one
// column per example: each example runs its own CG or FISTA in lock-step with the others,
// with its own step sizes (per-column vectors), so all examples share one dispatch.
struct Params {
  rows: u32,
  n4: u32,
  s0: f32,
  s1: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> col_u: array<vec4<f32>>;  // per column
@group(0) @binding(4) var<storage, read> col_v: array<vec4<f32>>;  // per column
@group(0) @binding(5) var<storage, read> col_t: array<vec4<f32>>;  // per column threshold
@group(0) @binding(6) var<storage, read> row_v: array<f32>;        // per row
@group(0) @binding(7) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read_write> out2: array<vec4<f32>>;

override WG: u32 = 64u;

fn flat(gid: vec3<u32>, nwg: vec3<u32>) -> u32 { return gid.x + gid.y * nwg.x * WG; }

// out[c] = sum_r a[r, c] * b[r, c]
@compute @workgroup_size(WG)
fn col_dot(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let c = flat(gid, nwg);
  if (c >= p.n4) { return; }
  var s = vec4<f32>(0.0);
  for (var r = 0u; r < p.rows; r++) { s += a[r * p.n4 + c] * b[r * p.n4 + c]; }
  out[c] = s;
}

// out[c] = sum_r (a[r, c] - b[r, c])^2
@compute @workgroup_size(WG)
fn col_sqdiff(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let c = flat(gid, nwg);
  if (c >= p.n4) { return; }
  var s = vec4<f32>(0.0);
  for (var r = 0u; r < p.rows; r++) { let d = a[r * p.n4 + c] - b[r * p.n4 + c]; s += d * d; }
  out[c] = s;
}

// out[c] = sum_r row_v[r] * a[r, c]
@compute @workgroup_size(WG)
fn col_wsum(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let c = flat(gid, nwg);
  if (c >= p.n4) { return; }
  var s = vec4<f32>(0.0);
  for (var r = 0u; r < p.rows; r++) { s += row_v[r] * a[r * p.n4 + c]; }
  out[c] = s;
}

// out[r, c] = a[r, c] * row_v[r] + col_u[c] * b[r, c]
@compute @workgroup_size(WG)
fn scale_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= p.rows * p.n4) { return; }
  let r = i / p.n4;
  let c = i % p.n4;
  out[i] = a[i] * row_v[r] + col_u[c] * b[i];
}

// out = a - b
@compute @workgroup_size(WG)
fn sub(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= p.rows * p.n4) { return; }
  out[i] = a[i] - b[i];
}

// CG step, per column: alpha = rr / pAp (0 once converged);  x += alpha p;  r -= alpha Ap.
// a = p, b = Ap, col_u = rr, col_v = pAp, col_t = convergence threshold on rr, out = x, out2 = r.
@compute @workgroup_size(WG)
fn cg_xr(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= p.rows * p.n4) { return; }
  let c = i % p.n4;
  let rr = col_u[c];
  let pap = col_v[c];
  let alpha = select(vec4<f32>(0.0), rr / pap, (pap > vec4<f32>(0.0)) & (rr > col_t[c]));
  out[i] += alpha * a[i];
  out2[i] -= alpha * b[i];
}

// CG direction, per column: beta = rr_new / rr_old;  p = r + beta p  (p = 0 once converged).
// a = r, col_u = rr_new, col_v = rr_old, col_t = threshold, out = p.
@compute @workgroup_size(WG)
fn cg_p(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= p.rows * p.n4) { return; }
  let c = i % p.n4;
  let live = (col_u[c] > col_t[c]) & (col_v[c] > vec4<f32>(0.0));
  let beta = select(vec4<f32>(0.0), col_u[c] / col_v[c], live);
  out[i] = select(vec4<f32>(0.0), a[i] + beta * out[i], live);
}

// FISTA step for (1/2m)||y - Zw||^2 + lambda |w|_1 with A = Z^T Z and B = Z^T y:
//   w_new = soft(v - eta (A v - B), eta m lambda);  v = w_new + gamma (w_new - w).
// a = A v, b = B, col_u = m lambda, col_v = 1 where the column still moves (0: converged,
// frozen, so its result does not depend on the columns solved beside it),
// s0 = eta, s1 = gamma, out = w, out2 = v (in place).
@compute @workgroup_size(WG)
fn fista(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= p.rows * p.n4) { return; }
  let c = i % p.n4;
  let u = out2[i] - p.s0 * (a[i] - b[i]);
  let t = p.s0 * col_u[c];
  let w_new = sign(u) * max(abs(u) - t, vec4<f32>(0.0));
  let w_old = out[i];
  let live = col_v[c] > vec4<f32>(0.0);
  out[i] = select(w_old, w_new, live);
  out2[i] = select(out2[i], w_new + p.s1 * (w_new - w_old), live);
}

// out[r, c] = (a[r, c] - col_u[c]) * row_v[r]: subtract a per-column value (a mean), keeping
// padding rows (row_v = 0) at zero.
@compute @workgroup_size(WG)
fn center(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= p.rows * p.n4) { return; }
  let r = i / p.n4;
  let c = i % p.n4;
  out[i] = (a[i] - col_u[c]) * row_v[r];
}

// Multi-shift CG (one Krylov sequence solves (A + sigma I) x = b for every shift sigma >= 0
// beside the base system A x = b, both from x = 0). Per column, for one shift s0 = sigma,
// from the base step's rr (col_u), pAp (col_v), new rr (a, per column) and threshold (col_t):
//   zeta' = zeta zeta_prev alpha_prev / (alpha beta_prev (zeta_prev - zeta) + zeta_prev alpha_prev (1 + sigma alpha))
//   alpha_s = alpha zeta' / zeta,  beta_s = beta (zeta' / zeta)^2
// out = state [zeta_prev, zeta, alpha_prev, beta_prev] (4 per column), out2 = [alpha_s, beta_s, zeta'].
// The shifted residual is zeta r: a shift stops (zeta = 0 from then on, so it stays stopped)
// once zeta^2 rr is within the threshold, and with the base system.
@compute @workgroup_size(WG)
fn shift_scalars(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let c = flat(gid, nwg);
  if (c >= p.n4) { return; }
  let rr = col_u[c];
  let pap = col_v[c];
  let thr = col_t[c];
  let base_live = (pap > vec4<f32>(0.0)) & (rr > thr);
  let alpha = select(vec4<f32>(0.0), rr / pap, base_live);
  let beta = select(vec4<f32>(0.0), a[c] / rr, base_live);
  let z_prev = out[4u * c];
  let z = out[4u * c + 1u];
  let a_prev = out[4u * c + 2u];
  let b_prev = out[4u * c + 3u];
  let live = base_live & (z * z * rr > thr);
  let z_next = z * z_prev * a_prev / (alpha * b_prev * (z_prev - z) + z_prev * a_prev * (1.0 + p.s0 * alpha));
  let ratio = z_next / z;
  out2[3u * c] = select(vec4<f32>(0.0), alpha * ratio, live);
  out2[3u * c + 1u] = select(vec4<f32>(1.0), beta * ratio * ratio, live);
  out2[3u * c + 2u] = select(vec4<f32>(0.0), z_next, live);
  out[4u * c] = select(z_prev, z, live);
  out[4u * c + 1u] = select(vec4<f32>(0.0), z_next, live);
  out[4u * c + 2u] = select(a_prev, alpha, live);
  out[4u * c + 3u] = select(b_prev, beta, live);
}

// Multi-shift CG update of one shift: x_s += alpha_s p_s;  p_s = zeta' r + beta_s p_s.
// a = r (the base residual after its step), b = [alpha_s, beta_s, zeta'] per column, out = x_s, out2 = p_s.
@compute @workgroup_size(WG)
fn shift_update(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat(gid, nwg);
  if (i >= p.rows * p.n4) { return; }
  let c = i % p.n4;
  let ps = out2[i];
  out[i] += b[3u * c] * ps;
  out2[i] = b[3u * c + 2u] * a[i] + b[3u * c + 1u] * ps;
}
