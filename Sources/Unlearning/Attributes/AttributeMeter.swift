import Foundation
import Tensor

/// Measures `Morphometrics` of images, reusing its workspaces across calls so that a measurement allocates
/// nothing once the largest image size has been seen. Not thread-safe: use one meter per thread.
public final class AttributeMeter {
  /// Binary mask with a one-pixel zero border, (H + 2)·(W + 2).
  private var mask: UnsafeMutablePointer<UInt8>
  /// Flat indices into `mask` of the ink pixels, then of the deletions of a thinning sub-iteration.
  private var ink: UnsafeMutablePointer<Int32>
  private var deletions: UnsafeMutablePointer<Int32>
  private var maskCapacity = 0
  private var pixelCapacity = 0

  public init() {
    mask = .allocate(capacity: 1)
    ink = .allocate(capacity: 1)
    deletions = .allocate(capacity: 1)
  }

  deinit {
    mask.deallocate()
    ink.deallocate()
    deletions.deallocate()
  }

  /// Measures every image of an [N, 1, H, W] (or [N, H, W]) batch. With `skeleton: false`, `length` and
  /// `thickness` are left at 0 and the thinning is skipped.
  public func measure(images: Tensor, skeleton: Bool = true) -> [Morphometrics] {
    let shape = images.shape
    precondition(
      shape.count == 4 && shape[1] == 1 || shape.count == 3,
      "attributes need [N, 1, H, W] or [N, H, W] images, got \(shape)")
    let (n, h, w) = (shape[0], shape[shape.count - 2], shape[shape.count - 1])
    return (0..<n).map { i in
      measure(
        UnsafeBufferPointer(start: images.pointer + i * h * w, count: h * w), height: h, width: w,
        skeleton: skeleton)
    }
  }

  /// Measures one row-major `height`×`width` image.
  public func measure(_ image: UnsafeBufferPointer<Float>, height: Int, width: Int, skeleton: Bool = true)
    -> Morphometrics
  {
    precondition(
      height >= 0 && width >= 0 && image.count == height * width,
      "\(image.count) pixels for \(height)×\(width)")
    let stride = width + 2
    reserve(mask: (height + 2) * stride, pixels: height * width)
    mask.update(repeating: 0, count: (height + 2) * stride)

    // Binarise; accumulate the raw moments (exact in integers) and the bounding box.
    var area = 0
    var sx = 0, sy = 0, sxx = 0, sxy = 0, syy = 0
    var top = height, bottom = -1, left = width, right = -1
    if let pixels = image.baseAddress {
      for y in 0..<height {
        let row = pixels + y * width
        let maskRow = mask + (y + 1) * stride + 1
        var rowArea = 0, rowX = 0, rowXX = 0
        for x in 0..<width where row[x] > 0 {
          maskRow[x] = 1
          ink[area + rowArea] = Int32((y + 1) * stride + x + 1)
          rowArea += 1
          rowX += x
          rowXX += x * x
          left = min(left, x)
          right = max(right, x)
        }
        guard rowArea > 0 else { continue }
        area += rowArea
        sx += rowX
        sxx += rowXX
        sy += y * rowArea
        syy += y * y * rowArea
        sxy += y * rowX
        top = min(top, y)
        bottom = max(bottom, y)
      }
    }
    guard area > 0 else { return Morphometrics(area: 0, length: 0, thickness: 0, slant: 0, width: 0, height: 0) }

    // Central moments times the area: μ11·A = Σxy − Σx·Σy/A, μ02·A = Σy² − (Σy)²/A.
    let a = Double(area)
    let mu11 = Double(sxy) - Double(sx) * Double(sy) / a
    let mu02 = Double(syy) - Double(sy) * Double(sy) / a
    // `+ 0` turns atan(−0) into +0, so symmetric shapes do not print as "-0".
    let slant = mu02 > 1e-9 * a ? Float(atan(-mu11 / mu02)) + 0 : 0

    var length: Float = 0, thickness: Float = 0
    if skeleton {
      let skeletonPixels = ZhangSuen.thin(padded: mask, stride: stride, ink: ink, count: area, deletions: deletions)
      // Zhang–Suen erases a lone 2×2 square; count such a dot as a one-pixel skeleton.
      length = Float(max(skeletonPixels, 1))
      thickness = Float(area) / length
    }
    return Morphometrics(
      area: Float(area), length: length, thickness: thickness, slant: slant,
      width: Float(right - left + 1), height: Float(bottom - top + 1))
  }

  /// Grows the workspaces to hold a padded mask of `mask` bytes and `pixels` indices.
  private func reserve(mask maskCount: Int, pixels: Int) {
    if maskCount > maskCapacity {
      mask.deallocate()
      mask = .allocate(capacity: maskCount)
      maskCapacity = maskCount
    }
    if pixels > pixelCapacity {
      ink.deallocate()
      deletions.deallocate()
      ink = .allocate(capacity: pixels)
      deletions = .allocate(capacity: pixels)
      pixelCapacity = pixels
    }
  }
}
