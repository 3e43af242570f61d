import IO
import NN
import Tensor
import TestSupport
import Testing

/// Every case of `Tests/Fixtures/layers.h5` (PyTorch forward and backward of single layers): the layer is built
/// from the group's attributes, loaded with `weights/`, run forward on `input` and backward on `dOutput`.
@Suite("Parity: layers.h5") struct ParityLayerTests {
  static let cases = [
    "linear", "conv2d_k3s1p1", "conv2d_k4s2p1", "conv_transpose2d_k4s2p1", "conv_transpose2d_k4s2p1_bias",
    "conv_transpose2d_k7s1p0", "batchnorm2d_train", "batchnorm2d_eval", "relu", "leaky_relu", "tanh", "sigmoid",
    "maxpool2d", "maxpool2d_odd", "flatten",
  ]

  @Test func casesCoverTheFile() throws {
    let file = try HDF5File.open(fixturePath("layers.h5"))
    defer { file.close() }
    #expect(try file.members(of: "/") == Self.cases.sorted())
  }

  @Test(arguments: cases) func layer(_ name: String) throws {
    let file = try HDF5File.open(fixturePath("layers.h5"))
    defer { file.close() }
    let g = "/" + name
    let layer = try Self.makeLayer(name, file)
    if file.exists(g + "/weights") { try loadState(file, g + "/weights", into: layer, label: name) }
    let mode = try file.stringAttribute("mode", of: g)
    layer.setMode(mode == "train" ? .training : .inference)
    layer.zeroGradients()

    let output = layer.forward(try file.readFloats(g + "/input"))
    var worst = assertClose(output, try file.readFloats(g + "/output"), rtol: 1e-5, atol: 1e-6, "\(name) output")
    let gradientTolerance: Float = mode == "train" ? 1e-3 : 1e-4
    let dInput = layer.backward(try file.readFloats(g + "/dOutput"))
    worst = max(
      worst, assertClose(dInput, try file.readFloats(g + "/dInput"), rtol: gradientTolerance, "\(name) dInput"))

    let parameters = Dictionary(uniqueKeysWithValues: layer.namedParameters())
    let gradientKeys = try file.members(of: g + "/grads")
    #expect(gradientKeys == parameters.keys.sorted(), "\(name): parameters vs fixture gradients")
    for key in gradientKeys {
      guard let p = parameters[key] else { continue }
      worst = max(
        worst,
        assertClose(p.grad, try file.readFloats("\(g)/grads/\(key)"), rtol: gradientTolerance, "\(name) grads/\(key)"))
    }

    if file.exists(g + "/state_after") {
      let state = layer.stateDict()
      for key in try file.members(of: g + "/state_after") {
        let expected = try file.readFloats("\(g)/state_after/\(key)")
        guard let actual = state[key] else {
          Issue.record("\(name): no buffer \(key)")
          continue
        }
        if expected.shape.isEmpty { expected.reshape([1]) }
        worst = max(worst, assertClose(actual, expected, rtol: 1e-5, atol: 1e-6, "\(name) state_after/\(key)"))
      }
    }
    print("parity layers.h5 \(name): worst |Δ|/max|ref| = \(worst)")
  }

  /// The layer described by the group's attributes (docs/FIXTURES.md, layers.h5).
  static func makeLayer(_ name: String, _ file: HDF5File) throws -> Layer {
    let g = "/" + name
    func int(_ attribute: String) throws -> Int { Int(try file.int64Attribute(attribute, of: g)) }
    func float(_ attribute: String) throws -> Float { Float(try file.doubleAttribute(attribute, of: g)) }
    switch name {
    case "linear":
      return Linear(
        inFeatures: try int("in_features"), outFeatures: try int("out_features"), bias: try int("bias") != 0)
    case _ where name.hasPrefix("conv2d"):
      return Conv2d(
        inChannels: try int("in_channels"), outChannels: try int("out_channels"), kernelSize: try int("kernel_size"),
        stride: try int("stride"), padding: try int("padding"), bias: try int("bias") != 0)
    case _ where name.hasPrefix("conv_transpose2d"):
      return ConvTranspose2d(
        inChannels: try int("in_channels"), outChannels: try int("out_channels"), kernelSize: try int("kernel_size"),
        stride: try int("stride"), padding: try int("padding"), bias: try int("bias") != 0)
    case _ where name.hasPrefix("batchnorm2d"):
      return BatchNorm2d(channels: try int("num_features"), eps: try float("eps"), momentum: try float("momentum"))
    case "relu": return ReLU()
    case "leaky_relu": return LeakyReLU(negativeSlope: try float("negative_slope"))
    case "tanh": return Tanh()
    case "sigmoid": return Sigmoid()
    case _ where name.hasPrefix("maxpool2d"):
      return MaxPool2d(kernelSize: try int("kernel_size"), stride: try int("stride"))
    case "flatten": return Flatten()
    default:
      Issue.record("layers.h5: unknown case \(name)")
      return Flatten()
    }
  }
}

/// Copies every dataset of the fixture group `group` into the layer's `state_dict` tensor of the same key,
/// checking that the key sets and element counts agree (0-d `num_batches_tracked` goes into the `[1]` buffer).
func loadState(_ file: HDF5File, _ group: String, into layer: Layer, label: String) throws {
  let state = layer.stateDict()
  let keys = try file.members(of: group)
  #expect(keys == state.keys.sorted(), "\(label): state_dict keys vs fixture weights")
  for key in keys {
    let source = try file.readFloats("\(group)/\(key)")
    guard let destination = state[key] else { continue }
    let shape = source.shape.isEmpty ? [1] : source.shape
    guard shape == destination.shape else {
      Issue.record("\(label): \(key) has shape \(destination.shape), fixture \(source.shape)")
      continue
    }
    destination.pointer.update(from: source.pointer, count: source.count)
  }
}
