import NN
import Tensor

/// Weight initialisation with a seeded counter-based generator, so a fresh model is identical on every
/// rank without broadcasting it.
public enum Initialization {
  /// DCGAN paper / tutorial: conv weights ~ N(0, 0.02), BatchNorm weight ~ N(1, 0.02), biases 0.
  public static func dcgan(_ layer: Layer, seed: UInt64) {
    var rng = PhiloxGenerator(seed: seed, stream: 1)
    for (name, p) in layer.namedParameters() {
      let isBatchNormWeight = p.value.shape.count == 1 && name.hasSuffix("weight")
      let buf = p.value.buffer
      if name.hasSuffix("bias") {
        p.value.fill(0)
      } else {
        for i in buf.indices { buf[i] = (isBatchNormWeight ? 1 : 0) + 0.02 * rng.nextNormal() }
      }
    }
  }

  /// PyTorch's default for Conv/Linear: weight and bias ~ U(−1/√fan_in, 1/√fan_in).
  public static func pytorchDefault(_ layer: Layer, seed: UInt64) {
    var rng = PhiloxGenerator(seed: seed, stream: 2)
    var fanIn = 1
    for (name, p) in layer.namedParameters() {
      let s = p.value.shape
      if name.hasSuffix("weight") && s.count >= 2 { fanIn = s[1...].reduce(1, *) }
      if s.count == 1 && name.hasSuffix("weight") { p.value.fill(1); continue }  // normalisation layers
      let bound = 1 / Float(fanIn).squareRoot()
      let buf = p.value.buffer
      for i in buf.indices { buf[i] = Float.random(in: -bound..<bound, using: &rng) }
    }
  }
}
