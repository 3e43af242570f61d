import Foundation
import Tensor

/// An image classification set read from IDX files (MNIST): images [N, 1, H, W] scaled to [-1, 1] as
/// x / 127.5 − 1, and one label per image.
public struct IDXDataset {
  /// [N, 1, H, W], values in [-1, 1].
  public var images: Tensor
  /// N class labels.
  public var labels: [UInt8]

  public init(images: Tensor, labels: [UInt8]) {
    precondition(images.shape.first == labels.count, "\(labels.count) labels for images \(images.shape)")
    self.images = images
    self.labels = labels
  }

  /// Number of images.
  public var count: Int { labels.count }

  /// Reads an images file and a labels file (plain or gzip) and checks they hold the same number of items.
  public static func load(images imagesPath: String, labels labelsPath: String) throws -> IDXDataset {
    let raw = try IDX.readImages(imagesPath)
    let labels = try IDX.readLabels(labelsPath)
    guard labels.count == raw.count else {
      throw IDXError(
        file: labelsPath, reason: .countMismatch(images: raw.count, labels: labels.count, imagesFile: imagesPath))
    }
    let images = raw.tensor()
    return IDXDataset(images: images, labels: labels)
  }
}
