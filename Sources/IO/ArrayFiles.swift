import Foundation
import Tensor

/// Latents file (DESIGN §4): `/z` [N, nz] float32.
public enum LatentsFile {
  /// Reads `/z`, which must be two-dimensional.
  public static func read(_ path: String) throws -> Tensor {
    try readArray(path, dataset: "/z", rank: 2)
  }

  /// Writes `z` [N, nz] to `/z` of a new file at `path` (atomically), with root `format` = "unlearn.latents".
  public static func write(_ z: Tensor, to path: String) throws {
    precondition(z.shape.count == 2, "latents must be [N, nz], got \(z.shape)")
    try writeArray(z, dataset: "/z", format: "unlearn.latents", to: path)
  }
}

/// Images file (DESIGN §4): `/images` [N, C, H, W] float32 in [-1, 1].
public enum ImagesFile {
  /// Reads `/images`, which must be four-dimensional.
  public static func read(_ path: String) throws -> Tensor {
    try readArray(path, dataset: "/images", rank: 4)
  }

  /// Writes `images` [N, C, H, W] to `/images` of a new file at `path` (atomically), with root `format` =
  /// "unlearn.images".
  public static func write(_ images: Tensor, to path: String) throws {
    precondition(images.shape.count == 4, "images must be [N, C, H, W], got \(images.shape)")
    try writeArray(images, dataset: "/images", format: "unlearn.images", to: path)
  }
}

private func readArray(_ path: String, dataset: String, rank: Int) throws -> Tensor {
  let file = try HDF5File.open(path)
  defer { file.close() }
  let tensor = try file.readFloats(dataset)
  guard tensor.shape.count == rank else {
    throw HDF5Error(
      file: path, object: "dataset \(dataset)",
      reason: .invalidContent("expected \(rank) dimensions, found shape \(tensor.shape)"))
  }
  return tensor
}

private func writeArray(_ tensor: Tensor, dataset: String, format: String, to path: String) throws {
  let file = try HDF5File.create(path)
  try file.setAttribute("format", format)
  try file.write(tensor, to: dataset)
  try file.commit()
}
