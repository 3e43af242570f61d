import Foundation

/// An 8-bit raster: `height` rows of `width × channels` bytes, channels interleaved (1 = gray, 3 = RGB).
public struct Image: Equatable {
  public let width: Int
  public let height: Int
  public let channels: Int
  /// Row-major bytes, `width × height × channels` of them.
  public var pixels: [UInt8]

  /// An image filled with `value` in every channel.
  public init(width: Int, height: Int, channels: Int, fill value: UInt8 = 0) {
    precondition(width >= 0 && height >= 0 && (1...4).contains(channels), "image \(width)×\(height)×\(channels)")
    self.width = width
    self.height = height
    self.channels = channels
    self.pixels = [UInt8](repeating: value, count: width * height * channels)
  }

  /// An image over existing bytes (`width × height × channels` of them).
  public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
    precondition(pixels.count == width * height * channels, "\(pixels.count) bytes for \(width)×\(height)×\(channels)")
    self.width = width
    self.height = height
    self.channels = channels
    self.pixels = pixels
  }

  /// The byte of `channel` at column `x`, row `y`.
  public subscript(x: Int, y: Int, channel: Int = 0) -> UInt8 {
    get { pixels[(y * width + x) * channels + channel] }
    set { pixels[(y * width + x) * channels + channel] = newValue }
  }

  /// Writes the image as a PNG file, atomically.
  public func writePNG(to path: String) throws {
    try PNG.write(path: path, width: width, height: height, channels: channels, pixels: pixels)
  }

  /// Copies `other` (same channel count) with its top-left corner at (`x`, `y`), clipped to this image.
  public mutating func paste(_ other: Image, x: Int, y: Int) {
    precondition(other.channels == channels, "pasting \(other.channels) channels into \(channels)")
    let x0 = max(0, x)
    let x1 = min(width, x + other.width)
    guard x0 < x1 else { return }
    for row in max(0, y)..<min(height, y + other.height) {
      let dst = (row * width + x0) * channels
      let src = ((row - y) * other.width + (x0 - x)) * channels
      pixels.replaceSubrange(dst..<(dst + (x1 - x0) * channels), with: other.pixels[src..<(src + (x1 - x0) * channels)])
    }
  }

  /// The images side by side, top-aligned, separated by `gap` columns of `fill`; all must share a channel count.
  public static func horizontal(_ images: [Image], gap: Int = 8, fill: UInt8 = 128) -> Image {
    precondition(!images.isEmpty, "no images to concatenate")
    let channels = images[0].channels
    let width = images.reduce(0) { $0 + $1.width } + gap * (images.count - 1)
    let height = images.map(\.height).max()!
    var result = Image(width: width, height: height, channels: channels, fill: fill)
    var x = 0
    for image in images {
      result.paste(image, x: x, y: 0)
      x += image.width + gap
    }
    return result
  }
}
