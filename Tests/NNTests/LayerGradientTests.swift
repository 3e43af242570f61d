import NN
import Tensor
import Testing

/// Finite-difference checks of every layer's input and parameter gradients.
///
/// Convolutions and Linear are linear in each single input or weight, so central differences with a large
/// step are exact up to rounding and the tolerance is tight; smooth nonlinear layers use a small step.
struct LayerGradientTests {
  /// (Cin, Cout, k, stride, padding, H, W, bias)
  static let convolutionCases: [(Int, Int, Int, Int, Int, Int, Int, Bool)] = [
    (2, 3, 3, 1, 1, 5, 5, true), (2, 3, 4, 2, 1, 8, 8, true), (3, 2, 3, 2, 0, 7, 6, true),
    (2, 2, 1, 1, 0, 3, 4, true), (3, 2, 4, 1, 0, 4, 4, false), (1, 2, 5, 3, 2, 7, 7, true),
  ]

  @Test(arguments: convolutionCases)
  func conv2d(_ c: (Int, Int, Int, Int, Int, Int, Int, Bool)) {
    let (cin, cout, k, s, p, h, w, bias) = c
    let layer = Conv2d(inChannels: cin, outChannels: cout, kernelSize: k, stride: s, padding: p, bias: bias)
    randomiseParameters(layer, seed: 10)
    let x = randomTensor([2, cin, h, w], seed: 11)
    checkGradients(layer, input: x, seed: 12, eps: 0.25, tolerance: 1e-4, label: "Conv2d\(c)")
  }

  /// Includes the DCGAN shapes: k4 s2 p1, k7 s1 p0 and k4 s1 p0 on a 1×1 input.
  static let transposedCases: [(Int, Int, Int, Int, Int, Int, Int, Bool)] = [
    (3, 2, 4, 2, 1, 3, 3, true), (4, 3, 7, 1, 0, 1, 1, false), (5, 2, 4, 1, 0, 1, 1, true),
    (2, 3, 3, 1, 1, 4, 3, true), (2, 2, 3, 2, 0, 3, 3, true), (2, 3, 4, 2, 1, 4, 4, false),
  ]

  @Test(arguments: transposedCases)
  func convTranspose2d(_ c: (Int, Int, Int, Int, Int, Int, Int, Bool)) {
    let (cin, cout, k, s, p, h, w, bias) = c
    let layer = ConvTranspose2d(inChannels: cin, outChannels: cout, kernelSize: k, stride: s, padding: p, bias: bias)
    randomiseParameters(layer, seed: 20)
    let x = randomTensor([2, cin, h, w], seed: 21)
    checkGradients(layer, input: x, seed: 22, eps: 0.25, tolerance: 1e-4, label: "ConvTranspose2d\(c)")
  }

  @Test(arguments: [true, false])
  func linear(bias: Bool) {
    let layer = Linear(inFeatures: 5, outFeatures: 4, bias: bias)
    randomiseParameters(layer, seed: 30)
    checkGradients(layer, input: randomTensor([3, 5], seed: 31), seed: 32, eps: 0.25, tolerance: 1e-4, label: "Linear")
  }

  @Test(arguments: [LayerMode.training, .inference])
  func batchNorm2d(mode: LayerMode) {
    let layer = BatchNorm2d(channels: 3)
    randomiseParameters(layer, seed: 40, scale: 0.5, offset: 1)
    // Running statistics away from their initial values, so inference mode is a real test.
    var g = PhiloxGenerator(seed: 41)
    for c in 0..<3 {
      layer.runningMean[c] = g.nextNormal()
      layer.runningVar[c] = 0.5 + abs(g.nextNormal())
    }
    layer.setMode(mode)
    let x = randomTensor([3, 3, 3, 2], seed: 42, scale: 2)
    for i in 0..<x.count { x[i] += 0.5 }
    checkGradients(layer, input: x, seed: 43, eps: 1e-2, tolerance: 5e-3, label: "BatchNorm2d(\(mode))")
  }

