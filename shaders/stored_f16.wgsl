// Stored activations as f16 (F16) or f32: the vector type every elementwise kernel loads and
// stores (SV); arithmetic stays f32. Included first, since it may hold the `enable f16` directive.
#if F16
enable f16;
alias SV = vec4<f16>;
#else
alias SV = vec4f;
#endif
