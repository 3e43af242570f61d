import Foundation

/// The `architecture` JSON of a model file (DESIGN.md §4): enough to rebuild every network of the file.
///
/// Families:
/// - `dcgan`: `latent_dim`, `channels`, `base_size`, `widths` — generator (and discriminator).
/// - `vae`: the same fields for the decoder (a DCGAN generator) plus `encoder_widths`.
/// - `classifier`: `channels`, `image_size`, `widths` (conv widths), `hidden`, `classes`.
public struct Architecture: Codable, Equatable, Sendable {
  public var family: String
  public var latentDim: Int?
  public var channels: Int
  public var baseSize: Int?
  public var widths: [Int]
  public var encoderWidths: [Int]?
  public var imageSize: Int?
  public var hidden: Int?
  public var classes: Int?

  enum CodingKeys: String, CodingKey {
    case family, channels, widths, hidden, classes
    case latentDim = "latent_dim", baseSize = "base_size", encoderWidths = "encoder_widths"
    case imageSize = "image_size"
  }

  public init(
    family: String, latentDim: Int? = nil, channels: Int, baseSize: Int? = nil, widths: [Int],
    encoderWidths: [Int]? = nil, imageSize: Int? = nil, hidden: Int? = nil, classes: Int? = nil
  ) {
    self.family = family
    self.latentDim = latentDim
    self.channels = channels
    self.baseSize = baseSize
    self.widths = widths
    self.encoderWidths = encoderWidths
    self.imageSize = imageSize
    self.hidden = hidden
    self.classes = classes
  }

  /// MNIST DCGAN: 100 → 256×7×7 → 128×14×14 → 1×28×28.
  public static let dcgan28 = Architecture(family: "dcgan", latentDim: 100, channels: 1, baseSize: 7, widths: [256, 128])
  /// The PyTorch DCGAN tutorial's CelebA generator: 100 → 512×4×4 → … → 3×64×64.
  public static let dcgan64 = Architecture(
    family: "dcgan", latentDim: 100, channels: 3, baseSize: 4, widths: [512, 256, 128, 64])
  /// MNIST VAE: 16-d latent, DCGAN-style decoder, two-conv encoder.
  public static let vae28 = Architecture(
    family: "vae", latentDim: 16, channels: 1, baseSize: 7, widths: [128, 64], encoderWidths: [32, 64])
  /// MNIST digit classifier; its 128-d hidden layer is the FID feature space.
  public static let classifier28 = Architecture(
    family: "classifier", channels: 1, widths: [32, 64], imageSize: 28, hidden: 128, classes: 10)

  /// Named presets accepted on the command line.
  public static let presets: [String: Architecture] = [
    "dcgan28": .dcgan28, "dcgan64": .dcgan64, "vae28": .vae28, "classifier28": .classifier28,
  ]

  /// Side of the generated (or classified) square image.
  public var outputSize: Int {
    if family == "classifier" { return imageSize ?? 28 }
    return (baseSize ?? 1) << widths.count
  }

  /// Compact JSON with sorted keys (the file attribute).
  public var json: String {
    let e = JSONEncoder()
    e.outputFormatting = [.sortedKeys]
    return String(decoding: try! e.encode(self), as: UTF8.self)
  }

  /// Parses the JSON and checks that the family's fields are present and sane.
  public static func parse(_ json: String) throws -> Architecture {
    let a: Architecture
    do { a = try JSONDecoder().decode(Architecture.self, from: Data(json.utf8)) } catch {
      throw ModelError.badArchitecture("not valid architecture JSON (\(error.localizedDescription)): \(json)")
    }
    try a.validate()
    return a
  }

  public func validate() throws {
    func need(_ ok: Bool, _ what: String) throws { if !ok { throw ModelError.badArchitecture("\(family): \(what)") } }
    // Upper bounds keep an absurd file or flag from reaching the allocator (a crash, not an error).
    let limit = 1 << 16
    try need(channels > 0 && channels <= 64, "channels must be 1…64, got \(channels)")
    try need(!widths.isEmpty && widths.count <= 8 && widths.allSatisfy { $0 > 0 && $0 <= limit }, "widths must be 1–8 values in 1…\(limit), got \(widths)")
    try need((latentDim ?? 1) > 0 && (latentDim ?? 1) <= limit, "latent_dim must be 1…\(limit)")
    try need((baseSize ?? 1) > 0 && (baseSize ?? 1) <= 64, "base_size must be 1…64")
    try need((encoderWidths ?? [1]).allSatisfy { $0 > 0 && $0 <= limit } && (encoderWidths ?? []).count <= 8, "encoder_widths must be at most 8 values in 1…\(limit)")
    try need((imageSize ?? 1) > 0 && (imageSize ?? 1) <= 1024 && (hidden ?? 1) <= limit && (classes ?? 2) <= limit, "image_size ≤ 1024, hidden and classes ≤ \(limit)")
    try need(outputSize <= 1024, "images of \(outputSize) px are beyond 1024 px")
    switch family {
    case "dcgan":
      try need((latentDim ?? 0) > 0, "latent_dim must be > 0")
      try need((baseSize ?? 0) > 0, "base_size must be > 0")
    case "vae":
      try need((latentDim ?? 0) > 0, "latent_dim must be > 0")
      try need((baseSize ?? 0) > 0, "base_size must be > 0")
      try need((encoderWidths ?? []).count >= 1, "encoder_widths must be non-empty")
      try need(outputSize % (1 << (encoderWidths ?? []).count) == 0, "image size must divide by 2^len(encoder_widths)")
    case "classifier":
      try need((imageSize ?? 0) > 0 && (imageSize ?? 0) % (1 << widths.count) == 0, "image_size must divide by 2^len(widths)")
      try need((hidden ?? 0) > 0 && (classes ?? 0) > 1, "hidden > 0 and classes > 1 required")
    default:
      throw ModelError.badArchitecture("unknown family \"\(family)\" (expected dcgan, vae or classifier)")
    }
  }
}

/// Errors about model structure.
public enum ModelError: Error, CustomStringConvertible {
  case badArchitecture(String)
  public var description: String {
    switch self {
    case .badArchitecture(let s): return "architecture: \(s)"
    }
  }
}