  /// Inputs kept at least 0.1 away from the kink at 0.
  static func awayFromZero(_ shape: [Int], seed: UInt64) -> Tensor {
    let x = randomTensor(shape, seed: seed)
    for i in 0..<x.count { x[i] = x[i] < 0 ? x[i] - 0.1 : x[i] + 0.1 }
    return x
  }

  @Test func relu() {
    checkGradients(
      ReLU(), input: Self.awayFromZero([2, 3, 4, 4], seed: 50), seed: 51, eps: 1e-2, tolerance: 1e-3, label: "ReLU")
  }

  @Test(arguments: [Float(0.01), 0.2])
  func leakyReLU(slope: Float) {
    checkGradients(
      LeakyReLU(negativeSlope: slope), input: Self.awayFromZero([2, 3, 4, 4], seed: 52), seed: 53, eps: 1e-2,
      tolerance: 1e-3, label: "LeakyReLU(\(slope))")
  }

  @Test func tanh() {
    checkGradients(
      Tanh(), input: randomTensor([2, 3, 4, 4], seed: 54), seed: 55, eps: 1e-2, tolerance: 2e-3, label: "Tanh")
  }

  @Test func sigmoid() {
    checkGradients(
      Sigmoid(), input: randomTensor([2, 3, 4, 4], seed: 56, scale: 2), seed: 57, eps: 1e-2, tolerance: 2e-3,
      label: "Sigmoid")
  }

  /// (kernel, stride, H, W): non-overlapping, overlapping (an element can win two windows) and floor mode.
  @Test(arguments: [(2, 2, 6, 6), (3, 2, 7, 7), (2, 2, 5, 7), (3, 1, 5, 4)])
  func maxPool2d(_ c: (Int, Int, Int, Int)) {
    let (k, s, h, w) = c
    // Distinct values 0.1 apart in shuffled order: a step of 1e-2 never changes a window's maximum.
    let count = 2 * 2 * h * w
    var values = (0..<count).map { Float($0) * 0.1 - Float(count) * 0.05 }
    var g = PhiloxGenerator(seed: 60)
    values.shuffle(using: &g)
    let x = Tensor(shape: [2, 2, h, w], values: values)
    checkGradients(
      MaxPool2d(kernelSize: k, stride: s), input: x, seed: 61, eps: 1e-2, tolerance: 1e-3, label: "MaxPool2d\(c)")
  }

  @Test func flattenAndUnflatten() {
    checkGradients(
      Flatten(), input: randomTensor([2, 3, 2, 2], seed: 70), seed: 71, eps: 0.25, tolerance: 1e-5, label: "Flatten")
    checkGradients(
      Unflatten(shape: [3, 2, 2]), input: randomTensor([2, 12], seed: 72), seed: 73, eps: 0.25, tolerance: 1e-5,
      label: "Unflatten")
  }

  /// A DCGAN-like stack, to check that the layers compose (gradients through BN, ReLU, Tanh and both convs).
  /// The small step keeps the ReLU kinks from being crossed by the perturbation.
  @Test func smallGeneratorStack() {
    let net = Sequential([
      ConvTranspose2d(inChannels: 4, outChannels: 3, kernelSize: 3, bias: false), BatchNorm2d(channels: 3), ReLU(),
      ConvTranspose2d(inChannels: 3, outChannels: 2, kernelSize: 4, stride: 2, padding: 1, bias: false), Tanh(),
      Conv2d(inChannels: 2, outChannels: 2, kernelSize: 4, stride: 2, padding: 1), LeakyReLU(negativeSlope: 0.2),
      Flatten(), Linear(inFeatures: 18, outFeatures: 2), Sigmoid(),
    ])
    randomiseParameters(net, seed: 80, scale: 0.5)
    for (name, p) in net.namedParameters() where name == "1.weight" { p.value.fill(1) }
    checkGradients(
      net, input: randomTensor([3, 4, 1, 1], seed: 81), seed: 82, eps: 1e-3, tolerance: 2e-2, label: "stack")
  }
}
