// The fused epilogue of both conv kernels, after the mask: BatchNorm's scale and shift, the
// residual, the activation, and the store into y (module-scope `p`, `residual`, `y`).
fn epilogue(masked: vec4f, scale: vec4f, shift: vec4f, pix: u32, ch: u32) {
  var v = masked * scale + shift;
#if RESIDUAL
  v = v + vec4f(residual[pix * p.Cout4 + ch]);
#endif
#if RELU
  v = max(v, vec4f(0.0));
#elif GELU
  v = gelu(v);
#endif
  y[pix * p.Cout4 + ch] = YV(v);
}
