import IO
import Models
import NN
import Tensor
import TestSupport
import Testing

/// Architecture JSON, state_dict names and shapes (the model-file contract, DESIGN.md §4) and parameter counts.
@Suite struct ModelStructureTests {
  @Test(arguments: ["dcgan28", "dcgan64", "vae28", "classifier28"]) func presetJSONRoundTrips(_ name: String) throws {
    let preset = try #require(Architecture.presets[name])
    let parsed = try Architecture.parse(preset.json)
    #expect(parsed == preset)
    #expect(parsed.json == preset.json)
  }

  /// The twins' JSON as written by the Python tools (insertion-ordered keys) parses to the expected values.
  @Test func parsesFixtureArchitectures() throws {
    let dcgan = try Architecture.parse(
      #"{"family":"dcgan","latent_dim":100,"channels":1,"base_size":7,"widths":[10,6]}"#)
    #expect(dcgan == Architecture(family: "dcgan", latentDim: 100, channels: 1, baseSize: 7, widths: [10, 6]))
    #expect(dcgan.outputSize == 28)
    let vae = try Architecture.parse(
      #"{"family":"vae","latent_dim":16,"channels":1,"base_size":7,"widths":[16,8],"encoder_widths":[8,16]}"#)
    #expect(vae.encoderWidths == [8, 16] && vae.latentDim == 16 && vae.outputSize == 28)
    let classifier = try Architecture.parse(
      #"{"family":"classifier","channels":1,"image_size":28,"widths":[8,16],"hidden":32,"classes":10}"#)
    #expect(classifier.imageSize == 28 && classifier.hidden == 32 && classifier.classes == 10)
    #expect(classifier.outputSize == 28)
    #expect(Architecture.dcgan64.outputSize == 64)
  }

  @Test(arguments: [
    (#"{"family":"stylegan","channels":1,"widths":[4]}"#, "unknown family"),
    (#"{"family":"dcgan","latent_dim":100,"channels":1,"base_size":7,"widths":[]}"#, "widths"),
    (#"{"family":"dcgan","latent_dim":100,"channels":1,"base_size":7,"widths":[256,0]}"#, "widths"),
    (#"{"family":"dcgan","latent_dim":100,"channels":1,"base_size":7,"widths":[256,-3]}"#, "widths"),
    (#"{"family":"dcgan","channels":1,"base_size":7,"widths":[256,128]}"#, "latent_dim"),
    (#"{"family":"dcgan","latent_dim":100,"channels":1,"widths":[256,128]}"#, "base_size"),
    (#"{"family":"dcgan","latent_dim":100,"channels":0,"base_size":7,"widths":[256,128]}"#, "channels"),
    (#"{"family":"vae","latent_dim":16,"channels":1,"base_size":7,"widths":[128,64]}"#, "encoder_widths"),
    (#"{"family":"classifier","channels":1,"image_size":30,"widths":[32,64],"hidden":128,"classes":10}"#, "image_size"),
    (#"{"family":"classifier","channels":1,"image_size":28,"widths":[32,64],"hidden":128,"classes":1}"#, "classes"),
    (#"{"family":"dcgan","latent_dim":100,"channels":1,"base_size":7,"widths":"wide"}"#, "not valid architecture JSON"),
    (#"{"family":"dcgan","#, "not valid architecture JSON"),
    (#"{"channels":1,"widths":[4]}"#, "not valid architecture JSON"),
  ])
  func rejectsBadArchitectures(_ json: String, _ message: String) {
    let error = #expect(throws: ModelError.self) { try Architecture.parse(json) }
    let text = error.map { "\($0)" } ?? ""
    #expect(text.contains(message), "\(json): \(text)")
  }

  // MARK: state_dict keys and shapes

  /// PyTorch's BatchNorm2d state_dict entries for `prefix` with `c` channels.
  static func batchNorm(_ prefix: String, _ c: Int) -> [String: [Int]] {
    [
      "\(prefix).weight": [c], "\(prefix).bias": [c], "\(prefix).running_mean": [c], "\(prefix).running_var": [c],
      "\(prefix).num_batches_tracked": [1],
    ]
  }

  static func shapes(_ net: Layer) -> [String: [Int]] { net.stateDict().mapValues(\.shape) }

  @Test func dcgan28Keys() {
    var generator: [String: [Int]] = [
      "main.0.weight": [100, 256, 7, 7], "main.3.weight": [256, 128, 4, 4], "main.6.weight": [128, 1, 4, 4],
    ]
    generator.merge(Self.batchNorm("main.1", 256)) { a, _ in a }
    generator.merge(Self.batchNorm("main.4", 128)) { a, _ in a }
    #expect(Self.shapes(DCGANGenerator(.dcgan28)) == generator)
    // Parameters first, in module order (the order of flat buffers and of the optimizer state).
    #expect(
      DCGANGenerator(.dcgan28).namedParameters().map(\.0) == [
        "main.0.weight", "main.1.weight", "main.1.bias", "main.3.weight", "main.4.weight", "main.4.bias",
        "main.6.weight",
      ])

    var discriminator: [String: [Int]] = [
      "main.0.weight": [128, 1, 4, 4], "main.2.weight": [256, 128, 4, 4], "main.5.weight": [1, 256, 7, 7],
    ]
    discriminator.merge(Self.batchNorm("main.3", 256)) { a, _ in a }
    #expect(Self.shapes(DCGANDiscriminator(.dcgan28)) == discriminator)
  }

  @Test func dcgan64Keys() {
    var generator: [String: [Int]] = [
      "main.0.weight": [100, 512, 4, 4], "main.3.weight": [512, 256, 4, 4], "main.6.weight": [256, 128, 4, 4],
      "main.9.weight": [128, 64, 4, 4], "main.12.weight": [64, 3, 4, 4],
    ]
    for (i, c) in [(1, 512), (4, 256), (7, 128), (10, 64)] {
      generator.merge(Self.batchNorm("main.\(i)", c)) { a, _ in a }
    }
    #expect(Self.shapes(DCGANGenerator(.dcgan64)) == generator)

    var discriminator: [String: [Int]] = [
      "main.0.weight": [64, 3, 4, 4], "main.2.weight": [128, 64, 4, 4], "main.5.weight": [256, 128, 4, 4],
      "main.8.weight": [512, 256, 4, 4], "main.11.weight": [1, 512, 4, 4],
    ]
    for (i, c) in [(3, 128), (6, 256), (9, 512)] { discriminator.merge(Self.batchNorm("main.\(i)", c)) { a, _ in a } }
    #expect(Self.shapes(DCGANDiscriminator(.dcgan64)) == discriminator)
  }

  @Test func classifierAndVAEKeys() {
    #expect(
      Self.shapes(Classifier(.classifier28)) == [
        "features.0.weight": [32, 1, 3, 3], "features.0.bias": [32], "features.3.weight": [64, 32, 3, 3],
        "features.3.bias": [64], "features.7.weight": [128, 64 * 7 * 7], "features.7.bias": [128],
        "head.weight": [10, 128], "head.bias": [10],
      ])
    var encoder: [String: [Int]] = [
      "encoder.0.weight": [32, 1, 4, 4], "encoder.0.bias": [32], "encoder.2.weight": [64, 32, 4, 4],
      "encoder.2.bias": [64], "mu.weight": [16, 64 * 7 * 7], "mu.bias": [16], "logvar.weight": [16, 64 * 7 * 7],
      "logvar.bias": [16],
    ]
    encoder.merge(Self.batchNorm("encoder.3", 64)) { a, _ in a }
    #expect(Self.shapes(VAEEncoder(.vae28)) == encoder)
  }

  // MARK: Parameter counts

  static func trainable(_ net: Layer) -> Int { net.namedParameters().reduce(0) { $0 + $1.1.value.count } }

  /// Trainable parameters of a DCGAN generator from its layer shapes: the first transposed convolution
  /// nz·w0·b², each further one w_i·w_{i+1}·4², the last w_last·c·4², and γ, β of every BatchNorm.
  static func dcganGeneratorCount(_ a: Architecture) -> Int {
    let w = a.widths
    let b = a.baseSize!
    var n = a.latentDim! * w[0] * b * b + w.last! * a.channels * 16 + 2 * w.reduce(0, +)
    for i in 0..<(w.count - 1) { n += w[i] * w[i + 1] * 16 }
    return n
  }

  @Test func parameterCounts() {
    let g28 = DCGANGenerator(.dcgan28)
    #expect(Self.dcganGeneratorCount(.dcgan28) == 1_781_504)
    #expect(Self.trainable(g28) == 1_781_504)
    // With the BatchNorm running statistics (not num_batches_tracked): the floats a model file stores.
    let stored = g28.namedBuffers().filter { !$0.0.hasSuffix("num_batches_tracked") }.reduce(0) { $0 + $1.1.count }
    #expect(Self.trainable(g28) + stored == 1_782_272)

    // The PyTorch DCGAN tutorial's published sizes.
    #expect(Self.dcganGeneratorCount(.dcgan64) == 3_576_704)
    #expect(Self.trainable(DCGANGenerator(.dcgan64)) == 3_576_704)
    #expect(Self.trainable(DCGANDiscriminator(.dcgan64)) == 2_765_568)

    // dcgan28 discriminator: 128·1·16 + 256·128·16 + 2·256 + 1·256·49.
    #expect(Self.trainable(DCGANDiscriminator(.dcgan28)) == 2048 + 524_288 + 512 + 12_544)
    // Classifier: (1·32·9 + 32) + (32·64·9 + 64) + (3136·128 + 128) + (128·10 + 10).
    #expect(Self.trainable(Classifier(.classifier28)) == 421_642)
    // VAE encoder: (32·16 + 32) + (64·32·16 + 64) + 2·64 + 2·(3136·16 + 16); decoder as a DCGAN generator.
    #expect(Self.trainable(VAEEncoder(.vae28)) == 133_888)
    #expect(Self.trainable(DCGANGenerator(.vae28)) == Self.dcganGeneratorCount(.vae28))
    #expect(Self.dcganGeneratorCount(.vae28) == 232_832)
  }

  // MARK: Shapes through the networks

  @Test func forwardShapes() {
    let z = Tensor(shape: [3, 100])
    let g = DCGANGenerator(.dcgan28)
    g.setMode(.inference)
    #expect(g.forward(z).shape == [3, 1, 28, 28])
    #expect(g.forward(Tensor(shape: [2, 100, 1, 1])).shape == [2, 1, 28, 28])
    let d = DCGANDiscriminator(.dcgan28)
    d.setMode(.inference)
    #expect(d.forward(Tensor(shape: [3, 1, 28, 28])).shape == [3, 1])
    let c = Classifier(.classifier28)
    #expect(c.forward(Tensor(shape: [2, 1, 28, 28])).shape == [2, 10])
    #expect(c.embed(Tensor(shape: [2, 1, 28, 28])).shape == [2, 128])
    let e = VAEEncoder(.vae28)
    e.setMode(.inference)
    #expect(e.forward(Tensor(shape: [2, 1, 28, 28])).shape == [2, 16])
    #expect(e.lastLogVariance.shape == [2, 16])
  }

  /// Every fixture is a valid model file whose architecture builds networks with exactly the stored keys and
  /// shapes (the `/parity` group is not a network).
  @Test(arguments: ["models_dcgan28.h5", "models_dcgan64.h5", "models_classifier28.h5", "models_vae28.h5"])
  func fixturesAreModelFiles(_ name: String) throws {
    let model = try ModelFile.read(fixturePath(name))
    let a = try Architecture.parse(model.architecture)
    #expect(model.groups["parity"] == nil)
    for (group, tensors) in model.groups {
      let net: Layer
      switch group {
      case "generator": net = DCGANGenerator(a)
      case "discriminator": net = DCGANDiscriminator(a)
      case "classifier": net = Classifier(a)
      case "encoder": net = VAEEncoder(a)
      default:
        Issue.record("\(name): unexpected group \(group)")
        continue
      }
      #expect(tensors.mapValues(\.shape) == Self.shapes(net), "\(name) /\(group)")
    }
  }
}
