import Tensor

/// The measured shape of one binarised digit image (all in pixels, slant in radians).
///
/// Images are single-channel, H×W, in [-1, 1]; a pixel is ink when its value is > 0. An image without ink
/// measures 0 for every attribute. See docs/ATTRIBUTES.md for the definitions and how they differ from
/// Morpho-MNIST.
public struct Morphometrics: Equatable, Sendable {
  /// Ink pixels.
  public var area: Float
  /// Skeleton pixels (Zhang–Suen); at least 1 when there is ink.
  public var length: Float
  /// area / length: the mean stroke width.
  public var thickness: Float
  /// atan(−μ11/μ02) of the ink's central moments (x = column, y = row downwards): > 0 when the digit leans
  /// right (top to the right), as in Morpho-MNIST.
  public var slant: Float
  /// Columns spanned by the ink's bounding box.
  public var width: Float
  /// Rows spanned by the ink's bounding box.
  public var height: Float

  public init(area: Float, length: Float, thickness: Float, slant: Float, width: Float, height: Float) {
    (self.area, self.length, self.thickness) = (area, length, thickness)
    (self.slant, self.width, self.height) = (slant, width, height)
  }

  /// Measures one image: any tensor whose last two dimensions are H, W and that holds H·W elements
  /// ([H, W], [1, H, W] or [1, 1, H, W]).
  public init(image: Tensor) {
    precondition(image.shape.count >= 2, "image of shape \(image.shape) has no H, W")
    let (h, w) = (image.shape[image.shape.count - 2], image.shape[image.shape.count - 1])
    precondition(image.count == h * w, "image of shape \(image.shape) is not single-channel")
    self = AttributeMeter().measure(UnsafeBufferPointer(image.buffer), height: h, width: w)
  }

  /// The value of one attribute.
  public subscript(attribute: Attribute) -> Float {
    switch attribute {
    case .thickness: thickness
    case .slant: slant
    case .area: area
    case .length: length
    case .width: width
    case .height: height
    }
  }
}
