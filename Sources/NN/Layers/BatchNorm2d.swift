import Tensor

/// Batch normalisation over `[N, C, H, W]`, PyTorch `nn.BatchNorm2d` (affine, tracking running statistics),
/// optionally synchronised across data-parallel ranks (PyTorch `nn.SyncBatchNorm`).
///
/// `y = (x − mean) / √(var + eps) · weight + bias` per channel. In `.training` mode mean and biased variance
/// come from the batch (over N, H, W); `running_mean` and `running_var` move towards the batch mean and the
/// *unbiased* batch variance by `momentum`, and `num_batches_tracked` counts the steps. In `.inference` mode
/// the running statistics are used and nothing is updated; gradients still flow to input, weight and bias
/// (with the statistics frozen). Backward reads the input seen by `forward`, which must stay unchanged until
/// then.
///
/// Statistics are accumulated in Double; without a reducer the variance is computed in two passes, exactly
/// like PyTorch's CPU kernel.
public final class BatchNorm2d: Layer {
  public let channels: Int
  public let eps: Float
  public let momentum: Float
  /// `[C]`, starts at 1.
  public let weight: Parameter
  /// `[C]`, starts at 0.
  public let bias: Parameter
  /// `[C]` buffer "running_mean", starts at 0.
  public let runningMean: Tensor
  /// `[C]` buffer "running_var", starts at 1.
  public let runningVar: Tensor
  /// `[1]` buffer "num_batches_tracked": the number of training-mode forwards, as a Float.
  public let numBatchesTracked: Tensor
  public private(set) var mode: LayerMode = .training

  /// Sums a buffer across data-parallel ranks in place (an allreduce SUM); nil for a single process.
  ///
  /// When set, training mode synchronises the batch statistics. Forward packs `2C + 1` floats
  /// `[Σx per channel (C), Σx² per channel (C), local element count N·H·W]`; backward packs `2C` floats
  /// `[Σdy per channel, Σdy·x̂ per channel]`. The layer then normalises with the global mean, variance and
  /// count, so N ranks each holding a slice of the batch compute exactly what one rank with the whole batch
  /// would: the same outputs, the same input gradients, and local weight/bias gradients that *sum* over ranks
  /// to the full-batch ones (the data-parallel gradient allreduce does that sum). Every rank must call it the
  /// same number of times in the same order. Unused in inference mode.
  public var statisticsReducer: ((UnsafeMutableBufferPointer<Float>) -> Void)?

  private var input: Tensor?
  private var forwardMode: LayerMode = .training
  /// Elements per channel behind the statistics (global when reduced).
  private var statisticsCount = 0
  /// `[C]` mean and 1/√(var + eps) used by the last forward.
  private let mean: Tensor
  private let invStd: Tensor
  /// `[2C + 1]` scratch for the reducer.
  private let reduction: Tensor
  /// Per-channel batch mean and biased variance of the last training forward.
  private var batchMean: [Double]
  private var batchVariance: [Double]
  private var output: Tensor?
  private var dInput: Tensor?

  public init(channels: Int, eps: Float = 1e-5, momentum: Float = 0.1) {
    precondition(channels > 0, "BatchNorm2d(\(channels))")
    self.channels = channels
    self.eps = eps
    self.momentum = momentum
    weight = Parameter(shape: [channels])
    weight.value.fill(1)
    bias = Parameter(shape: [channels])
    runningMean = Tensor(shape: [channels])
    runningVar = Tensor(shape: [channels])
    runningVar.fill(1)
    numBatchesTracked = Tensor(shape: [1])
    mean = Tensor(shape: [channels])
    invStd = Tensor(shape: [channels])
    reduction = Tensor(shape: [2 * channels + 1])
    batchMean = [Double](repeating: 0, count: channels)
    batchVariance = [Double](repeating: 0, count: channels)
  }

  public var localParameters: [(String, Parameter)] { [("weight", weight), ("bias", bias)] }
  public var localBuffers: [(String, Tensor)] {
    [("running_mean", runningMean), ("running_var", runningVar), ("num_batches_tracked", numBatchesTracked)]
  }
  public func setMode(_ mode: LayerMode) { self.mode = mode }

  public func forward(_ input: Tensor) -> Tensor {
    precondition(input.shape.count == 4 && input.shape[1] == channels, "BatchNorm2d(\(channels)) got \(input.shape)")
    let (n, c, plane) = (input.shape[0], channels, input.shape[2] * input.shape[3])
    self.input = input
    forwardMode = mode
    let x = UnsafePointer(input.pointer)
    let mu = mean.pointer
    let istd = invStd.pointer
    switch mode {
    case .training:
      batchStatistics(x, batch: n, plane: plane)
      let m = Double(statisticsCount)
      let a = Double(momentum)
      let rm = runningMean.pointer
      let rv = runningVar.pointer
      for ch in 0..<c {
        mu[ch] = Float(batchMean[ch])
        istd[ch] = Float(1 / (batchVariance[ch] + Double(eps)).squareRoot())
        rm[ch] = Float((1 - a) * Double(rm[ch]) + a * batchMean[ch])
        rv[ch] = Float((1 - a) * Double(rv[ch]) + a * batchVariance[ch] * m / (m - 1))
      }
      numBatchesTracked[0] += 1
    case .inference:
      statisticsCount = n * plane
      for ch in 0..<c {
        mu[ch] = runningMean[ch]
        istd[ch] = 1 / (runningVar[ch] + eps).squareRoot()
      }
    }
    let y = Tensor.reuse(output, shape: input.shape)
    output = y
    let w = weight.value.pointer
    let b = bias.value.pointer
    for ch in 0..<c {
      let scale = istd[ch] * w[ch]
      let shift = b[ch] - mu[ch] * scale
      for i in 0..<n {
        let offset = (i * c + ch) * plane
        let src = x + offset
        let dst = y.pointer + offset
        for j in 0..<plane { dst[j] = src[j] * scale + shift }
      }
    }
    return y
  }

