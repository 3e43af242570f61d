/// Vectorisable transcendental functions for elementwise kernels (glibc's `tanhf` is scalar, ~20 ns a call).

/// `e^x` for 8 lanes (Cephes `expf`: Cody–Waite reduction by ln 2, degree-6 polynomial; relative error
/// ≤ 2 ulp for x in [−87, 88]; inputs are clamped to that range). Only SSE2-friendly operations (no
/// float→int conversion or floor calls), so it vectorises on the baseline x86-64 target.
@inlinable @inline(__always)
public func fastExp(_ x: SIMD8<Float>) -> SIMD8<Float> {
  var x = x.replacing(with: 88.3, where: x .> 88.3)
  x.replace(with: -87.3, where: x .< -87.3)
  // n = round(x / ln 2) through the 1.5·2²³ trick: the sum's low mantissa bits hold n.
  let magic = SIMD8<Float>(repeating: 12_582_912)
  let shifted = x * 1.44269504088896341 + magic
  let fx = shifted - magic
  let n = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000
  x = x - fx * 0.693359375
  x = x - fx * -2.12194440e-4
  let z = x * x
  var y = SIMD8<Float>(repeating: 1.9875691500e-4)
  y = y * x + 1.3981999507e-3
  y = y * x + 8.3334519073e-3
  y = y * x + 4.1665795894e-2
  y = y * x + 1.6666665459e-1
  y = y * x + 5.0000001201e-1
  y = y * z + x + 1
  // 2^n, built in two halves so n = ±128 (x near the clamps) does not overflow the exponent field.
  let half = n &>> 1
  let p1 = unsafeBitCast((half &+ 127) &<< 23, to: SIMD8<Float>.self)
  let p2 = unsafeBitCast((n &- half &+ 127) &<< 23, to: SIMD8<Float>.self)
  return y * p1 * p2
}

/// `tanh(x)` for 8 lanes (Cephes `tanhf`: odd polynomial below |x| = 0.625, else `1 − 2/(e^{2|x|} + 1)`;
/// within 1.2 ulp of the exact value over [−12, 12] (glibc `tanhf`: 2.1), exactly ±1 from |x| = 10, odd
/// (keeps −0), NaN passes).
@inlinable @inline(__always)
public func fastTanh(_ x: SIMD8<Float>) -> SIMD8<Float> {
  let bits = unsafeBitCast(x, to: SIMD8<UInt32>.self)
  let sign = bits & 0x8000_0000
  let ax = unsafeBitCast(bits & 0x7fff_ffff, to: SIMD8<Float>.self)
  let s = ax * ax
  var p = SIMD8<Float>(repeating: -5.70498872745e-3)
  p = p * s + 2.06390887954e-2
  p = p * s - 5.37397155531e-2
  p = p * s + 1.33314422036e-1
  p = p * s - 3.33332819422e-1
  var r = p * s * ax + ax
  let e = fastExp(2 * ax.replacing(with: 10, where: ax .> 10))
  r.replace(with: 1 - 2 / (e + 1), where: ax .>= 0.625)
  return unsafeBitCast(unsafeBitCast(r, to: SIMD8<UInt32>.self) | sign, to: SIMD8<Float>.self)
}

/// `y[i] = tanh(x[i])` over `n` elements (`x` and `y` may be the same buffer).
public func fastTanh(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
  var i = 0
  while i + 8 <= n {
    store8(fastTanh(load8(x + i)), y + i)
    i += 8
  }
  if i < n {
    var v = SIMD8<Float>(repeating: 0)
    for l in 0..<(n - i) { v[l] = x[i + l] }
    let r = fastTanh(v)
    for l in 0..<(n - i) { y[i + l] = r[l] }
  }
}
