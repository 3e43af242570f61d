import NN
import Tensor

/// Small MNIST-style CNN. `features`: [Conv(c, w0, 3, 1, 1) ReLU MaxPool2]* Flatten Linear(·, hidden) ReLU;
/// `head`: Linear(hidden, classes). The `features` output is the FID feature space; softmax of the logits
/// gives labels and the Inception Score.
/// Input [N, C, S, S] in [−1, 1]; output logits [N, classes].
public final class Classifier: Layer {
  public let features: Sequential
  public let head: Linear
  public let featureCount: Int
  public let classCount: Int

  public init(_ a: Architecture) {
    var layers: [Layer] = []
    var c = a.channels, s = a.imageSize!
    for w in a.widths {
      layers += [Conv2d(inChannels: c, outChannels: w, kernelSize: 3, stride: 1, padding: 1, bias: true), ReLU(), MaxPool2d(kernelSize: 2)]
      c = w
      s /= 2
    }
    (layers[0] as! Conv2d).needsInputGradient = false
    layers += [Flatten(), Linear(inFeatures: c * s * s, outFeatures: a.hidden!, bias: true), ReLU()]
    features = Sequential(layers)
    head = Linear(inFeatures: a.hidden!, outFeatures: a.classes!, bias: true)
    featureCount = a.hidden!
    classCount = a.classes!
  }

  public var children: [(String, Layer)] { [("features", features), ("head", head)] }

  /// Whether backward should produce dImages (needed by the gradient attack).
  public var needsInputGradient: Bool {
    get { (features.layers[0] as! Conv2d).needsInputGradient }
    set { (features.layers[0] as! Conv2d).needsInputGradient = newValue }
  }

  public func forward(_ x: Tensor) -> Tensor { head.forward(features.forward(x)) }
  public func backward(_ dOutput: Tensor) -> Tensor { features.backward(head.backward(dOutput)) }

  /// The hidden-layer activations [N, hidden] (call `forward` for logits; this stops before the head).
  public func embed(_ x: Tensor) -> Tensor { features.forward(x) }
}
