import Foundation
import Tensor
import Testing

@testable import Unlearning

/// A [1, 1, h, w] image in [-1, 1] with ink (1) where `ink(row, column)` holds.
private func image(_ h: Int = 28, _ w: Int = 28, ink: (Int, Int) -> Bool) -> Tensor {
  var values = [Float](repeating: -1, count: h * w)
  for r in 0..<h { for c in 0..<w where ink(r, c) { values[r * w + c] = 1 } }
  return Tensor(shape: [1, 1, h, w], values: values)
}

/// Parses rows of "#" (ink) and "." into a mask.
private func mask(_ rows: [String]) -> (mask: [Bool], height: Int, width: Int) {
  (rows.flatMap { $0.map { $0 == "#" } }, rows.count, rows[0].count)
}

private func picture(_ mask: [Bool], width: Int) -> [String] {
  stride(from: 0, to: mask.count, by: width).map { String(mask[$0..<$0 + width].map { $0 ? "#" : "." }) }
}

/// Zhang–Suen transcribed literally from the paper (one pixel at a time, no lookup table), as a reference.
private func naiveZhangSuen(_ input: [Bool], height: Int, width: Int) -> [Bool] {
  var m = input
  func at(_ r: Int, _ c: Int) -> Int { r < 0 || r >= height || c < 0 || c >= width ? 0 : (m[r * width + c] ? 1 : 0) }
  var changed = true
  while changed {
    changed = false
    for step in 0..<2 {
      var delete = [Int]()
      for r in 0..<height {
        for c in 0..<width where m[r * width + c] {
          let p = [
            at(r - 1, c), at(r - 1, c + 1), at(r, c + 1), at(r + 1, c + 1), at(r + 1, c), at(r + 1, c - 1),
            at(r, c - 1), at(r - 1, c - 1),
          ]
          let b = p.reduce(0, +)
          let a = (0..<8).filter { p[$0] == 0 && p[($0 + 1) % 8] == 1 }.count
          let (p2, p4, p6, p8) = (p[0], p[2], p[4], p[6])
          let ok = step == 0 ? (p2 * p4 * p6 == 0 && p4 * p6 * p8 == 0) : (p2 * p4 * p8 == 0 && p2 * p6 * p8 == 0)
          if (2...6).contains(b) && a == 1 && ok { delete.append(r * width + c) }
        }
      }
      for i in delete { m[i] = false }
      if !delete.isEmpty { changed = true }
    }
  }
  return m
}

/// Pixels within `radius` of the polyline through `points` (row, column), on a 28×28 canvas.
private func stroke(_ points: [(Double, Double)], radius: Double) -> Tensor {
  image { r, c in
    let (y, x) = (Double(r), Double(c))
    for (p, q) in zip(points, points.dropFirst()) {
      let (dy, dx) = (q.0 - p.0, q.1 - p.1)
      let t = max(0, min(1, ((y - p.0) * dy + (x - p.1) * dx) / (dy * dy + dx * dx)))
      if hypot(y - p.0 - t * dy, x - p.1 - t * dx) <= radius { return true }
    }
    return false
  }
}

@Suite struct AttributeTests {
  @Test func onePixelVerticalLine() {
    let m = Morphometrics(image: image { r, c in (4..<24).contains(r) && c == 14 })
    #expect(m == Morphometrics(area: 20, length: 20, thickness: 1, slant: 0, width: 1, height: 20))
    // Touching the image border changes nothing: outside pixels are background.
    let full = Morphometrics(image: image { _, c in c == 0 })
    #expect(full.length == 28 && full.height == 28 && full.thickness == 1)
  }

  @Test func threePixelVerticalLine() {
    let m = Morphometrics(image: image { r, c in (2..<26).contains(r) && (13..<16).contains(c) })
    #expect(m.area == 72 && m.width == 3 && m.height == 24 && m.slant == 0)
    // The skeleton is the centre column, shortened by Zhang–Suen by 1–2 pixels at each end.
    #expect(m.length >= 20 && m.length <= 24, "length \(m.length)")
    #expect(m.thickness >= 3 && m.thickness <= 3.5, "thickness \(m.thickness)")
  }

