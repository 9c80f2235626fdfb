// The attention kernels' types: V (a head's values as vec4f, or f32 when SCALAR) with its dot
// product, and QV, the stored q/k/v element (f16 under F16, else V). Math stays f32.
#if F16
enable f16;
#endif
#if SCALAR
alias V = f32;
fn vdot(a: V, b: V) -> f32 { return a * b; }
#else
alias V = vec4f;
fn vdot(a: V, b: V) -> f32 { return dot(a, b); }
#endif
#if F16
#if SCALAR
alias QV = f16;
#else
alias QV = vec4<f16>;
#endif
#else
alias QV = V;
#endif
