import Foundation
import Tensor

/// Adam with bias correction over one flat parameter buffer, with the semantics of `torch.optim.Adam`
/// (non-fused, non-AMSGrad, L2 weight decay added to the gradient):
///
///     g ← g + weightDecay·p
///     m ← m + (1 − β1)(g − m)                   (torch's lerp; = β1·m + (1 − β1)·g)
///     v ← β2·v + (1 − β2)·g²
///     p ← p − lr/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + ε)
///
/// The trainer keeps all parameters and gradients contiguous, so one `step` updates the whole model. `m`,
/// `v` and `stepCount` are public so checkpoints can save and restore them exactly.
public final class Adam {
  // Hyperparameters are Double like PyTorch's Python floats; each enters the Float arithmetic where torch
  // casts it, so results round the same way.
  public var learningRate: Double
  public let beta1: Double
  public let beta2: Double
  public let eps: Double
  public let weightDecay: Double
  /// First moment, [count].
  public let m: Tensor
  /// Second moment, [count].
  public let v: Tensor
  /// Steps taken so far (t of the last step); the next step uses t = stepCount + 1.
  public var stepCount: Int = 0

  /// - Parameters:
  ///   - count: number of parameters in the flat buffer `step` will receive.
  public init(
    count: Int, learningRate: Double, beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8,
    weightDecay: Double = 0
  ) {
    precondition(count >= 0 && learningRate >= 0, "Adam: count \(count), learning rate \(learningRate)")
    precondition((0..<1).contains(beta1) && (0..<1).contains(beta2), "Adam: betas (\(beta1), \(beta2)) not in [0, 1)")
    self.learningRate = learningRate
    self.beta1 = beta1
    self.beta2 = beta2
    self.eps = eps
    self.weightDecay = weightDecay
    m = Tensor(shape: [count])
    v = Tensor(shape: [count])
  }

  /// One update of `parameters` in place from `gradients` (both `count` long).
  public func step(parameters: UnsafeMutableBufferPointer<Float>, gradients: UnsafeBufferPointer<Float>) {
    let n = m.count
    precondition(
      parameters.count == n && gradients.count == n,
      "Adam.step: \(parameters.count) parameters and \(gradients.count) gradients for \(n) moments")
    stepCount += 1
    let t = Double(stepCount)
    let correction1 = 1 - pow(beta1, t)
    let correction2 = 1 - pow(beta2, t)
    let negativeStepSize = Float(-(learningRate / correction1))
    let correction2Root = Float(correction2.squareRoot())
    let b1 = Float(1 - beta1)
    let b2 = Float(beta2)
    let c2 = Float(1 - beta2)
    let eps = Float(self.eps)
    let wd = Float(weightDecay)
    guard n > 0, let p = parameters.baseAddress, let g = gradients.baseAddress else { return }
    let mp = m.pointer
    let vp = v.pointer
    // 8 lanes at a time with exactly the scalar loop's per-element operations (IEEE-rounded, no fused
    // multiply-add), so the result is bit-identical to the scalar form; the scalar sqrt/div were the cost.
    let lanes = 8
    let body = n - n % lanes
    var j = 0
    while j < body {
      let pj = UnsafeMutableRawPointer(p + j), gj = UnsafeRawPointer(g + j)
      let mr = UnsafeMutableRawPointer(mp + j), vr = UnsafeMutableRawPointer(vp + j)
      let pv = pj.loadUnaligned(as: SIMD8<Float>.self)
      var grad = gj.loadUnaligned(as: SIMD8<Float>.self)
      if wd != 0 { grad = grad + wd * pv }
      let mOld = mr.loadUnaligned(as: SIMD8<Float>.self), vOld = vr.loadUnaligned(as: SIMD8<Float>.self)
      let mNew = mOld + b1 * (grad - mOld)
      let vNew = b2 * vOld + c2 * grad * grad
      mr.storeBytes(of: mNew, as: SIMD8<Float>.self)
      vr.storeBytes(of: vNew, as: SIMD8<Float>.self)
      pj.storeBytes(of: pv + negativeStepSize * mNew / (vNew.squareRoot() / correction2Root + eps), as: SIMD8<Float>.self)
      j += lanes
    }
    for j in body..<n {
      let grad = wd == 0 ? g[j] : g[j] + wd * p[j]
      let mj = mp[j] + b1 * (grad - mp[j])
      let vj = b2 * vp[j] + c2 * grad * grad
      mp[j] = mj
      vp[j] = vj
      p[j] += negativeStepSize * mj / (vj.squareRoot() / correction2Root + eps)
    }
  }
}
