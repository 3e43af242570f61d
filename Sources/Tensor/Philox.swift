import Foundation

/// Philox4x32-10 counter-based random numbers (Salmon et al., SC'11), the generator behind PyTorch's and
/// JAX's reproducible sampling.
///
/// A value is a pure function of (key, counter): latent j of step s is `Philox(seed).normals(stream: s,
/// index: j)`, whatever rank computes it. That is what makes the global batch independent of the number
/// of ranks.
public struct Philox: Sendable {
  public let key: (UInt32, UInt32)

  public init(seed: UInt64) { key = (UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32)) }

  /// The 4×32-bit block for a 128-bit counter.
  @inlinable
  public func block(_ c0: UInt32, _ c1: UInt32, _ c2: UInt32, _ c3: UInt32) -> (UInt32, UInt32, UInt32, UInt32) {
    var (x0, x1, x2, x3) = (c0, c1, c2, c3)
    var (k0, k1) = key
    for _ in 0..<10 {
      let p0 = UInt64(0xD251_1F53) &* UInt64(x0)
      let p1 = UInt64(0xCD9E_8D57) &* UInt64(x2)
      let hi0 = UInt32(p0 >> 32), lo0 = UInt32(truncatingIfNeeded: p0)
      let hi1 = UInt32(p1 >> 32), lo1 = UInt32(truncatingIfNeeded: p1)
      (x0, x1, x2, x3) = (hi1 ^ x1 ^ k0, lo1, hi0 ^ x3 ^ k1, lo0)
      k0 = k0 &+ 0x9E37_79B9
      k1 = k1 &+ 0xBB67_AE85
    }
    return (x0, x1, x2, x3)
  }

  /// Fills `out` with `count` standard normals for item `index` of stream `stream` (Box–Muller in Double,
  /// so the values are identical on every machine).
  public func normals(stream: UInt64, index: UInt64, count: Int, into out: UnsafeMutablePointer<Float>) {
    var i = 0
    var block: UInt32 = 0
    while i < count {
      let r = self.block(
        UInt32(truncatingIfNeeded: index), UInt32(truncatingIfNeeded: index >> 32) ^ (block << 16),
        UInt32(truncatingIfNeeded: stream), UInt32(truncatingIfNeeded: stream >> 32))
      let (a, b) = Philox.boxMuller(r.0, r.1)
      let (c, d) = Philox.boxMuller(r.2, r.3)
      for v in [a, b, c, d] where i < count {
        out[i] = Float(v)
        i += 1
      }
      block += 1
    }
  }

  /// Uniform in [0, 1) for item `index` of stream `stream`.
  public func uniform(stream: UInt64, index: UInt64) -> Double {
    let r = block(UInt32(truncatingIfNeeded: index), UInt32(truncatingIfNeeded: index >> 32),
                  UInt32(truncatingIfNeeded: stream), UInt32(truncatingIfNeeded: stream >> 32) ^ 0x5555_0000)
    return Double((UInt64(r.0) << 21) ^ UInt64(r.1 >> 11)) / Double(1 << 53)
  }

  @inlinable
  static func boxMuller(_ u: UInt32, _ v: UInt32) -> (Double, Double) {
    let u1 = (Double(u) + 0.5) / 4_294_967_296.0
    let u2 = (Double(v) + 0.5) / 4_294_967_296.0
    let r = (-2 * Foundation.log(u1)).squareRoot()
    let t = 2 * Double.pi * u2
    return (r * cos(t), r * sin(t))
  }
}

/// A sequential `RandomNumberGenerator` over Philox, for weight initialisation and shuffling.
public struct PhiloxGenerator: RandomNumberGenerator {
  public let philox: Philox
  public let stream: UInt64
  public private(set) var counter: UInt64 = 0
  public init(seed: UInt64, stream: UInt64 = 0) {
    philox = Philox(seed: seed)
    self.stream = stream
  }
  public mutating func next() -> UInt64 {
    let r = philox.block(UInt32(truncatingIfNeeded: counter), UInt32(truncatingIfNeeded: counter >> 32),
                         UInt32(truncatingIfNeeded: stream), UInt32(truncatingIfNeeded: stream >> 32))
    counter += 1
    return (UInt64(r.0) << 32) | UInt64(r.1)
  }
  /// A standard normal (Box–Muller on two draws).
  public mutating func nextNormal() -> Float {
    let a = UInt32(truncatingIfNeeded: next()), b = UInt32(truncatingIfNeeded: next())
    return Float(Philox.boxMuller(a, b).0)
  }
}
