import Foundation
import Tensor
import Testing

@testable import NN

/// Checks forward values against `reference` (Double, per sample) and backward against central differences
/// of the loss's own forward, with random per-sample weights of both signs.
private func checkLoss(
  _ loss: PerSampleLoss, shape: [Int], prediction p: [Float], target t: [Float], targetShape: [Int]? = nil,
  eps: Float, rtol: Double, atol: Double, skip: (Int) -> Bool = { _ in false },
  reference: ([Float], [Float], Int) -> [Double], sourceLocation: SourceLocation = #_sourceLocation
) {
  var random = TestRandom(seed: 99)
  let n = shape[0]
  let weights = random.uniform(n, -1...1)
  let target = Tensor(shape: targetShape ?? shape, values: t)
  let values = loss.forward(prediction: Tensor(shape: shape, values: p), target: target)
  let expected = reference(p, t, n)
  #expect(values.count == n, sourceLocation: sourceLocation)
  for i in 0..<n {
    #expect(
      abs(Double(values[i]) - expected[i]) <= 1e-5 * max(1, abs(expected[i])),
      "sample \(i): \(values[i]) vs \(expected[i])", sourceLocation: sourceLocation)
  }
  let analytic = loss.backward(weights: weights).array
  #expect(analytic.count == p.count, sourceLocation: sourceLocation)
  let indices = (0..<p.count).filter { !skip($0) }
  let numeric = centralDifferences(p, eps: eps, indices: indices) { q in
    weightedSum(loss.forward(prediction: Tensor(shape: shape, values: q), target: target), weights)
  }
  expectGradientClose(
    analytic, numeric, indices: indices, rtol: rtol, atol: atol, "\(type(of: loss))",
    sourceLocation: sourceLocation)
}

/// Per-sample mean of `f(p, t)` over M = count / n elements, in Double.
private func perSampleMean(_ p: [Float], _ t: [Float], _ n: Int, _ f: (Double, Double) -> Double) -> [Double] {
  let m = p.count / n
  return (0..<n).map { i in (0..<m).reduce(0.0) { $0 + f(Double(p[i * m + $1]), Double(t[i * m + $1])) } / Double(m) }
}

@Test func l1LossValuesAndGradient() {
  var random = TestRandom(seed: 1)
  let shape = [3, 2, 5]
  let p = random.normal(30)
  let t = random.normal(30)
  // |p − t| must exceed the step so the kink is not crossed.
  checkLoss(
    L1Loss(), shape: shape, prediction: p, target: t, eps: 1e-3, rtol: 1e-3, atol: 1e-4,
    skip: { abs(p[$0] - t[$0]) < 1e-2 },
    reference: { perSampleMean($0, $1, $2) { abs($0 - $1) } })
}

@Test func l1LossSubgradientIsZeroAtEquality() {
  let loss = L1Loss()
  let p = Tensor(shape: [2, 2], values: [1, 2, 3, 4])
  let t = Tensor(shape: [2, 2], values: [1, 0, 3, 5])
  #expect(loss.forward(prediction: p, target: t) == [1, 0.5])
  #expect(loss.backward(weights: [1, 2]).array == [0, 0.5, 0, -1])
}

@Test func mseLossValuesAndGradient() {
  var random = TestRandom(seed: 2)
  let shape = [4, 3, 2, 2]
  checkLoss(
    MSELoss(), shape: shape, prediction: random.normal(48), target: random.normal(48), eps: 1e-2,
    rtol: 1e-3, atol: 1e-4
  ) { perSampleMean($0, $1, $2) { ($0 - $1) * ($0 - $1) } }
}

@Test func bceWithLogitsValuesAndGradient() {
  var random = TestRandom(seed: 3)
  let shape = [3, 7]
  let p = random.normal(21).map { 3 * $0 }
  let t = random.uniform(21, 0...1)
  checkLoss(BCEWithLogitsLoss(), shape: shape, prediction: p, target: t, eps: 1e-2, rtol: 1e-3, atol: 1e-4) {
    perSampleMean($0, $1, $2) { x, t in
      let s = 1 / (1 + exp(-x))
      return -(t * log(s) + (1 - t) * log(1 - s))
    }
  }
}

