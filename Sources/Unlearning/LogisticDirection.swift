import Foundation
import Tensor

/// An alternative to the paper's mean-difference direction: an L2-regularised logistic regression of the
/// labels on the latents, with balanced class weights.
///
/// The paper's threshold is the mean projection over *all* samples, so positives whose projection falls
/// below it are never routed and the feature survives in them (digit 8 stalls near −63 %). A discriminative
/// fit places the boundary where positives and negatives actually separate; the threshold is then chosen so
/// that a given fraction (`recall`) of the collection's positives is routed, or at the fitted boundary
/// (p = ½) when `recall` is nil.
extension FeatureDirection {
  public static func fitLogistic(
    _ c: Collection, l2: Double = 1e-2, recall: Double? = nil, source: String = "collection"
  ) throws -> FeatureDirection {
    let latents = c.directionLatents
    let (n, d) = (latents.shape[0], latents.shape[1])
    let pos = c.positives, neg = n - pos
    if pos == 0 || neg == 0 {
      throw UsageError(
        "\(source): the collection has \(pos) positive and \(neg) negative samples; a direction needs both")
    }
    if let r = recall, !(r > 0 && r < 1) { throw UsageError("option --recall: must be between 0 and 1, got \(r)") }
    // Balanced weights: each class contributes half of the total weight.
    let wPos = Double(n) / (2 * Double(pos)), wNeg = Double(n) / (2 * Double(neg))
    let p = d + 1  // weights and bias
    var beta = [Double](repeating: 0, count: p)
    var x = [Double](repeating: 0, count: n * p)
    for i in 0..<n {
      for k in 0..<d { x[i * p + k] = Double(latents[i * d + k]) }
      x[i * p + d] = 1
    }
    for _ in 0..<50 {
      var gradient = [Double](repeating: 0, count: p)
      var hessian = [Double](repeating: 0, count: p * p)
      for i in 0..<n {
        var s = 0.0
        for k in 0..<p { s += x[i * p + k] * beta[k] }
        let mu = 1 / (1 + exp(-s)), y = Double(c.labels[i] != 0 ? 1 : 0)
        let w = y == 1 ? wPos : wNeg
        let r = w * (mu - y), h = w * mu * (1 - mu)
        for a in 0..<p {
          let xa = x[i * p + a]
          gradient[a] += r * xa
          let hx = h * xa
          for b in a..<p { hessian[a * p + b] += hx * x[i * p + b] }
        }
      }
      for a in 0..<p { for b in 0..<a { hessian[a * p + b] = hessian[b * p + a] } }
      for k in 0..<d {  // the bias is not regularised
        gradient[k] += l2 * Double(n) * beta[k]
        hessian[k * p + k] += l2 * Double(n)
      }
      let step = try solve(hessian, gradient, p)
      var change = 0.0
      for k in 0..<p { beta[k] -= step[k]; change = max(change, abs(step[k])) }
      if change < 1e-10 { break }
    }
    let norm = (0..<d).reduce(0.0) { $0 + beta[$1] * beta[$1] }.squareRoot()
    guard norm > 0, norm.isFinite else { throw UsageError("\(source): logistic regression found no direction") }
    var fd = FeatureDirection(
      direction: (0..<d).map { Float(beta[$0]) }, threshold: -beta[d] / norm, nPositive: pos, nNegative: neg,
      latentSpace: c.latentSpace, labeler: c.labeler, sourceModel: c.sourceModel, thresholdSource: "logistic_boundary",
      cut: c.cut)
    if let r = recall {
      let u = fd.unit
      let projections = (0..<n).filter { c.labels[$0] != 0 }.map { fd.project(latents.pointer + $0 * d, unit: u) }
        .sorted()
      let k = min(projections.count - 1, max(0, Int((Double(projections.count) * (1 - r)).rounded(.down))))
      fd.threshold = projections[k]
      fd.thresholdSource = "logistic_recall_\(r)"
    }
    return fd
  }

  /// Solves the symmetric positive-definite system A x = b (Cholesky, in Double).
  static func solve(_ a: [Double], _ b: [Double], _ n: Int) throws -> [Double] {
    var l = [Double](repeating: 0, count: n * n)
    for i in 0..<n {
      for j in 0...i {
        var s = a[i * n + j]
        for k in 0..<j { s -= l[i * n + k] * l[j * n + k] }
        if i == j {
          guard s > 0 else { throw UsageError("logistic regression: the system is not positive definite") }
          l[i * n + i] = s.squareRoot()
        } else {
          l[i * n + j] = s / l[j * n + j]
        }
      }
    }
    var y = [Double](repeating: 0, count: n)
    for i in 0..<n {
      var s = b[i]
      for k in 0..<i { s -= l[i * n + k] * y[k] }
      y[i] = s / l[i * n + i]
    }
    var x = [Double](repeating: 0, count: n)
    for i in stride(from: n - 1, through: 0, by: -1) {
      var s = y[i]
      for k in (i + 1)..<n { s -= l[k * n + i] * x[k] }
      x[i] = s / l[i * n + i]
    }
    return x
  }
}
