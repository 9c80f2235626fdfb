// Probe (bench only): what a storage load costs lavapipe when its address is uniform
// across the invocations, made divergent by a runtime zero, or truly divergent; against
// a uniform-buffer load, a subgroup broadcast and plain arithmetic.
enable subgroups;

@group(0) @binding(0) var<storage, read> x: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> y: array<vec4f>;
@group(0) @binding(2) var<uniform> u: vec4u; // K, zero, invocations, stride
#if UBO
@group(0) @binding(3) var<uniform> ub: array<vec4f, 4096>;
#endif

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3u, @builtin(local_invocation_id) l: vec3u, @builtin(subgroup_invocation_id) lane: u32) {
#if EARLY_RETURN
  if (g.x >= u.z) { return; }
#endif
  let d = l.x * u.y;
  var acc = vec4f(0.0);
  var acc2 = vec4f(0.0);
  for (var k0 = 0u; k0 < u.x; k0 += 16u) {
#if SHUFFLE
    // 2 gathers (one vec4 per lane), then 16 broadcasts: the 16 uniform values
    let v0 = x[k0 + lane];
    let v1 = x[k0 + 8u + lane];
    acc += subgroupBroadcast(v0, 0u); acc2 += subgroupBroadcast(v0, 1u);
    acc += subgroupBroadcast(v0, 2u); acc2 += subgroupBroadcast(v0, 3u);
    acc += subgroupBroadcast(v0, 4u); acc2 += subgroupBroadcast(v0, 5u);
    acc += subgroupBroadcast(v0, 6u); acc2 += subgroupBroadcast(v0, 7u);
    acc += subgroupBroadcast(v1, 0u); acc2 += subgroupBroadcast(v1, 1u);
    acc += subgroupBroadcast(v1, 2u); acc2 += subgroupBroadcast(v1, 3u);
    acc += subgroupBroadcast(v1, 4u); acc2 += subgroupBroadcast(v1, 5u);
    acc += subgroupBroadcast(v1, 6u); acc2 += subgroupBroadcast(v1, 7u);
#else
    for (var j = 0u; j < 16u; j += 2u) { // unrolled: 16 loads per loop iteration, two chains
      let k = k0 + j;
#if DIVERGENT
      acc += x[k + d]; acc2 += x[k + 1u + d];
#elif GATHER
      acc += x[(g.x * u.w + k) % 1048576u]; acc2 += x[(g.x * u.w + k + 1u) % 1048576u];
#elif UBO
      acc += ub[k % 4096u]; acc2 += ub[(k + 1u) % 4096u];
#elif ALU
      acc = fma(acc, acc2, vec4f(f32(k))); acc2 = fma(acc2, acc, vec4f(f32(k)));
#else
      acc += x[k]; acc2 += x[k + 1u];
#endif
    }
#endif
  }
  y[g.x] = acc + acc2 + x[u.y]; // every variant binds x
}
