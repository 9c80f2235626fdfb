// exact GELU, x * Phi(x), as torchvision's ViT uses (nn.GELU without tanh approximation)
fn gelu(v: vec4f) -> vec4f {
  return 0.5 * v * (vec4f(1.0) + erf4(v * 0.70710678118654752));
}

// erf for f32 (WGSL has none), from the Chebyshev fit erfc(a) = t * exp(-a^2 + poly(t)),
// t = 1 / (1 + a/2), whose fractional error is below 1.2e-7 everywhere.
fn erf4(x: vec4f) -> vec4f {
  let a = abs(x);
  let t = 1.0 / (1.0 + 0.5 * a);
  let poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  let erfc = t * exp(-a * a + poly);
  return sign(x) * (vec4f(1.0) - erfc);
}
