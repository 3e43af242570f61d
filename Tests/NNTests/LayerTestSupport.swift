import NN
import Tensor
import Testing

/// A tensor of standard normals from a seeded Philox stream, times `scale`.
func randomTensor(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
  var g = PhiloxGenerator(seed: seed)
  let t = Tensor(shape: shape)
  for i in 0..<t.count { t[i] = g.nextNormal() * scale }
  return t
}

/// Fills every parameter of `layer` with seeded normals (`scale` · N(0, 1), plus `offset`).
func randomiseParameters(_ layer: Layer, seed: UInt64, scale: Float = 0.5, offset: Float = 0) {
  for (k, (_, p)) in layer.namedParameters().enumerated() {
    var g = PhiloxGenerator(seed: seed, stream: UInt64(k))
    for i in 0..<p.value.count { p.value[i] = g.nextNormal() * scale + offset }
  }
}

/// `Σ y · r` in Double.
func weightedSum(_ y: Tensor, _ r: Tensor) -> Double {
  precondition(y.count == r.count)
  var s = 0.0
  for i in 0..<y.count { s += Double(y[i]) * Double(r[i]) }
  return s
}

/// Worst absolute difference of `analytic` from `numeric`, relative to the largest |numeric| (at least
/// `floor`), with its index.
func relativeWorst(_ analytic: [Float], _ numeric: [Double], floor: Double = 1e-3) -> (error: Double, index: Int) {
  precondition(analytic.count == numeric.count, "\(analytic.count) analytic vs \(numeric.count) numeric")
  let scale = max(numeric.map(abs).max() ?? 0, floor)
  var worst = (0.0, -1)
  for i in analytic.indices {
    let e = abs(Double(analytic[i]) - numeric[i]) / scale
    if e > worst.0 || e.isNaN { worst = (e, i) }
  }
  return worst
}

/// Central finite-difference check of `layer`'s input gradient and every parameter gradient for the loss
/// `L = Σ forward(input) · r` with seeded random `r`. Records a failing expectation naming the worst element.
func checkGradients(
  _ layer: Layer, input: Tensor, seed: UInt64, eps: Float, tolerance: Double, label: String,
  checkInput: Bool = true
) {
  let outputShape = layer.forward(input).shape
  let r = randomTensor(outputShape, seed: seed &+ 99)
  layer.zeroGradients()
  _ = layer.forward(input)
  let dInput = layer.backward(r).array
  let parameters = layer.namedParameters()
  let analyticParameters = parameters.map { $0.1.grad.array }

  func numericGradient(of t: Tensor) -> [Double] {
    (0..<t.count).map { i in
      let saved = t[i]
      t[i] = saved + eps
      let plus = weightedSum(layer.forward(input), r)
      t[i] = saved - eps
      let minus = weightedSum(layer.forward(input), r)
      t[i] = saved
      return (plus - minus) / (2 * Double(eps))
    }
  }

  if checkInput {
    let numeric = numericGradient(of: input)
    let w = relativeWorst(dInput, numeric)
    #expect(
      w.error <= tolerance,
      "\(label) dInput[\(w.index)]: analytic \(w.index >= 0 ? dInput[w.index] : .nan) vs numeric \(w.index >= 0 ? numeric[w.index] : .nan) (relative error \(w.error))"
    )
  }
  for ((name, p), analytic) in zip(parameters, analyticParameters) {
    let numeric = numericGradient(of: p.value)
    let w = relativeWorst(analytic, numeric)
    #expect(
      w.error <= tolerance,
      "\(label) d\(name)[\(w.index)]: analytic \(w.index >= 0 ? analytic[w.index] : .nan) vs numeric \(w.index >= 0 ? numeric[w.index] : .nan) (relative error \(w.error))"
    )
  }
}

/// Expects `actual` to match `expected` elementwise within `tolerance` · max(1, max |expected|).
func expectClose(_ actual: [Float], _ expected: [Double], tolerance: Double, _ label: String) {
  #expect(actual.count == expected.count, "\(label): \(actual.count) elements, expected \(expected.count)")
  guard actual.count == expected.count else { return }
  let w = relativeWorst(actual, expected, floor: 1)
  #expect(
    w.error <= tolerance,
    "\(label)[\(w.index)]: \(w.index >= 0 ? actual[w.index] : .nan) vs \(w.index >= 0 ? expected[w.index] : .nan) (relative error \(w.error))"
  )
}
