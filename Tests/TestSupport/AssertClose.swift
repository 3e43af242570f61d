import Foundation
import Tensor
import Testing

/// The committed PyTorch fixture `Tests/Fixtures/<name>` (docs/FIXTURES.md).
public func fixturePath(_ name: String) -> String {
  URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/\(name)").path
}

/// Checks `actual` against `expected` element by element: equal shapes, then every
/// `|a − e| ≤ rtol · max|expected| + atol`. On failure records one issue naming the worst element (flat index,
/// both values). Returns the worst `|a − e| / max|expected|` (the error relative to the tensor's scale).
@discardableResult
public func assertClose(
  _ actual: Tensor, _ expected: Tensor, rtol: Float, atol: Float = 0, _ label: String,
  sourceLocation: SourceLocation = #_sourceLocation
) -> Double {
  guard actual.shape == expected.shape else {
    Issue.record("\(label): shape \(actual.shape), expected \(expected.shape)", sourceLocation: sourceLocation)
    return .infinity
  }
  var scale = 0.0
  for i in 0..<expected.count { scale = max(scale, Double(abs(expected[i]))) }
  var worst = (difference: 0.0, index: -1)
  for i in 0..<expected.count {
    let d = abs(Double(actual[i]) - Double(expected[i]))
    if d > worst.difference || d.isNaN { worst = (d, i) }
    if d.isNaN { break }
  }
  let bound = Double(rtol) * scale + Double(atol)
  let relative = scale > 0 ? worst.difference / scale : worst.difference
  if !(worst.difference <= bound) {
    let i = worst.index
    Issue.record(
      "\(label): worst element [\(i)] of \(actual.shape): \(actual[i]) vs expected \(expected[i]), |Δ| \(worst.difference) > \(bound) (rtol \(rtol) · max|ref| \(scale) + atol \(atol))",
      sourceLocation: sourceLocation)
  }
  return relative
}
