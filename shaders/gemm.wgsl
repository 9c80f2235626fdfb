// f32 matrix multiply C = A B, the probe for the adapter's compute ceiling (coar bench
// ceiling). Its inner loop is the conv kernel's: A [M, K] is read as vec4s along K (like
// NHWC pixels along channels), B [K, N] as vec4s along N (like the conv weights), and
// every 4x4 block is one mat4x4 * vec4. A search over the tile and workgroup shapes below
// finds what WGSL reaches on the adapter in use.
//
// One invocation computes TM rows x TN4 vec4 columns in registers. Invocations are laid
// out WGM along M and WGN along N. Without SHARED, each reads A and B straight from
// storage (with WGN = 1 every invocation of a workgroup reads the same B vec4s; lavapipe
// still pays a full load for each). With SHARED, the workgroup first stages a KC-deep slice of
// its A rows and B columns in workgroup memory (the tiling GPUs want), behind barriers.
// With SUBGROUP (WGN = 1, TN4 a multiple of SG_G) the first 4 SG_G lanes of a subgroup load B
// between them and broadcast it, as conv2d.wgsl's SUBGROUP does (any subgroup width >= 4 SG_G).

#if SUBGROUP
enable subgroups;
#endif

const TM: u32 = 16u;   // rows per invocation
const TN4: u32 = 2u;   // vec4 columns per invocation
const KC: u32 = 16u;   // SHARED: depth of one staged slice of K (multiple of 4)
const SG_G: u32 = 2u;  // SUBGROUP: vec4 columns per broadcast round (4 SG_G <= the smallest subgroup width)

override WGM: u32 = 64u;
override WGN: u32 = 1u;

struct Params { M: u32, N4: u32, K4: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4f>;        // [M, K4]
@group(0) @binding(2) var<storage, read> b: array<vec4f>;        // [K4 * 4, N4]
@group(0) @binding(3) var<storage, read_write> c: array<vec4f>;  // [M, N4]

#if SHARED
const KC4: u32 = KC / 4u;
var<workgroup> As: array<vec4f, WGM * TM * KC4>;        // [WGM * TM rows, KC4]
var<workgroup> Bs: array<vec4f, KC * WGN * TN4>;        // [KC, WGN * TN4]
#endif

@compute @workgroup_size(WGM, WGN, 1)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u,
#if SUBGROUP
  @builtin(subgroup_invocation_id) lane: u32,
#endif
) {
  let m0 = (wid.x * WGM + lid.x) * TM;
  let n0 = (wid.y * WGN + lid.y) * TN4;
  var acc: array<array<vec4f, TN4>, TM>;
  for (var t = 0u; t < TM; t++) {
    for (var j = 0u; j < TN4; j++) { acc[t][j] = vec4f(0.0); }
  }
  let lastM = p.M - 1u;
  let lastN = p.N4 - 1u;

#if SHARED
  let flat = lid.y * WGM + lid.x;
  let threads = WGM * WGN;
  let rowBase = wid.x * WGM * TM;
  let colBase = wid.y * WGN * TN4;
  for (var k0 = 0u; k0 < p.K4; k0 += KC4) {
    for (var i = flat; i < WGM * TM * KC4; i += threads) {
      let r = i / KC4;
      let k = min(k0 + i % KC4, p.K4 - 1u);
      As[i] = select(vec4f(0.0), a[min(rowBase + r, lastM) * p.K4 + k], k0 + i % KC4 < p.K4);
    }
    for (var i = flat; i < KC * WGN * TN4; i += threads) {
      let r = i / (WGN * TN4);
      let col = min(colBase + i % (WGN * TN4), lastN);
      let k = min(k0 * 4u + r, p.K4 * 4u - 1u);
      Bs[i] = select(vec4f(0.0), b[k * p.N4 + col], k0 * 4u + r < p.K4 * 4u);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < KC4; kk++) {
      for (var j = 0u; j < TN4; j++) {
        let bc = lid.y * TN4 + j;
        let w = WGN * TN4;
        let m = mat4x4f(Bs[(kk * 4u) * w + bc], Bs[(kk * 4u + 1u) * w + bc], Bs[(kk * 4u + 2u) * w + bc], Bs[(kk * 4u + 3u) * w + bc]);
        for (var t = 0u; t < TM; t++) { acc[t][j] += m * As[(lid.x * TM + t) * KC4 + kk]; }
      }
    }
    workgroupBarrier();
  }
#elif SUBGROUP
  // as conv2d.wgsl's SUBGROUP: lanes 4g .. 4g + 3 load block g of B, one vec4 each, and broadcast it
  for (var k4 = 0u; k4 < p.K4; k4++) {
    var av: array<vec4f, TM>;
    for (var t = 0u; t < TM; t++) { av[t] = a[min(m0 + t, lastM) * p.K4 + k4]; }
    let row = (k4 * 4u + lane % 4u) * p.N4;
    for (var j = 0u; j < TN4; j += SG_G) {
      let v = b[row + min(n0 + j + lane / 4u, lastN)];
      let b0 = mat4x4f(subgroupBroadcast(v, 0u), subgroupBroadcast(v, 1u), subgroupBroadcast(v, 2u), subgroupBroadcast(v, 3u));
      for (var t = 0u; t < TM; t++) { acc[t][j] += b0 * av[t]; }
      if (SG_G > 1u) {
        let b1 = mat4x4f(subgroupBroadcast(v, 4u), subgroupBroadcast(v, 5u), subgroupBroadcast(v, 6u), subgroupBroadcast(v, 7u));
        for (var t = 0u; t < TM; t++) { acc[t][j + 1u] += b1 * av[t]; }
      }
      if (SG_G > 2u) {
        let b2 = mat4x4f(subgroupBroadcast(v, 8u), subgroupBroadcast(v, 9u), subgroupBroadcast(v, 10u), subgroupBroadcast(v, 11u));
        let b3 = mat4x4f(subgroupBroadcast(v, 12u), subgroupBroadcast(v, 13u), subgroupBroadcast(v, 14u), subgroupBroadcast(v, 15u));
        for (var t = 0u; t < TM; t++) {
          acc[t][j + 2u] += b2 * av[t];
          acc[t][j + 3u] += b3 * av[t];
        }
      }
    }
  }
#else
  for (var k4 = 0u; k4 < p.K4; k4++) {
    var av: array<vec4f, TM>;
    for (var t = 0u; t < TM; t++) { av[t] = a[min(m0 + t, lastM) * p.K4 + k4]; }
    let row = k4 * 4u * p.N4;
    for (var j = 0u; j < TN4; j++) {
      let col = row + min(n0 + j, lastN);
      let m = mat4x4f(b[col], b[col + p.N4], b[col + 2u * p.N4], b[col + 3u * p.N4]);
      for (var t = 0u; t < TM; t++) { acc[t][j] += m * av[t]; }
    }
  }
#endif

  for (var t = 0u; t < TM; t++) {
    if (m0 + t >= p.M) { break; }
    for (var j = 0u; j < TN4; j++) {
      if (n0 + j >= p.N4) { break; }
      c[(m0 + t) * p.N4 + n0 + j] = acc[t][j];
    }
  }
}
