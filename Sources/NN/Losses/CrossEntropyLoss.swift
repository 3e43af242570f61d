import Foundation
import Tensor

/// Softmax cross-entropy per sample: loss_i = −log softmax(x_i)[c_i] = logsumexp(x_i) − x_i[c_i].
///
/// Shapes: `prediction` holds logits [N, K]; `target` holds the class index of each sample as a Float,
/// shape [N] (PyTorch's `CrossEntropyLoss` with class-index targets). ∂loss_i/∂x_i = softmax(x_i) − onehot(c_i).
public final class CrossEntropyLoss: PerSampleLoss {
  /// [N, K] ∂/∂prediction, reused.
  private var dPrediction: Tensor?
  /// [N, K] softmax(x) − onehot(c) of the last forward.
  private var residual: Tensor?

  public init() {}

  public func forward(prediction: Tensor, target: Tensor) -> [Float] {
    precondition(prediction.shape.count == 2, "CrossEntropyLoss: logits must be [N, K], got \(prediction.shape)")
    let n = prediction.shape[0]
    let k = prediction.shape[1]
    precondition(target.count == n, "CrossEntropyLoss: \(target.count) targets for \(n) samples")
    let r = Tensor.reuse(residual, shape: prediction.shape)
    residual = r
    let x = prediction.pointer
    let rp = r.pointer
    var losses = [Float](repeating: 0, count: n)
    for i in 0..<n {
      let row = x + i * k
      let out = rp + i * k
      let c = Int(target[i])
      precondition(
        c >= 0 && c < k && Float(c) == target[i], "CrossEntropyLoss: target \(target[i]) not a class of \(k)")
      var largest = row[0]
      for j in 1..<k { largest = max(largest, row[j]) }
      var sum: Float = 0
      for j in 0..<k {
        let e = expf(row[j] - largest)
        out[j] = e
        sum += e
      }
      let inverse = 1 / sum
      for j in 0..<k { out[j] *= inverse }
      out[c] -= 1
      losses[i] = largest + logf(sum) - row[c]
    }
    return losses
  }

  public func backward(weights: [Float]) -> Tensor {
    guard let r = residual else { preconditionFailure("CrossEntropyLoss.backward before forward") }
    let n = r.shape[0]
    let k = r.shape[1]
    checkWeights(weights, n, "CrossEntropyLoss")
    let g = Tensor.reuse(dPrediction, shape: r.shape)
    dPrediction = g
    let rp = r.pointer
    let gp = g.pointer
    for i in 0..<n {
      let w = weights[i]
      for j in (i * k)..<(i * k + k) { gp[j] = w * rp[j] }
    }
    return g
  }
}
