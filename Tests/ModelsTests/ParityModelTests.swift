import IO
import Models
import NN
import Tensor
import TestSupport
import Testing

/// The networks of `Tests/Fixtures/models_*.h5` (narrow twins of the real models, docs/FIXTURES.md) against
/// PyTorch: built from the file's `architecture`, loaded from its network group, run forward on
/// `/parity/<network>/<mode>/input` and backward on `dOutput` (loss = Σ output · dOutput).
@Suite("Parity: models_*.h5") struct ParityModelTests {
  /// A fixture opened both as a model file and as raw HDF5 for its `/parity` group.
  struct Fixture {
    let model: ModelFile
    let architecture: Architecture
    let file: HDF5File

    init(_ name: String) throws {
      let path = fixturePath(name)
      model = try ModelFile.read(path)
      architecture = try Architecture.parse(model.architecture)
      file = try HDF5File.open(path)
    }

    /// Builds the network, loads the group's weights, sets the mode and zeroes the gradients.
    func network<N: Layer>(_ group: String, mode: String, _ make: (Architecture) -> N) throws -> N {
      let net = make(architecture)
      let weights = try #require(model.groups[group], "no group /\(group)")
      loadStateDict(weights, into: net, group)
      net.setMode(mode == "train" ? .training : .inference)
      net.zeroGradients()
      return net
    }

    func read(_ path: String) throws -> Tensor { try file.readFloats(path) }

    /// Compares every `grads/<key>` with the network's parameter gradients and, if present, every
    /// `state_after/<key>` with its buffers; returns the worst relative error.
    func compareGradientsAndState(_ net: Layer, _ group: String, gradientTolerance: Float, _ label: String) throws
      -> Double
    {
      var worst = 0.0
      let parameters = Dictionary(uniqueKeysWithValues: net.namedParameters())
      let keys = try file.members(of: group + "/grads")
      #expect(keys == parameters.keys.sorted(), "\(label): parameters vs fixture gradients")
      for key in keys {
        guard let p = parameters[key] else { continue }
        worst = max(
          worst,
          assertClose(p.grad, try read("\(group)/grads/\(key)"), rtol: gradientTolerance, "\(label) grads/\(key)"))
      }
      guard file.exists(group + "/state_after") else { return worst }
      let buffers = Dictionary(uniqueKeysWithValues: net.namedBuffers())
      let stateKeys = try file.members(of: group + "/state_after")
      #expect(stateKeys == buffers.keys.sorted(), "\(label): buffers vs fixture state_after")
      for key in stateKeys {
        guard let b = buffers[key] else { continue }
        let expected = try read("\(group)/state_after/\(key)")
        if expected.shape.isEmpty { expected.reshape([1]) }
        worst = max(worst, assertClose(b, expected, rtol: 1e-5, atol: 1e-6, "\(label) state_after/\(key)"))
      }
      return worst
    }
  }

  /// docs/FIXTURES.md suggestions: gradients 1e-4 of the tensor's largest magnitude, 1e-3 with train-mode BN.
  static func gradientTolerance(_ mode: String) -> Float { mode == "train" ? 1e-3 : 1e-4 }

  @Test(arguments: [("models_dcgan28.h5", "eval"), ("models_dcgan28.h5", "train"), ("models_dcgan64.h5", "eval")])
  func generator(_ name: String, _ mode: String) throws {
    let fixture = try Fixture(name)
    defer { fixture.file.close() }
    let g = "/parity/generator/\(mode)"
    let label = "\(name) generator/\(mode)"
    let net = try fixture.network("generator", mode: mode, DCGANGenerator.init)
    net.needsInputGradient = true

    let input = try fixture.read(g + "/input")
    #expect(input.shape.count == 4 && input.shape[1] == net.latentDim)
    let output = net.forward(input)
    var worst = assertClose(output, try fixture.read(g + "/output"), rtol: 1e-5, atol: 1e-6, "\(label) output")
    let dInput = net.backward(try fixture.read(g + "/dOutput"))
    let expected = try fixture.read(g + "/dInput")
    expected.reshape([expected.shape[0], net.latentDim])  // (N, nz, 1, 1) → the generator's [N, nz]
    let tolerance = Self.gradientTolerance(mode)
    worst = max(worst, assertClose(dInput, expected, rtol: tolerance, "\(label) dInput"))
    worst = max(worst, try fixture.compareGradientsAndState(net, g, gradientTolerance: tolerance, label))
    print("parity \(label): worst |Δ|/max|ref| = \(worst)")
  }