  @Test func filledRectangle() {
    let m = Morphometrics(image: image { r, c in (5..<15).contains(r) && (3..<20).contains(c) })
    #expect(m.width == 17 && m.height == 10 && m.area == 170)
    #expect(m.slant == 0 && m.slant.sign == .plus)
    #expect(m.thickness > 1 && m.thickness.isFinite)
  }

  @Test(arguments: [0.5, -0.5, 0.25, -0.8])
  func shearedBarSlant(shear: Double) {
    // Row r starts at column 12 − shear·(r − 14): shear > 0 puts the top to the right ("/").
    let bar = image { r, c in
      let left = Int((12 - shear * Double(r - 14)).rounded())
      return (4..<24).contains(r) && (left..<left + 3).contains(c)
    }
    let slant = Attribute.measure(.slant, image: bar)
    #expect(abs(Double(slant) - atan(shear)) < 0.03, "slant \(slant) for shear \(shear), want \(atan(shear))")
    #expect(slant.sign == (shear > 0 ? .plus : .minus))
    #expect(Attribute.measure(.height, image: bar) == 20)
  }

  @Test func emptyImageMeasuresZero() {
    let blank = Tensor(shape: [2, 1, 28, 28])  // all 0: not ink, since ink is > 0
    let background = image { _, _ in false }
    for attribute in Attribute.allCases {
      #expect(Attribute.measure(attribute, images: blank) == [0, 0], "\(attribute)")
      #expect(Attribute.measure(attribute, image: background) == 0, "\(attribute)")
    }
    // A single ink pixel is fine too; a 1-pixel row has no vertical spread, so slant is 0.
    let dot = Morphometrics(image: image { r, c in r == 3 && c == 3 })
    #expect(dot == Morphometrics(area: 1, length: 1, thickness: 1, slant: 0, width: 1, height: 1))
    let row = Morphometrics(image: image { r, c in r == 3 && c < 9 })
    #expect(row.slant == 0 && row.width == 9 && row.length == 9)
  }

  @Test func binarisesStrictlyAboveZero() {
    let t = Tensor(shape: [1, 1, 1, 4], values: [0, 1e-6, -0.5, .nan])
    #expect(Attribute.measure(.area, images: t) == [1])
  }

