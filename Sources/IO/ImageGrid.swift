import Foundation
import Tensor

/// Renders batches of images [N, C, H, W] (C = 1 gray or 3 RGB, values in [-1, 1]) into one picture:
/// a plain grid like torchvision's `make_grid`, a numbered contact sheet (each tile's index drawn above
/// it, so a person can list the numbers showing a feature), or an original/unlearned pair.
public enum ImageGrid {
  /// A grid of `columns` tiles per row, `padding` pixels of `padValue` around every tile, each image
  /// enlarged `scale` times (nearest neighbour).
  public static func render(
    _ images: Tensor, columns: Int = 8, padding: Int = 2, scale: Int = 1, padValue: UInt8 = 0
  ) -> Image {
    layout(images, columns: columns, padding: padding, scale: scale, padValue: padValue, firstIndex: nil)
  }

  /// A grid like ``render(_:columns:padding:scale:padValue:)`` with each tile's number (`firstIndex` + its
  /// position) drawn above it in a 3×5 digit font, scaled with the images but never wider than a tile.
  public static func contactSheet(
    _ images: Tensor, columns: Int = 10, firstIndex: Int = 0, padding: Int = 2, scale: Int = 1,
    padValue: UInt8 = 0
  ) -> Image {
    layout(images, columns: columns, padding: padding, scale: scale, padValue: padValue, firstIndex: firstIndex)
  }

  /// Two grids side by side: `original` on the left, `unlearned` on the right, separated by `gap` columns of
  /// mid gray. With `numbered`, both are contact sheets, so tile k on the left matches tile k on the right.
  public static func pair(
    original: Tensor, unlearned: Tensor, columns: Int = 8, padding: Int = 2, scale: Int = 1,
    numbered: Bool = false, gap: Int = 8
  ) -> Image {
    precondition(
      original.shape.dropFirst() == unlearned.shape.dropFirst(), "pair of \(original.shape) and \(unlearned.shape)")
    let left = layout(
      original, columns: columns, padding: padding, scale: scale, padValue: 0, firstIndex: numbered ? 0 : nil)
    let right = layout(
      unlearned, columns: columns, padding: padding, scale: scale, padValue: 0, firstIndex: numbered ? 0 : nil)
    return Image.horizontal([left, right], gap: gap, fill: 128)
  }

  /// Maps [-1, 1] to 0...255 (NaN → 0).
  @inline(__always) static func byte(_ value: Float) -> UInt8 {
    let v = ((value + 1) * 127.5).rounded()
    return v >= 255 ? 255 : (v > 0 ? UInt8(v) : 0)
  }

  private static func layout(
    _ images: Tensor, columns: Int, padding: Int, scale: Int, padValue: UInt8, firstIndex: Int?
  ) -> Image {
    precondition(images.shape.count == 4, "images must be [N, C, H, W], got \(images.shape)")
    let (n, c, h, w) = (images.shape[0], images.shape[1], images.shape[2], images.shape[3])
    precondition(c == 1 || c == 3, "images must have 1 or 3 channels, got \(c)")
    precondition(columns > 0 && padding >= 0 && scale > 0, "columns \(columns), padding \(padding), scale \(scale)")
    let tileW = w * scale
    let tileH = h * scale
    let cols = max(1, min(columns, n))
    let rows = (n + cols - 1) / cols

    // Numbers: as large as the image scale allows while the widest number still fits a tile.
    var digitScale = scale
    var labelHeight = 0
    if let firstIndex {
      let widest = String(firstIndex + max(n - 1, 0))
      while digitScale > 1, BitmapFont.width(of: widest, scale: digitScale) > tileW { digitScale -= 1 }
      labelHeight = BitmapFont.glyphHeight * digitScale + 2
    }
    let cellW = tileW + padding
    let cellH = labelHeight + tileH + padding
    var image = Image(width: cols * cellW + padding, height: rows * cellH + padding, channels: c, fill: padValue)
    let textValue: UInt8 = padValue < 128 ? 255 : 0
    let plane = h * w
    let imageWidth = image.width

    image.pixels.withUnsafeMutableBufferPointer { out in
      for i in 0..<n {
        let x0 = padding + (i % cols) * cellW
        let y0 = padding + (i / cols) * cellH + labelHeight
        let source = images.pointer + i * c * plane
        for y in 0..<tileH {
          let row = source + (y / scale) * w
          let dst = ((y0 + y) * imageWidth + x0) * c
          for x in 0..<tileW {
            for ch in 0..<c { out[dst + x * c + ch] = byte(row[ch * plane + x / scale]) }
          }
        }
      }
    }
    if let firstIndex {
      for i in 0..<n {
        let text = String(firstIndex + i)
        let x0 = padding + (i % cols) * cellW + (tileW - BitmapFont.width(of: text, scale: digitScale)) / 2
        let y0 = padding + (i / cols) * cellH
        BitmapFont.draw(text, into: &image, x: x0, y: y0, scale: digitScale, value: textValue)
      }
    }
    return image
  }
}
