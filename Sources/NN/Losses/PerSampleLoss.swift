import Tensor

/// A loss evaluated separately for each sample of a batch, so a trainer can weight and mix losses per sample.
///
/// Shapes: `prediction` is `[N, ...]` (the first dimension counts samples); unless a loss says otherwise,
/// `target` has the same shape. PyTorch's `reduction="mean"` is `backward(weights:)` with every weight `1/N`.
public protocol PerSampleLoss: AnyObject {
  /// The loss of each of the N samples; caches what `backward` needs.
  func forward(prediction: Tensor, target: Tensor) -> [Float]
  /// dPrediction = Σ_i weights[i] · ∂loss_i/∂prediction for the last `forward`; `weights` has N entries.
  /// The result has the prediction's shape and is owned by the loss (reused by the next call).
  func backward(weights: [Float]) -> Tensor
}

/// Checks the shapes of a per-sample loss and returns (samples N, elements per sample M).
@inline(__always)
func perSampleExtent(_ prediction: Tensor, _ target: Tensor, _ name: String) -> (Int, Int) {
  precondition(prediction.shape == target.shape, "\(name): prediction \(prediction.shape) vs target \(target.shape)")
  precondition(prediction.shape.count >= 1 && prediction.shape[0] > 0, "\(name): empty batch \(prediction.shape)")
  let n = prediction.shape[0]
  return (n, prediction.count / n)
}

/// Checks that `weights` has one entry per sample of the cached forward.
@inline(__always)
func checkWeights(_ weights: [Float], _ n: Int, _ name: String) {
  precondition(weights.count == n, "\(name).backward: \(weights.count) weights for \(n) samples")
}
