// Adam with decoupled weight decay (AdamW, Loshchilov & Hutter), PyTorch's update order:
//   p *= 1 - lr wd;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
//   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
// The step t lives on the device (tick), so a whole epoch of steps is one submission.
struct Params {
  count4: u32,  // vec4 elements
  lr: f32,
  beta1: f32,
  beta2: f32,
  eps: f32,
  wd: f32,      // decoupled weight decay (0 for biases)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> param: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> grad: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> m1: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> m2: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> step: array<u32>;
@group(0) @binding(6) var<storage, read_write> counter: array<u32>;

override WG: u32 = 64u;

@compute @workgroup_size(1)
fn tick() { counter[0] += 1u; }

@compute @workgroup_size(WG)
fn adam(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.count4) { return; }
  let t = f32(step[0]);
  let g = grad[i];
  let m = p.beta1 * m1[i] + (1.0 - p.beta1) * g;
  let v = p.beta2 * m2[i] + (1.0 - p.beta2) * g * g;
  m1[i] = m;
  m2[i] = v;
  let stepSize = p.lr / (1.0 - pow(p.beta1, t));
  let denom = sqrt(v) / sqrt(1.0 - pow(p.beta2, t)) + p.eps;
  param[i] = param[i] * (1.0 - p.lr * p.wd) - stepSize * m / denom;
}
