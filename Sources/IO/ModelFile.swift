import Foundation
import Tensor

/// A model file (DESIGN §4): root attributes `format` = "unlearn.model", `format_version` = 1 and
/// `architecture` (a JSON string), and one group per network (`/generator`, `/encoder`, …) holding one
/// dataset per PyTorch `state_dict` key with PyTorch's shapes.
///
/// Tensors are float32, except keys ending in `num_batches_tracked`, which PyTorch keeps as 0-dim int64:
/// they are written as int64 scalars and read back as Float tensors of shape `[1]`.
/// Checkpoints are model files with extra root groups (``reservedGroups``) that ``read(_:)`` skips; so are the
/// parity fixtures (Tests/Fixtures/models_*.h5), whose `/parity` group holds reference values.
public struct ModelFile {
  /// The value of the root `format` attribute.
  public static let format = "unlearn.model"
  /// The `format_version` this code writes and the newest it reads.
  public static let formatVersion: Int64 = 1
  /// Root groups that are not networks (checkpoint state, fixture reference values), skipped by ``read(_:)``.
  public static let reservedGroups: Set<String> = ["optimizer", "metrics", "parity"]

  /// The architecture description, a JSON object (e.g. `{"family":"dcgan",...}`).
  public var architecture: String
  /// Network name (`generator`) → state_dict key (`main.0.weight`) → tensor.
  public var groups: [String: [String: Tensor]]

  public init(architecture: String, groups: [String: [String: Tensor]]) {
    self.architecture = architecture
    self.groups = groups
  }

  /// Reads and validates the model file at `path`.
  public static func read(_ path: String) throws -> ModelFile {
    let file = try HDF5File.open(path)
    defer { file.close() }
    return try read(from: file)
  }

  /// Reads and validates a model file from an open file (e.g. a checkpoint being resumed).
  public static func read(from file: HDF5File) throws -> ModelFile {
    try validateHeader(of: file)
    let architecture = try file.stringAttribute("architecture")
    guard let data = architecture.data(using: .utf8),
      (try? JSONSerialization.jsonObject(with: data)) is [String: Any]
    else {
      throw HDF5Error(
        file: file.path, object: "attribute architecture of /", reason: .invalidContent("not a JSON object"))
    }
    var groups: [String: [String: Tensor]] = [:]
    for name in try file.members(of: "/") where !reservedGroups.contains(name) {
      guard file.isGroup("/" + name) else { continue }
      var tensors: [String: Tensor] = [:]
      for key in try file.members(of: "/" + name) {
        let path = "/\(name)/\(key)"
        guard file.isDataset(path) else {
          throw HDF5Error(
            file: file.path, object: "group \(path)",
            reason: .invalidContent("a network group may hold only datasets named by state_dict keys"))
        }
        let tensor = try file.readFloats(path)
        if tensor.shape.isEmpty { tensor.reshape([1]) }
        tensors[key] = tensor
      }
      groups[name] = tensors
    }
    return ModelFile(architecture: architecture, groups: groups)
  }

  /// Checks the root `format` and `format_version` attributes.
  public static func validateHeader(of file: HDF5File) throws {
    guard file.hasAttribute("format") else {
      throw HDF5Error(
        file: file.path, object: "attribute format of /",
        reason: .invalidContent("missing: not an \(format) file"))
    }
    let found = try file.stringAttribute("format")
    guard found == format else {
      throw HDF5Error(
        file: file.path, object: "attribute format of /",
        reason: .invalidContent("expected \"\(format)\", found \"\(found)\""))
    }
    let version = try file.int64Attribute("format_version")
    guard version >= 1, version <= formatVersion else {
      throw HDF5Error(
        file: file.path, object: "attribute format_version of /",
        reason: .invalidContent("version \(version) is not supported (this build reads 1...\(formatVersion))"))
    }
  }

  /// Writes the root attributes and every group into `file` (which must be writable); the caller may add
  /// more (checkpoint state) before committing.
  public func write(to file: HDF5File) throws {
    try file.setAttribute("format", Self.format)
    try file.setAttribute("format_version", Self.formatVersion)
    try file.setAttribute("architecture", architecture)
    for (name, tensors) in groups.sorted(by: { $0.key < $1.key }) {
      precondition(!Self.reservedGroups.contains(name), "network group name \(name) is reserved")
      try file.createGroup("/" + name)
      for (key, tensor) in tensors.sorted(by: { $0.key < $1.key }) {
        let path = "/\(name)/\(key)"
        if key.hasSuffix("num_batches_tracked") {
          precondition(tensor.count == 1, "\(path) must hold one value, has shape \(tensor.shape)")
          try file.write([Int64(tensor[0].rounded())], shape: [], to: path)
        } else {
          try file.write(tensor, to: path)
        }
      }
    }
  }

  /// Writes the model file to `path` atomically.
  public func write(to path: String) throws {
    let file = try HDF5File.create(path)
    try write(to: file)
    try file.commit()
  }
}
