import Tensor
import Testing

/// Deterministic test data.
struct TestRandom {
  var generator: PhiloxGenerator
  init(seed: UInt64) { generator = PhiloxGenerator(seed: seed) }
  mutating func uniform(_ n: Int, _ range: ClosedRange<Float>) -> [Float] {
    (0..<n).map { _ in Float.random(in: range, using: &generator) }
  }
  mutating func normal(_ n: Int) -> [Float] { (0..<n).map { _ in generator.nextNormal() } }
}

/// Σ_i weights[i] · losses[i] in Double.
func weightedSum(_ losses: [Float], _ weights: [Float]) -> Double {
  zip(losses, weights).reduce(0) { $0 + Double($1.0) * Double($1.1) }
}

/// Central differences of `f` at `x` for the elements `indices`.
func centralDifferences(_ x: [Float], eps: Float, indices: [Int], _ f: ([Float]) -> Double) -> [Double] {
  indices.map { j in
    var plus = x
    var minus = x
    plus[j] += eps
    minus[j] -= eps
    // The step actually taken after rounding to Float.
    return (f(plus) - f(minus)) / Double(plus[j] - minus[j])
  }
}

/// Expects |analytic − numeric| ≤ atol + rtol·|numeric| at every checked element; reports the worst one.
func expectGradientClose(
  _ analytic: [Float], _ numeric: [Double], indices: [Int], rtol: Double, atol: Double, _ label: String,
  sourceLocation: SourceLocation = #_sourceLocation
) {
  var worst = (excess: -Double.infinity, index: -1, analytic: 0.0, numeric: 0.0)
  for (k, j) in indices.enumerated() {
    let a = Double(analytic[j])
    let n = numeric[k]
    let excess = abs(a - n) - (atol + rtol * abs(n))
    if excess > worst.excess { worst = (excess, j, a, n) }
  }
  #expect(
    worst.excess <= 0,
    "\(label): worst element \(worst.index): analytic \(worst.analytic) vs numeric \(worst.numeric)",
    sourceLocation: sourceLocation)
}
