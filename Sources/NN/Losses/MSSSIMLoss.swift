import Tensor

/// Perceptual loss per sample: loss_i = 1 − MS-SSIM(prediction_i, target_i), differentiated with respect to
/// the prediction only (the target is constant). See ``MSSSIM`` for the definition and the options.
///
/// Shapes: prediction and target [N, C, H, W].
public final class MSSSIMLoss: PerSampleLoss {
  private let msssim: MSSSIM
  public var scales: Int { msssim.scales }
  public var weights: [Double] { msssim.weights }

  public init(
    scales: Int, windowSize: Int = 7, sigma: Float = 1.5, inputRange: ClosedRange<Float> = -1...1,
    channelReduction: MSSSIM.ChannelReduction = .afterProduct
  ) {
    msssim = MSSSIM(
      scales: scales, windowSize: windowSize, sigma: sigma, inputRange: inputRange,
      channelReduction: channelReduction)
  }

  public func forward(prediction: Tensor, target: Tensor) -> [Float] {
    msssim.evaluate(prediction, target, keepGradient: true).map { 1 - $0 }
  }

  public func backward(weights: [Float]) -> Tensor { msssim.gradient(sampleWeights: weights, sign: -1) }
}
