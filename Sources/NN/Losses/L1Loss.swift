import Tensor

/// Mean absolute error per sample: loss_i = mean_j |p_ij − t_ij| over the sample's elements.
///
/// Subgradient sign(p − t) with sign(0) = 0, like PyTorch's `L1Loss`. With a `deadZone` > 0, differences
/// with |p − t| ≤ deadZone also get subgradient 0: when g ≈ f (the start of unlearning), float rounding
/// alone decides the sign of many pixel differences, and so would the number of ranks; the dead zone makes
/// the gradient independent of it.
public final class L1Loss: PerSampleLoss {
  /// Differences this small count as zero in the subgradient (the loss value is unchanged).
  public let deadZone: Float
  /// [N, ...] ∂/∂prediction, reused.
  private var dPrediction: Tensor?
  /// [N, ...] p − t of the last forward.
  private var difference: Tensor?

  public init(deadZone: Float = 0) {
    precondition(deadZone >= 0, "L1Loss: negative dead zone \(deadZone)")
    self.deadZone = deadZone
  }

  public func forward(prediction: Tensor, target: Tensor) -> [Float] {
    let (n, m) = perSampleExtent(prediction, target, "L1Loss")
    let d = Tensor.reuse(difference, shape: prediction.shape)
    difference = d
    let p = prediction.pointer
    let t = target.pointer
    let dp = d.pointer
    var losses = [Float](repeating: 0, count: n)
    for i in 0..<n {
      var s: Double = 0
      for j in (i * m)..<(i * m + m) {
        let e = p[j] - t[j]
        dp[j] = e
        s += Double(abs(e))
      }
      losses[i] = Float(s / Double(m))
    }
    return losses
  }

  public func backward(weights: [Float]) -> Tensor {
    guard let d = difference else { preconditionFailure("L1Loss.backward before forward") }
    let n = d.shape[0]
    let m = d.count / n
    checkWeights(weights, n, "L1Loss")
    let g = Tensor.reuse(dPrediction, shape: d.shape)
    dPrediction = g
    let dp = d.pointer
    let gp = g.pointer
    let zone = deadZone
    for i in 0..<n {
      let w = weights[i] / Float(m)
      for j in (i * m)..<(i * m + m) {
        let e = dp[j]
        gp[j] = e > zone ? w : (e < -zone ? -w : 0)
      }
    }
    return g
  }
}
