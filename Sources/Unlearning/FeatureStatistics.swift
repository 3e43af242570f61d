import Foundation
import Tensor

/// Mean and covariance of feature vectors, and the Fréchet distance between two such Gaussians (FID),
/// computed in Double.
public struct FeatureStatistics {
  public let mean: [Double]
  /// Row-major d×d covariance (unbiased, like numpy.cov / the FID reference code).
  public let covariance: [Double]
  public var dimension: Int { mean.count }

  /// Statistics of the rows of `features` [N, d].
  public init(_ features: Tensor) {
    let (n, d) = (features.shape[0], features.shape[1])
    precondition(n >= 2, "need at least 2 feature vectors, got \(n)")
    var mu = [Double](repeating: 0, count: d)
    for i in 0..<n { for k in 0..<d { mu[k] += Double(features[i * d + k]) } }
    for k in 0..<d { mu[k] /= Double(n) }
    // Centered features in Double, then C = Xᵀ X / (n − 1).
    var x = [Double](repeating: 0, count: n * d)
    for i in 0..<n { for k in 0..<d { x[i * d + k] = Double(features[i * d + k]) - mu[k] } }
    var c = [Double](repeating: 0, count: d * d)
    for i in 0..<n {
      let row = i * d
      for a in 0..<d {
        let xa = x[row + a]
        if xa == 0 { continue }
        for b in a..<d { c[a * d + b] += xa * x[row + b] }
      }
    }
    for a in 0..<d { for b in a..<d { c[a * d + b] /= Double(n - 1); c[b * d + a] = c[a * d + b] } }
    mean = mu
    covariance = c
  }

  /// Fréchet distance ‖μ₁ − μ₂‖² + tr(Σ₁ + Σ₂ − 2 (Σ₁Σ₂)^½), with tr (Σ₁Σ₂)^½ = Σ √λ of the symmetric
  /// PSD matrix Σ₁^½ Σ₂ Σ₁^½.
  public static func frechetDistance(_ a: FeatureStatistics, _ b: FeatureStatistics) -> Double {
    let d = a.dimension
    precondition(b.dimension == d)
    var dist = 0.0
    for k in 0..<d { dist += (a.mean[k] - b.mean[k]) * (a.mean[k] - b.mean[k]) }
    var trA = 0.0, trB = 0.0
    for k in 0..<d { trA += a.covariance[k * d + k]; trB += b.covariance[k * d + k] }
    let rootA = SymmetricEigen.function(a.covariance, d) { $0 > 0 ? $0.squareRoot() : 0 }
    let m = multiply(multiply(rootA, b.covariance, d), rootA, d)
    let lambda = SymmetricEigen.decompose(m, d).values
    let trRoot = lambda.reduce(0) { $0 + ($1 > 0 ? $1.squareRoot() : 0) }
    return dist + trA + trB - 2 * trRoot
  }

  static func multiply(_ x: [Double], _ y: [Double], _ d: Int) -> [Double] {
    var z = [Double](repeating: 0, count: d * d)
    for i in 0..<d {
      for k in 0..<d {
        let v = x[i * d + k]; if v == 0 { continue }; for j in 0..<d { z[i * d + j] += v * y[k * d + j] }
      }
    }
    return z
  }
}

/// Cyclic Jacobi eigen-decomposition of a symmetric matrix (robust and exact enough for d ≤ a few hundred).
public enum SymmetricEigen {
  /// Eigenvalues and eigenvectors (columns of the row-major `vectors`).
  public static func decompose(_ matrix: [Double], _ n: Int) -> (values: [Double], vectors: [Double]) {
    var a = matrix
    var v = [Double](repeating: 0, count: n * n)
    for i in 0..<n { v[i * n + i] = 1 }
    for _ in 0..<100 {
      var off = 0.0, total = 0.0
      for i in 0..<n { for j in 0..<n { let x = a[i * n + j] * a[i * n + j]; total += x; if i != j { off += x } } }
      if off <= 1e-26 * max(total, 1e-300) { break }
      for p in 0..<(n - 1) {
        for q in (p + 1)..<n {
          let apq = a[p * n + q]
          if abs(apq) < 1e-300 { continue }
          let theta = (a[q * n + q] - a[p * n + p]) / (2 * apq)
          let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
          let c = 1 / (t * t + 1).squareRoot(), s = t * c
          for k in 0..<n {
            let akp = a[k * n + p], akq = a[k * n + q]
            a[k * n + p] = c * akp - s * akq
            a[k * n + q] = s * akp + c * akq
          }
          for k in 0..<n {
            let apk = a[p * n + k], aqk = a[q * n + k]
            a[p * n + k] = c * apk - s * aqk
            a[q * n + k] = s * apk + c * aqk
          }
          for k in 0..<n {
            let vkp = v[k * n + p], vkq = v[k * n + q]
            v[k * n + p] = c * vkp - s * vkq
            v[k * n + q] = s * vkp + c * vkq
          }
        }
      }
    }
    return ((0..<n).map { a[$0 * n + $0] }, v)
  }

  /// f(M) = V f(Λ) Vᵀ for symmetric M.
  public static func function(_ m: [Double], _ n: Int, _ f: (Double) -> Double) -> [Double] {
    let (values, v) = decompose(m, n)
    let fv = values.map(f)
    var out = [Double](repeating: 0, count: n * n)
    for i in 0..<n {
      for j in 0..<n { var s = 0.0; for k in 0..<n { s += v[i * n + k] * fv[k] * v[j * n + k] }; out[i * n + j] = s }
    }
    return out
  }
}

/// Inception Score with the project's classifier: exp(E_x KL(p(y|x) ‖ p(y))) from softmax probabilities.
public func inceptionScore(probabilities p: Tensor) -> Double {
  let (n, k) = (p.shape[0], p.shape[1])
  var marginal = [Double](repeating: 0, count: k)
  for i in 0..<n { for j in 0..<k { marginal[j] += Double(p[i * k + j]) / Double(n) } }
  var kl = 0.0
  for i in 0..<n {
    for j in 0..<k {
      let pij = Double(p[i * k + j])
      if pij > 0 { kl += pij * (log(pij) - log(max(marginal[j], 1e-30))) }
    }
  }
  return exp(kl / Double(n))
}

/// Row-wise softmax of logits [N, K] into a new tensor.
public func softmax(_ logits: Tensor) -> Tensor {
  let (n, k) = (logits.shape[0], logits.shape[1])
  let out = Tensor(shape: [n, k])
  for i in 0..<n {
    let row = logits.pointer + i * k, o = out.pointer + i * k
    var m = -Float.infinity
    for j in 0..<k { m = max(m, row[j]) }
    var s: Float = 0
    for j in 0..<k { o[j] = exp(row[j] - m); s += o[j] }
    for j in 0..<k { o[j] /= s }
  }
  return out
}

/// How a classifier sees a set of images: mean top-class probability and the entropy of the histogram of
/// predicted classes relative to its maximum log K (1 = all classes equally often; the sample-diversity
/// figures of ANCHORS.md).
public struct ClassifierSummary {
  public let meanConfidence: Double
  public let histogramEntropy: Double
  public init(probabilities p: Tensor) {
    let (n, k) = (p.shape[0], p.shape[1])
    var confidence = 0.0
    var counts = [Double](repeating: 0, count: k)
    for (i, best) in p.rowArgmax().enumerated() {
      confidence += Double(p[i * k + best])
      counts[best] += 1
    }
    meanConfidence = confidence / Double(n)
    var h = 0.0
    for c in counts where c > 0 { let q = c / Double(n); h -= q * log(q) }
    histogramEntropy = h / log(Double(k))
  }
}