  @Test func zhangSuenOnKnownPatterns() {
    // Worked by hand: the first sub-iteration strips the bottom row, right column and left corners, the
    // second the top row and the outer pixels of the middle row; the two centre pixels remain.
    let bar = mask([".......", ".#####.", ".#####.", ".#####.", "......."])
    #expect(
      picture(ZhangSuen.thin(bar.mask, height: bar.height, width: bar.width), width: bar.width)
        == [".......", ".......", "..##...", ".......", "......."])
    // A one-pixel-wide shape (8-connected) is already a skeleton.
    let curve = mask(["#....", ".#...", ".#...", "..###", "....."])
    #expect(ZhangSuen.thin(curve.mask, height: 5, width: 5) == curve.mask)
    // The algorithm's known flaw: a 2×2 square disappears (the meter counts it as length 1).
    let square = mask(["##", "##"])
    #expect(ZhangSuen.thin(square.mask, height: 2, width: 2) == [false, false, false, false])
    let dot = Morphometrics(image: image(2, 2) { _, _ in true })
    #expect(dot.length == 1 && dot.thickness == 4)
  }

  @Test func zhangSuenMatchesLiteralTranscription() {
    // Random blobs: unions of random discs, so shapes have holes, branches and thick parts.
    var rng = PhiloxGenerator(seed: 7, stream: 0)
    for _ in 0..<40 {
      let (h, w) = (20, 24)
      var discs = [(Double, Double, Double)]()
      for _ in 0..<6 {
        discs.append((Double(rng.next() % 20), Double(rng.next() % 24), 1 + Double(rng.next() % 40) / 10))
      }
      let blob = (0..<h * w).map { i in
        discs.contains { hypot(Double(i / w) - $0.0, Double(i % w) - $0.1) <= $0.2 }
      }
      let fast = ZhangSuen.thin(blob, height: h, width: w)
      let reference = naiveZhangSuen(blob, height: h, width: w)
      let show = { (m: [Bool]) in "\n" + picture(m, width: w).joined(separator: "\n") }
      #expect(show(fast) == show(reference), "shape:\(show(blob))")
      #expect(zip(fast, blob).allSatisfy { !$0 || $1 }, "skeleton leaves the shape")
    }
  }

  @Test func thickerRenderingMeasuresThicker() {
    let shapes: [[(Double, Double)]] = [
      [(4, 8), (4, 19), (13, 19), (13, 9), (23, 9), (23, 20)],  // an S-like "5"
      [(5, 18), (23, 9)],  // a slanted "1"
    ]
    for points in shapes {
      // Radii whose pixel-centre discs differ: axis-aligned strokes 1, 3, 5 and 7 pixels wide (1.5 would
      // draw the same 3-pixel stroke as 1.0 with fuller corners).
      let radii = [0.5, 1.0, 2.0, 3.0]
      let thickness = radii.map { Attribute.measure(.thickness, image: stroke(points, radius: $0)) }
      let length = radii.map { Attribute.measure(.length, image: stroke(points, radius: $0)) }
      #expect(zip(thickness, thickness.dropFirst()).allSatisfy { $0 < $1 }, "thickness \(thickness)")
      // The skeleton stays roughly the same stroke.
      #expect(length.max()! - length.min()! <= 0.3 * length.max()!, "length \(length)")
    }
  }

  @Test func slantDirectionOfARenderedOne() {
    let leaningRight = Morphometrics(image: stroke([(4, 18), (24, 10)], radius: 1.2))
    let leaningLeft = Morphometrics(image: stroke([(4, 10), (24, 18)], radius: 1.2))
    #expect(abs(Double(leaningRight.slant) - atan(8.0 / 20)) < 0.05, "\(leaningRight.slant)")
    #expect(abs(leaningLeft.slant + leaningRight.slant) < 1e-5)
  }

  @Test func batchMatchesSingleImages() {
    let images = [
      stroke([(4, 8), (4, 19), (13, 19), (13, 9), (23, 9)], radius: 1.3),
      stroke([(5, 18), (23, 9)], radius: 0.8),
      image { _, _ in false },
      image { r, c in (5..<15).contains(r) && (3..<20).contains(c) },
    ]
    let batch = Tensor(shape: [images.count, 1, 28, 28], values: images.flatMap(\.array))
    let meter = AttributeMeter()
    let all = meter.measure(images: batch)
    for attribute in Attribute.allCases {
      let values = Attribute.measure(attribute, images: batch)
      #expect(values == images.map { Attribute.measure(attribute, image: $0) }, "\(attribute)")
      #expect(values == all.map { $0[attribute] }, "\(attribute)")
    }
    // Reusing the meter (larger, then smaller images) gives the same answers.
    _ = meter.measure(images: Tensor(shape: [1, 1, 64, 64]))
    #expect(meter.measure(images: batch) == all)
    // Without the skeleton, only length and thickness differ (left at 0).
    let cheap = meter.measure(images: batch, skeleton: false)
    #expect(cheap.map(\.area) == all.map(\.area) && cheap.map(\.slant) == all.map(\.slant))
    #expect(cheap.allSatisfy { $0.length == 0 && $0.thickness == 0 })
  }

  @Test func namesParseFromTheCommandLine() {
    #expect(Attribute.allCases.map(\.rawValue) == ["thickness", "slant", "area", "length", "width", "height"])
    #expect(Attribute(rawValue: "thickness") == .thickness && Attribute(rawValue: "weight") == nil)
  }
}