@Test func bceWithLogitsIsStableForLargeLogits() {
  let loss = BCEWithLogitsLoss()
  let p = Tensor(shape: [4, 1], values: [100, -100, 0.5, -200])
  let t = Tensor(shape: [4, 1], values: [0, 0, 1, 1])
  let v = loss.forward(prediction: p, target: t)
  #expect(abs(v[0] - 100) < 1e-4 && v[1] >= 0 && v[1] < 1e-30 && abs(v[3] - 200) < 1e-3)
  #expect(abs(v[2] - 0.474076984) < 1e-6)  // log(1 + e^−0.5)
  let g = loss.backward(weights: [1, 1, 1, 1]).array
  #expect(abs(g[0] - 1) < 1e-6 && abs(g[1]) < 1e-30 && abs(g[3] + 1) < 1e-6 && g.allSatisfy(\.isFinite))
}

@Test func crossEntropyValuesAndGradient() {
  var random = TestRandom(seed: 4)
  let (n, k) = (5, 6)
  let p = random.normal(n * k).map { 2 * $0 }
  let t = (0..<n).map { Float($0 * 7 % k) }
  checkLoss(
    CrossEntropyLoss(), shape: [n, k], prediction: p, target: t, targetShape: [n], eps: 1e-2,
    rtol: 1e-3, atol: 1e-4
  ) { p, t, n in
    (0..<n).map { i in
      let row = (0..<k).map { Double(p[i * k + $0]) }
      return log(row.reduce(0) { $0 + exp($1) }) - row[Int(t[i])]
    }
  }
}

@Test func crossEntropyKnownValueAndLargeLogits() {
  let loss = CrossEntropyLoss()
  let p = Tensor(shape: [2, 3], values: [1, 2, 3, 1000, -1000, 0])
  let t = Tensor(shape: [2], values: [0, 0])
  let v = loss.forward(prediction: p, target: t)
  #expect(abs(v[0] - 2.4076059644) < 1e-6)  // log(e + e² + e³) − 1
  #expect(v[1] == 0)
  let g = loss.backward(weights: [0.5, 0.5]).array
  #expect(g.allSatisfy(\.isFinite) && abs(g[0] + 0.5 * (1 - 0.0900305732)) < 1e-6)
}

@Test func lossWorkspacesFollowTheBatchSize() {
  var random = TestRandom(seed: 5)
  let loss = MSELoss()
  let big = random.normal(12)
  let small = Array(big.prefix(4))
  _ = loss.forward(prediction: Tensor(shape: [3, 4], values: big), target: Tensor(shape: [3, 4]))
  _ = loss.backward(weights: [1, 1, 1])
  let v = loss.forward(prediction: Tensor(shape: [1, 4], values: small), target: Tensor(shape: [1, 4]))
  let g = loss.backward(weights: [1])
  #expect(g.shape == [1, 4])
  #expect(abs(Double(v[0]) - small.reduce(0) { $0 + Double($1 * $1) } / 4) < 1e-6)
  #expect(zip(g.array, small).allSatisfy { abs($0 - $1 / 2) < 1e-6 })
}

@Test func l1DeadZoneZeroesRoundingLevelDifferences() {
  let p = Tensor(shape: [1, 4], values: [1e-7, -1e-7, 0.5, -0.5])
  let t = Tensor(shape: [1, 4])
  let plain = L1Loss(), zoned = L1Loss(deadZone: 1e-6)
  #expect(plain.forward(prediction: p, target: t) == zoned.forward(prediction: p, target: t))
  #expect(plain.backward(weights: [4]).array == [1, -1, 1, -1])
  #expect(zoned.backward(weights: [4]).array == [0, 0, 1, -1])
}
