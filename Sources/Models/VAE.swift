import NN
import Tensor

/// Convolutional VAE whose decoder is a DCGAN generator, so unlearning treats it exactly like a GAN.
///
/// Encoder (`encoder`): Conv(c, e0, 4, 2, 1) LeakyReLU(0.2), [Conv(ei, ei+1, 4, 2, 1) BN LeakyReLU(0.2)]*,
/// Flatten; then `mu` and `logvar` = Linear(·, nz). Decoder: ``DCGANGenerator``.
/// The file stores the encoder part under `/encoder` (keys "encoder.0.weight", "mu.weight", …) and the
/// decoder under `/generator`.
public final class VAEEncoder: Layer {
  public let encoder: Sequential
  public let mu: Linear
  public let logvar: Linear
  public let latentDim: Int
  private var meanOut: Tensor?
  private var logvarOut: Tensor?
  private var dFeatures: Tensor?

  public init(_ a: Architecture) {
    let e = a.encoderWidths!
    var layers: [Layer] = [
      Conv2d(inChannels: a.channels, outChannels: e[0], kernelSize: 4, stride: 2, padding: 1, bias: true),
      LeakyReLU(negativeSlope: 0.2),
    ]
    for i in 0..<(e.count - 1) {
      layers += [
        Conv2d(inChannels: e[i], outChannels: e[i + 1], kernelSize: 4, stride: 2, padding: 1, bias: true),
        BatchNorm2d(channels: e[i + 1]), LeakyReLU(negativeSlope: 0.2),
      ]
    }
    (layers[0] as! Conv2d).needsInputGradient = false
    layers.append(Flatten())
    encoder = Sequential(layers)
    let s = a.outputSize >> e.count
    mu = Linear(inFeatures: e.last! * s * s, outFeatures: a.latentDim!, bias: true)
    logvar = Linear(inFeatures: e.last! * s * s, outFeatures: a.latentDim!, bias: true)
    latentDim = a.latentDim!
  }

  public var children: [(String, Layer)] { [("encoder", encoder), ("mu", mu), ("logvar", logvar)] }

  /// Returns the means [N, nz]; `lastLogVariance` holds the log-variances of the same call.
  public func forward(_ x: Tensor) -> Tensor {
    let h = encoder.forward(x)
    let m = mu.forward(h)
    let lv = logvar.forward(h)
    meanOut = m
    logvarOut = lv
    return m
  }

  /// Log-variances [N, nz] of the last forward.
  public var lastLogVariance: Tensor { logvarOut! }

  /// Backward for the mean only (the `Layer` requirement); use ``backward(dMean:dLogVariance:)`` for both.
  public func backward(_ dOutput: Tensor) -> Tensor {
    encoder.backward(mu.backward(dOutput))
  }

  /// Backward through both heads; the encoder trunk receives the sum of both gradients.
  public func backward(dMean: Tensor, dLogVariance: Tensor) -> Tensor {
    let a = mu.backward(dMean)
    let d = Tensor.reuse(dFeatures, shape: a.shape)
    dFeatures = d
    d.copy(from: a)
    let b = logvar.backward(dLogVariance)
    Elementwise.axpy(1, b.pointer, d.pointer, d.count)
    return encoder.backward(d)
  }
}