  /// Fills `batchMean`, `batchVariance` (biased) and `statisticsCount` from the local batch, or from all
  /// ranks' batches through `statisticsReducer`.
  private func batchStatistics(_ x: UnsafePointer<Float>, batch n: Int, plane: Int) {
    let c = channels
    guard let reduce = statisticsReducer else {
      statisticsCount = n * plane
      precondition(statisticsCount > 1, "BatchNorm2d training needs more than 1 value per channel")
      let m = Double(statisticsCount)
      for ch in 0..<c {
        var s = 0.0
        for i in 0..<n { s += Elementwise.sum(x + (i * c + ch) * plane, plane) }
        let mu = s / m
        var q = 0.0
        for i in 0..<n {
          let p = x + (i * c + ch) * plane
          for j in 0..<plane {
            let d = Double(p[j]) - mu
            q += d * d
          }
        }
        batchMean[ch] = mu
        batchVariance[ch] = q / m
      }
      return
    }
    let r = reduction.pointer
    for ch in 0..<c {
      var s = 0.0
      var q = 0.0
      for i in 0..<n {
        let p = x + (i * c + ch) * plane
        for j in 0..<plane {
          let v = Double(p[j])
          s += v
          q += v * v
        }
      }
      r[ch] = Float(s)
      r[c + ch] = Float(q)
    }
    r[2 * c] = Float(n * plane)
    reduce(UnsafeMutableBufferPointer(start: r, count: 2 * c + 1))
    statisticsCount = Int(r[2 * c].rounded())
    precondition(statisticsCount > 1, "BatchNorm2d training needs more than 1 value per channel (all ranks)")
    let m = Double(statisticsCount)
    for ch in 0..<c {
      let mu = Double(r[ch]) / m
      batchMean[ch] = mu
      batchVariance[ch] = max(Double(r[c + ch]) / m - mu * mu, 0)
    }
  }

  public func backward(_ dOutput: Tensor) -> Tensor {
    guard let input else { preconditionFailure("BatchNorm2d.backward before forward") }
    precondition(dOutput.shape == input.shape, "BatchNorm2d dOutput \(dOutput.shape), expected \(input.shape)")
    let (n, c, plane) = (input.shape[0], channels, input.shape[2] * input.shape[3])
    let x = UnsafePointer(input.pointer)
    let dy = UnsafePointer(dOutput.pointer)
    let mu = mean.pointer
    let istd = invStd.pointer
    let w = weight.value.pointer
    let dw = weight.grad.pointer
    let db = bias.grad.pointer
    let r = reduction.pointer
    // Per channel: Σdy and Σdy·x̂ over the local batch.
    for ch in 0..<c {
      let m = Double(mu[ch])
      let s = Double(istd[ch])
      var sumDy = 0.0
      var sumDyXhat = 0.0
      for i in 0..<n {
        let offset = (i * c + ch) * plane
        let xp = x + offset
        let dyp = dy + offset
        for j in 0..<plane {
          let g = Double(dyp[j])
          sumDy += g
          sumDyXhat += g * (Double(xp[j]) - m) * s
        }
      }
      // Local sums: the gradient allreduce adds the other ranks' parts.
      db[ch] += Float(sumDy)
      dw[ch] += Float(sumDyXhat)
      r[ch] = Float(sumDy)
      r[c + ch] = Float(sumDyXhat)
    }
    let dx = Tensor.reuse(dInput, shape: input.shape)
    dInput = dx
    switch forwardMode {
    case .inference:
      // Frozen statistics: dx = dy · w / √(running_var + eps).
      for ch in 0..<c {
        let scale = istd[ch] * w[ch]
        for i in 0..<n {
          let offset = (i * c + ch) * plane
          let src = dy + offset
          let dst = dx.pointer + offset
          for j in 0..<plane { dst[j] = src[j] * scale }
        }
      }
    case .training:
      if let reduce = statisticsReducer { reduce(UnsafeMutableBufferPointer(start: r, count: 2 * c)) }
      // dx = w/σ · (dy − Σdy/M − x̂ · Σdy·x̂ / M), with M and the sums over the whole (global) batch.
      let m = Float(statisticsCount)
      for ch in 0..<c {
        let s = istd[ch]
        let meanDy = r[ch] / m
        let meanDyXhat = r[c + ch] / m
        let scale = s * w[ch]
        let centre = mu[ch]
        for i in 0..<n {
          let offset = (i * c + ch) * plane
          let xp = x + offset
          let dyp = dy + offset
          let dst = dx.pointer + offset
          for j in 0..<plane {
            let xhat = (xp[j] - centre) * s
            dst[j] = (dyp[j] - meanDy - xhat * meanDyXhat) * scale
          }
        }
      }
    }
    return dx
  }
}
