import Tensor

/// Mean squared error per sample: loss_i = mean_j (p_ij − t_ij)² over the sample's elements.
public final class MSELoss: PerSampleLoss {
  /// [N, ...] ∂/∂prediction, reused.
  private var dPrediction: Tensor?
  /// [N, ...] p − t of the last forward.
  private var difference: Tensor?

  public init() {}

  public func forward(prediction: Tensor, target: Tensor) -> [Float] {
    let (n, m) = perSampleExtent(prediction, target, "MSELoss")
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
        s += Double(e * e)
      }
      losses[i] = Float(s / Double(m))
    }
    return losses
  }

  public func backward(weights: [Float]) -> Tensor {
    guard let d = difference else { preconditionFailure("MSELoss.backward before forward") }
    let n = d.shape[0]
    let m = d.count / n
    checkWeights(weights, n, "MSELoss")
    let g = Tensor.reuse(dPrediction, shape: d.shape)
    dPrediction = g
    let dp = d.pointer
    let gp = g.pointer
    for i in 0..<n {
      let w = 2 * weights[i] / Float(m)
      for j in (i * m)..<(i * m + m) { gp[j] = w * dp[j] }
    }
    return g
  }
}
