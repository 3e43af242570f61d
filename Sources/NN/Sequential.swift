import Tensor

/// Layers applied in order; PyTorch `nn.Sequential` (children named "0", "1", ...).
public final class Sequential: Layer {
  public let layers: [Layer]
  /// Called with a layer's index right after its `backward` finished, i.e. once its parameter gradients
  /// are final for this step (used to start gradient allreduces early).
  public var onLayerBackward: ((Int) -> Void)?

  public init(_ layers: [Layer]) { self.layers = layers }

  public var children: [(String, Layer)] { layers.enumerated().map { (String($0.offset), $0.element) } }

  public func forward(_ input: Tensor) -> Tensor {
    var x = input
    for l in layers { x = l.forward(x) }
    return x
  }

  public func backward(_ dOutput: Tensor) -> Tensor {
    var d = dOutput
    for i in layers.indices.reversed() {
      d = layers[i].backward(d)
      onLayerBackward?(i)
    }
    return d
  }
}
