import Foundation
import Tensor

/// Binary cross-entropy on logits per sample: loss_i = mean_j ℓ(x_ij, t_ij) with targets t in [0, 1] and
/// ℓ(x, t) = max(x, 0) − x·t + log(1 + e^−|x|), the overflow-free form PyTorch's `BCEWithLogitsLoss` uses.
/// ∂ℓ/∂x = σ(x) − t.
public final class BCEWithLogitsLoss: PerSampleLoss {
  /// [N, ...] ∂/∂prediction, reused.
  private var dPrediction: Tensor?
  /// [N, ...] σ(x) − t of the last forward.
  private var residual: Tensor?

  public init() {}

  public func forward(prediction: Tensor, target: Tensor) -> [Float] {
    let (n, m) = perSampleExtent(prediction, target, "BCEWithLogitsLoss")
    let r = Tensor.reuse(residual, shape: prediction.shape)
    residual = r
    let x = prediction.pointer
    let t = target.pointer
    let rp = r.pointer
    var losses = [Float](repeating: 0, count: n)
    for i in 0..<n {
      var s: Double = 0
      for j in (i * m)..<(i * m + m) {
        let xv = x[j]
        let tv = t[j]
        let e = expf(-abs(xv))  // in (0, 1]
        s += Double(max(xv, 0) - xv * tv + log1pf(e))
        // σ(x) from e = e^−|x| without overflow.
        let sigmoid = xv >= 0 ? 1 / (1 + e) : e / (1 + e)
        rp[j] = sigmoid - tv
      }
      losses[i] = Float(s / Double(m))
    }
    return losses
  }

  public func backward(weights: [Float]) -> Tensor {
    guard let r = residual else { preconditionFailure("BCEWithLogitsLoss.backward before forward") }
    let n = r.shape[0]
    let m = r.count / n
    checkWeights(weights, n, "BCEWithLogitsLoss")
    let g = Tensor.reuse(dPrediction, shape: r.shape)
    dPrediction = g
    let rp = r.pointer
    let gp = g.pointer
    for i in 0..<n {
      let w = weights[i] / Float(m)
      for j in (i * m)..<(i * m + m) { gp[j] = w * rp[j] }
    }
    return g
  }
}
