// The matmul core every workgroup-memory tile shares (conv2d_mm.wgsl, gemm_mm.wgsl include
// it): C [M, N4 vec4s] = A [M, K4 vec4s] B [4 K4, N4], with A, B and C reached only through
// hooks the including file defines (the tfjs / onnxruntime shape):
//   mmDims() -> vec3u(M, N4, K4)
//   mmRowInfo(row) -> vec3i        what mmReadA needs of a row, computed once per invocation
//   mmReadA(info, k4) -> AV        one vec4 of A along K (row < M, k4 < K4)
//   mmReadB(k, col4) -> AV         one vec4 of B along N (k < 4 K4, col4 < N4)
//   mmWrite(row, col4, v)          the epilogue of one vec4 of C (row < M, col4 < N4)
// and the element type AV (vec4f, or vec4<f16> for f16 multiplies) with its AM = mat4x4, and
// the accumulator type ACC (vec4f, or vec4<f16> for f16 sums).
//
// A workgroup of MM_WGN x MM_WGM invocations computes a (MM_WGM MM_RM) x (4 MM_WGN MM_RN4)
// tile of C. Each step stages MM_KT4 vec4s of K of BOTH operands in workgroup memory, loaded
// by consecutive invocations from consecutive addresses (A along K, B along N: coalesced
// vec4 loads), then every invocation multiplies its MM_RM rows x MM_RN4 vec4 columns from
// there: each staged value is read from storage once per workgroup, not once per invocation.
// Columns are strided by MM_WGN so that neighbouring invocations write neighbouring vec4s.

const MM_RM: u32 = 4u;    // rows of C per invocation
const MM_RN4: u32 = 1u;   // vec4 columns of C per invocation
const MM_KT4: u32 = 8u;   // vec4s of K staged per step
const MM_WGM: u32 = 16u;  // invocations along rows
const MM_WGN: u32 = 16u;  // invocations along columns

const MM_TM: u32 = MM_WGM * MM_RM;
const MM_TN4: u32 = MM_WGN * MM_RN4;
const MM_THREADS: u32 = MM_WGM * MM_WGN;
const MM_A_LOADS: u32 = (MM_TM * MM_KT4 + MM_THREADS - 1u) / MM_THREADS;
const MM_B_LOADS: u32 = (MM_KT4 * 4u * MM_TN4 + MM_THREADS - 1u) / MM_THREADS;

var<workgroup> mmA: array<AV, MM_TM * MM_KT4>;        // [MM_TM rows, MM_KT4]
var<workgroup> mmB: array<AV, MM_KT4 * 4u * MM_TN4>;  // [4 MM_KT4 rows of K, MM_TN4]

@compute @workgroup_size(MM_WGN, MM_WGM, 1)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let dims = mmDims();
  let M = dims.x;
  let N4 = dims.y;
  let K4 = dims.z;
  let flat = lid.y * MM_WGN + lid.x;
  let row0 = (wid.y + wid.z * groups.y) * MM_TM;
  let col0 = wid.x * MM_TN4;

  // the A element an invocation stages keeps its row over every step: decode it once
  var aInfo: array<vec3i, MM_A_LOADS>;
  for (var s = 0u; s < MM_A_LOADS; s++) {
    let r = (flat + s * MM_THREADS) / MM_KT4;
    aInfo[s] = mmRowInfo(min(row0 + r, M - 1u));
  }

  var acc: array<array<ACC, MM_RN4>, MM_RM>;
  for (var i = 0u; i < MM_RM; i++) {
    for (var j = 0u; j < MM_RN4; j++) { acc[i][j] = ACC(0.0); }
  }

  // no early return anywhere: every invocation reaches the barriers
  for (var k0 = 0u; k0 < K4; k0 += MM_KT4) {
    for (var s = 0u; s < MM_A_LOADS; s++) {
      let e = flat + s * MM_THREADS;
      if (e < MM_TM * MM_KT4) {
        let r = e / MM_KT4;
        let k4 = k0 + e % MM_KT4;
        var v = AV(0.0);
        if (k4 < K4 && row0 + r < M) { v = mmReadA(aInfo[s], k4); }
        mmA[e] = v;
      }
    }
    for (var s = 0u; s < MM_B_LOADS; s++) {
      let e = flat + s * MM_THREADS;
      if (e < MM_KT4 * 4u * MM_TN4) {
        let k = k0 * 4u + e / MM_TN4;
        let col = col0 + e % MM_TN4;
        var v = AV(0.0);
        if (k < K4 * 4u && col < N4) { v = mmReadB(k, col); }
        mmB[e] = v;
      }
    }
    workgroupBarrier();
    for (var kk = 0u; kk < MM_KT4; kk++) {
      var a: array<AV, MM_RM>;
      for (var i = 0u; i < MM_RM; i++) { a[i] = mmA[(lid.y * MM_RM + i) * MM_KT4 + kk]; }
      for (var j = 0u; j < MM_RN4; j++) {
        let c = j * MM_WGN + lid.x;
        let b = kk * 4u * MM_TN4 + c;
        // 4 rows of K x 4 columns as one matrix: acc += B^T-block * a
        let m = AM(mmB[b], mmB[b + MM_TN4], mmB[b + 2u * MM_TN4], mmB[b + 3u * MM_TN4]);
        for (var i = 0u; i < MM_RM; i++) { acc[i][j] += ACC(m * a[i]); }
      }
    }
    workgroupBarrier();
  }

  for (var i = 0u; i < MM_RM; i++) {
    let row = row0 + lid.y * MM_RM + i;
    if (row >= M) { break; }
    for (var j = 0u; j < MM_RN4; j++) {
      let col = col0 + j * MM_WGN + lid.x;
      if (col < N4) { mmWrite(row, col, vec4f(acc[i][j])); }
    }
  }
}
