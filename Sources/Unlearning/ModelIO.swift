import Foundation
import IO
import Models
import NN
import Tensor

/// The networks of one model file, built from its architecture and filled with its weights.
public final class LoadedModel {
  public let path: String
  public let architecture: Architecture
  /// The generator (a VAE's decoder), if the file has `/generator`.
  public let generator: DCGANGenerator?
  public let discriminator: DCGANDiscriminator?
  public let encoder: VAEEncoder?
  public let classifier: Classifier?

  public init(
    path: String, architecture: Architecture, generator: DCGANGenerator?, discriminator: DCGANDiscriminator?,
    encoder: VAEEncoder?, classifier: Classifier?
  ) {
    self.path = path
    self.architecture = architecture
    self.generator = generator
    self.discriminator = discriminator
    self.encoder = encoder
    self.classifier = classifier
  }

  /// The generator, or an error naming the file when it has none.
  public func requireGenerator() throws -> DCGANGenerator {
    guard let g = generator else {
      throw UsageError("\(path): no /generator group (architecture family \"\(architecture.family)\")")
    }
    return g
  }

  public func requireClassifier() throws -> Classifier {
    guard let c = classifier else {
      throw UsageError("\(path): no /classifier group (architecture family \"\(architecture.family)\")")
    }
    return c
  }

  /// Every network by file group name.
  public var networks: [(String, Layer)] {
    var n: [(String, Layer)] = []
    if let g = generator { n.append(("generator", g)) }
    if let d = discriminator { n.append(("discriminator", d)) }
    if let e = encoder { n.append(("encoder", e)) }
    if let c = classifier { n.append(("classifier", c)) }
    return n
  }
}

/// Model files (DESIGN.md §4) ↔ networks.
public enum ModelIO {
  /// Fresh networks for an architecture, initialised from `seed` (DCGAN init for GANs and VAE decoders,
  /// PyTorch's default elsewhere).
  public static func build(_ a: Architecture, seed: UInt64, withDiscriminator: Bool = true, path: String = "<new>")
    -> LoadedModel
  {
    switch a.family {
    case "dcgan":
      let g = DCGANGenerator(a)
      Initialization.dcgan(g, seed: seed)
      let d = withDiscriminator ? DCGANDiscriminator(a) : nil
      if let d { Initialization.dcgan(d, seed: seed &+ 1) }
      return LoadedModel(path: path, architecture: a, generator: g, discriminator: d, encoder: nil, classifier: nil)
    case "vae":
      let g = DCGANGenerator(a)
      Initialization.dcgan(g, seed: seed)
      let e = VAEEncoder(a)
      Initialization.pytorchDefault(e, seed: seed &+ 2)
      return LoadedModel(path: path, architecture: a, generator: g, discriminator: nil, encoder: e, classifier: nil)
    default:
      let c = Classifier(a)
      Initialization.pytorchDefault(c, seed: seed)
      return LoadedModel(path: path, architecture: a, generator: nil, discriminator: nil, encoder: nil, classifier: c)
    }
  }

  /// Reads a model file (or checkpoint) and checks that every tensor matches the architecture: no missing
  /// or extra keys, the same shapes, finite values. Errors name the file, group and key.
  public static func load(_ path: String) throws -> LoadedModel {
    let file = try ModelFile.read(path)
    let a: Architecture
    do { a = try Architecture.parse(file.architecture) } catch { throw UsageError("\(path): \(error)") }
    let m = build(a, seed: 0, withDiscriminator: file.groups["discriminator"] != nil, path: path)
    let expected = Set(m.networks.map(\.0))
    for (name, layer) in m.networks {
      guard let dict = file.groups[name] else {
        throw UsageError("\(path): missing group /\(name) required by architecture family \"\(a.family)\"")
      }
      try assign(dict, to: layer, group: name, path: path)
    }
    for g in file.groups.keys
    where !expected.contains(g) && !["optimizer", "metrics", "discriminator_optimizer"].contains(g) {
      throw UsageError("\(path): unexpected group /\(g) for architecture family \"\(a.family)\"")
    }
    return m
  }

  /// Copies a state dict into a network, validating keys, shapes and values.
  public static func assign(_ dict: [String: Tensor], to layer: Layer, group: String, path: String) throws {
    let target = layer.stateDict()
    for key in target.keys.sorted() where dict[key] == nil {
      throw UsageError("\(path): /\(group)/\(key): missing (architecture needs it)")
    }
    for key in dict.keys.sorted() where target[key] == nil {
      throw UsageError("\(path): /\(group)/\(key): unexpected dataset (not part of the architecture)")
    }
    for (key, dst) in target {
      let src = dict[key]!
      let wanted = dst.shape, got = src.shape
      let sameShape = wanted == got || (wanted.reduce(1, *) == 1 && got.reduce(1, *) == 1)
      if !sameShape { throw UsageError("\(path): /\(group)/\(key): shape \(got), architecture needs \(wanted)") }
      if !Elementwise.allFinite(src.pointer, src.count) {
        let i = src.buffer.firstIndex { !$0.isFinite }!
        throw UsageError("\(path): /\(group)/\(key): non-finite value \(src[i]) at flat index \(i)")
      }
      dst.pointer.update(from: src.pointer, count: dst.count)
    }
  }

  /// The model file of the given networks (`groups` names each network).
  public static func modelFile(architecture: Architecture, networks: [(String, Layer)]) -> ModelFile {
    var groups: [String: [String: Tensor]] = [:]
    for (name, layer) in networks { groups[name] = layer.stateDict() }
    return ModelFile(architecture: architecture.json, groups: groups)
  }
}