  @Test(arguments: ["eval", "train"]) func discriminator(_ mode: String) throws {
    let fixture = try Fixture("models_dcgan28.h5")
    defer { fixture.file.close() }
    let g = "/parity/discriminator/\(mode)"
    let label = "models_dcgan28.h5 discriminator/\(mode)"
    let net = try fixture.network("discriminator", mode: mode, DCGANDiscriminator.init)

    let output = net.forward(try fixture.read(g + "/input"))
    let expected = try fixture.read(g + "/output")
    expected.reshape([expected.shape[0], 1])  // (N, 1, 1, 1) → the discriminator's logits [N, 1]
    var worst = assertClose(output, expected, rtol: 1e-5, atol: 1e-6, "\(label) output")
    let dInput = net.backward(try fixture.read(g + "/dOutput"))
    let tolerance = Self.gradientTolerance(mode)
    worst = max(worst, assertClose(dInput, try fixture.read(g + "/dInput"), rtol: tolerance, "\(label) dInput"))
    worst = max(worst, try fixture.compareGradientsAndState(net, g, gradientTolerance: tolerance, label))
    print("parity \(label): worst |Δ|/max|ref| = \(worst)")
  }

  @Test func classifier() throws {
    let fixture = try Fixture("models_classifier28.h5")
    defer { fixture.file.close() }
    let g = "/parity/classifier/eval"
    let label = "models_classifier28.h5 classifier/eval"
    let net = try fixture.network("classifier", mode: "eval", Classifier.init)
    net.needsInputGradient = true

    let input = try fixture.read(g + "/input")
    let logits = net.forward(input)
    var worst = assertClose(logits, try fixture.read(g + "/output"), rtol: 1e-5, atol: 1e-6, "\(label) logits")
    let dInput = net.backward(try fixture.read(g + "/dOutput"))
    worst = max(worst, assertClose(dInput, try fixture.read(g + "/dInput"), rtol: 1e-4, "\(label) dInput"))
    worst = max(worst, try fixture.compareGradientsAndState(net, g, gradientTolerance: 1e-4, label))
    let features = net.embed(input)
    #expect(features.shape == [input.shape[0], net.featureCount])
    worst = max(
      worst, assertClose(features, try fixture.read(g + "/features"), rtol: 1e-5, atol: 1e-6, "\(label) features"))
    print("parity \(label): worst |Δ|/max|ref| = \(worst)")
  }

  @Test func vaeEncoder() throws {
    let fixture = try Fixture("models_vae28.h5")
    defer { fixture.file.close() }
    let g = "/parity/encoder/eval"
    let label = "models_vae28.h5 encoder/eval"
    let net = try fixture.network("encoder", mode: "eval", VAEEncoder.init)
    let first = try #require(net.encoder.layers.first as? Conv2d)
    first.needsInputGradient = true  // the encoder's first conv skips dInput by default

    let mu = net.forward(try fixture.read(g + "/input"))
    var worst = assertClose(mu, try fixture.read(g + "/output_mu"), rtol: 1e-5, atol: 1e-6, "\(label) mu")
    worst = max(
      worst,
      assertClose(
        net.lastLogVariance, try fixture.read(g + "/output_logvar"), rtol: 1e-5, atol: 1e-6, "\(label) logvar"))
    let dInput = net.backward(dMean: try fixture.read(g + "/dMu"), dLogVariance: try fixture.read(g + "/dLogvar"))
    worst = max(worst, assertClose(dInput, try fixture.read(g + "/dInput"), rtol: 1e-4, "\(label) dInput"))
    worst = max(worst, try fixture.compareGradientsAndState(net, g, gradientTolerance: 1e-4, label))
    print("parity \(label): worst |Δ|/max|ref| = \(worst)")
  }

  /// The VAE file's decoder group is a DCGAN generator of the same architecture: it must load with exactly
  /// the generator's keys and shapes (no parity values are stored for it).
  @Test func vaeDecoderWeightsLoad() throws {
    let fixture = try Fixture("models_vae28.h5")
    defer { fixture.file.close() }
    #expect(fixture.architecture.family == "vae")
    _ = try fixture.network("generator", mode: "eval", DCGANGenerator.init)
  }
}
