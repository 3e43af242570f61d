import NN
import Tensor

/// The PyTorch DCGAN tutorial generator (`nn.Sequential` named `main`):
/// ConvT(nz, w0, b, 1, 0) BN ReLU, [ConvT(wi, wi+1, 4, 2, 1) BN ReLU]*, ConvT(wlast, c, 4, 2, 1) Tanh,
/// all without bias. Input z: [N, nz]; output [N, c, b·2^k, b·2^k] in [−1, 1].
public final class DCGANGenerator: Layer {
  public let main: Sequential
  public let latentDim: Int
  public let outputShape: [Int]  // [C, H, W]
  /// Use the batch-last fast path (``GeneratorEngine``) whenever every BatchNorm is in inference mode.
  public var usesFastPath = true
  /// Forward keeps nothing for backward (frozen copies such as the unlearning run's f); fast path only.
  public var forwardOnly = false
  /// Samples per block of the fast path (0: automatic).
  public var batchBlock: Int {
    get { engine?.preferredBlock ?? 0 }
    set { engine?.preferredBlock = newValue }
  }
  /// When set, the fast path times its kernels into it.
  public var profile: GeneratorProfile? {
    get { engine?.profile }
    set { engine?.profile = newValue }
  }
  /// Bytes of activations and workspaces the fast path holds (0 before its first forward).
  public var fastPathWorkspaceBytes: Int { engine?.workspaceBytes ?? 0 }
  private var zView: Tensor?
  private let engine: GeneratorEngine?
  /// Whether the last forward ran on the fast path (backward must take the same one).
  private var engineForward = false

  public init(_ a: Architecture) {
    let nz = a.latentDim!, b = a.baseSize!, w = a.widths
    var layers: [Layer] = []
    let first = ConvTranspose2d(inChannels: nz, outChannels: w[0], kernelSize: b, stride: 1, padding: 0, bias: false)
    first.needsInputGradient = false
    layers += [first, BatchNorm2d(channels: w[0]), ReLU()]
    for i in 0..<(w.count - 1) {
      layers += [
        ConvTranspose2d(inChannels: w[i], outChannels: w[i + 1], kernelSize: 4, stride: 2, padding: 1, bias: false),
        BatchNorm2d(channels: w[i + 1]), ReLU(),
      ]
    }
    layers += [ConvTranspose2d(inChannels: w.last!, outChannels: a.channels, kernelSize: 4, stride: 2, padding: 1, bias: false), Tanh()]
    main = Sequential(layers)
    latentDim = nz
    outputShape = [a.channels, a.outputSize, a.outputSize]
    engine = GeneratorEngine(main: main, latentDim: nz)
  }

  public var children: [(String, Layer)] { [("main", main)] }

  /// Whether backward should produce dz (needed by attacks that optimise the latent).
  public var needsInputGradient: Bool {
    get { (main.layers[0] as! ConvTranspose2d).needsInputGradient }
    set { (main.layers[0] as! ConvTranspose2d).needsInputGradient = newValue }
  }

  /// z: [N, nz] (or [N, nz, 1, 1]) → images [N, C, H, W].
  public func forward(_ z: Tensor) -> Tensor {
    let n = z.shape[0]
    precondition(z.count == n * latentDim, "latent shape \(z.shape) does not match latent_dim \(latentDim)")
    if usesFastPath, let engine, engine.applies {
      engineForward = true
      return engine.forward(z.pointer, batch: n, retain: !forwardOnly)
    }
    engineForward = false
    let view = Tensor(viewing: z.pointer, shape: [n, latentDim, 1, 1], owner: z)
    zView = view
    return main.forward(view)
  }

  /// dImages → dz [N, nz] (empty unless `needsInputGradient`).
  public func backward(_ dOutput: Tensor) -> Tensor {
    if engineForward, let engine { return engine.backward(dOutput, inputGradient: needsInputGradient) }
    let d = main.backward(dOutput)
    if d.count > 0 { d.reshape([d.shape[0], latentDim]) }
    return d
  }
}

/// DCGAN discriminator mirroring the generator (`main`):
/// Conv(c, wlast, 4, 2, 1) LeakyReLU(0.2), [Conv(wi, wi−1, 4, 2, 1) BN LeakyReLU(0.2)]*, Conv(w0, 1, b, 1, 0).
/// No final Sigmoid: it returns logits [N, 1], trained with BCE-with-logits (the tutorial's Sigmoid has no
/// parameters, so state_dict keys are unchanged).
public final class DCGANDiscriminator: Layer {
  public let main: Sequential

  public init(_ a: Architecture) {
    let w = Array(a.widths.reversed()), b = a.baseSize!
    var layers: [Layer] = [
      Conv2d(inChannels: a.channels, outChannels: w[0], kernelSize: 4, stride: 2, padding: 1, bias: false),
      LeakyReLU(negativeSlope: 0.2),
    ]
    for i in 0..<(w.count - 1) {
      layers += [
        Conv2d(inChannels: w[i], outChannels: w[i + 1], kernelSize: 4, stride: 2, padding: 1, bias: false),
        BatchNorm2d(channels: w[i + 1]), LeakyReLU(negativeSlope: 0.2),
      ]
    }
    layers.append(Conv2d(inChannels: w.last!, outChannels: 1, kernelSize: b, stride: 1, padding: 0, bias: false))
    main = Sequential(layers)
  }

  public var children: [(String, Layer)] { [("main", main)] }

  /// images [N, C, H, W] → logits [N, 1].
  public func forward(_ x: Tensor) -> Tensor {
    let y = main.forward(x)
    y.reshape([y.shape[0], 1])
    return y
  }

  public func backward(_ dOutput: Tensor) -> Tensor {
    let d = Tensor(viewing: dOutput.pointer, shape: [dOutput.shape[0], 1, 1, 1], owner: dOutput)
    return main.backward(d)
  }
}
