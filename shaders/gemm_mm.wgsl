// f32 C = A B on the shared matmul core (matmul_core.wgsl): gemm.wgsl's operands, the
// workgroup-memory tile that conv2d_mm.wgsl runs, measured by the ceiling search.
alias AV = vec4f;
alias AM = mat4x4f;
alias ACC = vec4f;

struct Params { M: u32, N4: u32, K4: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4f>;        // [M, K4]
@group(0) @binding(2) var<storage, read> b: array<vec4f>;        // [K4 * 4, N4]
@group(0) @binding(3) var<storage, read_write> c: array<vec4f>;  // [M, N4]

fn mmDims() -> vec3u { return vec3u(p.M, p.N4, p.K4); }
fn mmRowInfo(row: u32) -> vec3i { return vec3i(i32(row * p.K4), 0, 0); }
fn mmReadA(info: vec3i, k4: u32) -> AV { return a[u32(info.x) + k4]; }
fn mmReadB(k: u32, col4: u32) -> AV { return b[k * p.N4 + col4]; }
fn mmWrite(row: u32, col4: u32, v: vec4f) { c[row * p.N4 + col4] = v; }

#include "matmul_core.wgsl"
