import Tensor

/// A measured attribute of a digit image (Morpho-MNIST-style morphometrics), used to label samples
/// ("the top 10% thickest strokes are positive") and as an evaluation metric.
///
/// The raw value is the name used on the command line (`attribute:thickness:top=0.1`). Definitions are on
/// `Morphometrics` and in docs/ATTRIBUTES.md.
public enum Attribute: String, CaseIterable, Sendable {
  case thickness, slant, area, length, width, height

  /// Whether measuring this attribute needs the skeleton (the expensive part).
  public var needsSkeleton: Bool { self == .thickness || self == .length }

  /// Measures `attribute` for every image of an [N, 1, H, W] (or [N, H, W]) batch.
  public static func measure(_ attribute: Attribute, images: Tensor) -> [Float] {
    AttributeMeter().measure(images: images, skeleton: attribute.needsSkeleton).map { $0[attribute] }
  }

  /// Measures `attribute` for one image ([H, W], [1, H, W] or [1, 1, H, W]).
  public static func measure(_ attribute: Attribute, image: Tensor) -> Float {
    Morphometrics(image: image)[attribute]
  }
}
