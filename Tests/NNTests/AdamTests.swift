import Foundation
import Tensor
import Testing

@testable import NN

/// torch.optim.Adam written out in Double for a few steps.
private func referenceAdam(
  _ p0: [Double], gradients: [[Double]], lr: Double, b1: Double, b2: Double, eps: Double, wd: Double
) -> [Double] {
  var p = p0
  var m = [Double](repeating: 0, count: p0.count)
  var v = m
  for (t, g0) in gradients.enumerated() {
    let bc1 = 1 - pow(b1, Double(t + 1))
    let bc2 = 1 - pow(b2, Double(t + 1))
    for j in 0..<p.count {
      let g = g0[j] + wd * p[j]
      m[j] = b1 * m[j] + (1 - b1) * g
      v[j] = b2 * v[j] + (1 - b2) * g * g
      p[j] -= lr / bc1 * m[j] / (v[j].squareRoot() / bc2.squareRoot() + eps)
    }
  }
  return p
}

private let start: [Float] = [0.5, -1.25, 2, 0]
private let gradientSteps: [[Float]] = [[0.1, -0.2, 3, 0], [-0.4, 0.05, 2.5, 1e-4], [0.3, 0.3, -1, -2]]

private func run(_ adam: Adam, _ p: inout [Float], _ steps: ArraySlice<[Float]>) {
  for g in steps {
    p.withUnsafeMutableBufferPointer { pp in g.withUnsafeBufferPointer { adam.step(parameters: pp, gradients: $0) } }
  }
}

@Test(arguments: [0.0, 0.1])
func adamMatchesHandComputedSteps(weightDecay: Double) {
  let adam = Adam(count: 4, learningRate: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: weightDecay)
  var p = start
  run(adam, &p, gradientSteps[...])
  let expected = referenceAdam(
    start.map(Double.init), gradients: gradientSteps.map { $0.map(Double.init) },
    lr: 0.01, b1: 0.9, b2: 0.999, eps: 1e-8, wd: weightDecay)
  #expect(adam.stepCount == 3)
  for j in 0..<4 {
    #expect(
      abs(Double(p[j]) - expected[j]) <= 1e-6 * max(1, abs(expected[j])), "element \(j): \(p[j]) vs \(expected[j])")
  }
  // The first step of Adam moves every element with a nonzero gradient by about lr.
  let once = Adam(count: 4, learningRate: 0.01)
  var q = start
  run(once, &q, gradientSteps.prefix(1))
  #expect(zip(q, start).prefix(3).allSatisfy { abs(abs($0 - $1) - 0.01) < 1e-6 } && q[3] == start[3])
}

@Test func adamResumesExactlyFromSavedState() {
  let whole = Adam(count: 4, learningRate: 0.02, weightDecay: 0.01)
  var p = start
  run(whole, &p, gradientSteps[...])

  let first = Adam(count: 4, learningRate: 0.02, weightDecay: 0.01)
  var q = start
  run(first, &q, gradientSteps.prefix(2))
  let resumed = Adam(count: 4, learningRate: 0.02, weightDecay: 0.01)
  resumed.m.copy(from: first.m)
  resumed.v.copy(from: first.v)
  resumed.stepCount = first.stepCount
  run(resumed, &q, gradientSteps.suffix(1))
  #expect(p == q)
  #expect(whole.m.array == resumed.m.array && whole.v.array == resumed.v.array && resumed.stepCount == 3)
}

/// The 8-lane Adam loop is the scalar formula lane by lane: results equal a scalar reference bit for bit,
/// including the tail (n not a multiple of 8) and weight decay.
@Test(arguments: [0.0, 0.01])
func vectorisedAdamEqualsTheScalarFormula(weightDecay: Double) {
  let n = 37
  var rng = PhiloxGenerator(seed: 3)
  var p = (0..<n).map { _ in rng.nextNormal() }
  var reference = p
  var m = [Float](repeating: 0, count: n), v = [Float](repeating: 0, count: n)
  let adam = Adam(count: n, learningRate: 1e-3, beta1: 0.5, beta2: 0.999, eps: 1e-8, weightDecay: weightDecay)
  for step in 1...4 {
    let g = (0..<n).map { _ in rng.nextNormal() }
    p.withUnsafeMutableBufferPointer { pp in g.withUnsafeBufferPointer { adam.step(parameters: pp, gradients: $0) } }
    let t = Double(step)
    let c1 = 1 - pow(0.5, t), c2 = 1 - pow(0.999, t)
    let stepSize = Float(-(1e-3 / c1)), c2Root = Float(c2.squareRoot())
    for j in 0..<n {
      let grad = weightDecay == 0 ? g[j] : g[j] + Float(weightDecay) * reference[j]
      m[j] = m[j] + Float(1 - 0.5) * (grad - m[j])
      v[j] = Float(0.999) * v[j] + Float(1 - 0.999) * grad * grad
      reference[j] += stepSize * m[j] / (v[j].squareRoot() / c2Root + Float(1e-8))
    }
  }
  #expect(p == reference)
  #expect(adam.m.array == m && adam.v.array == v)
}
