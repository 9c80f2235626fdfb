// The conv kernels' storage and math types: F16 weights (WV), X_F16 / Y_F16 input and output
// activations (XV, YV), HALF_MATH multiplies in f16 (AV, AM), HALF_ACC sums in f16 (ACC), else
// everything widened to f32.
#if F16
alias WV = vec4<f16>;
#else
alias WV = vec4f;
#endif
#if X_F16
alias XV = vec4<f16>;
#else
alias XV = vec4f;
#endif
#if Y_F16
alias YV = vec4<f16>;
#else
alias YV = vec4f;
#endif
#if HALF_MATH
alias AV = vec4<f16>;
alias AM = mat4x4<f16>;
#else
alias AV = vec4f;
alias AM = mat4x4f;
#endif
// HALF_ACC (tiles named /acc16, with HALF_MATH) keeps the sums in f16 too: half the
// accumulator registers and f16 adds, at f16's rounding over all of K (forced tiles only)
#if HALF_ACC
alias ACC = vec4<f16>;
#else
alias ACC = vec4f;
#endif
