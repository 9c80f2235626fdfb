// C = A B on subgroup matrices (chromium_experimental_subgroup_matrix: tensor cores and the
// like), the probe of what they reach on this adapter: one subgroup per SM x SN tile of C,
// stepping SK along K, A [M, K] and B [K, N] row-major, dimensions multiples of the tile.
// The tile shape and types come from one of adapter.info.subgroupMatrixConfigs. Written
// without an adapter that has them (lavapipe has none): the GPU check is its first run.
// Matrix types are <element, columns, rows>: left is SK x SM, right SN x SK, result SN x SM.
#if F16
enable f16;
#endif
enable chromium_experimental_subgroup_matrix;

#if F16
alias T = f16;
#else
alias T = f32;
#endif
#if RESULT_F16
alias R = f16;
#else
alias R = f32;
#endif

const SM: u32 = 8u;
const SN: u32 = 8u;
const SK: u32 = 8u;
override SG: u32 = 32u;  // invocations per workgroup: the adapter's largest subgroup

struct Params { M: u32, N: u32, K: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<T>;
@group(0) @binding(2) var<storage, read> b: array<T>;
@group(0) @binding(3) var<storage, read_write> c: array<R>;

@compute @workgroup_size(SG)
fn main(@builtin(workgroup_id) wid: vec3u) {
  let row0 = wid.y * SM;
  let col0 = wid.x * SN;
  var acc = subgroup_matrix_result<R, SN, SM>();
  for (var k = 0u; k < p.K; k += SK) {
    let l = subgroupMatrixLoad<subgroup_matrix_left<T, SK, SM>>(&a, row0 * p.K + k, false, p.K);
    let r = subgroupMatrixLoad<subgroup_matrix_right<T, SN, SK>>(&b, k * p.N + col0, false, p.N);
    acc = subgroupMatrixMultiplyAccumulate(l, r, acc);
  }
  subgroupMatrixStore(&c, row0 * p.N + col0, acc, false, p.N);
}
