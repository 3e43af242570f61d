import CZlib
import Foundation
import IO
import Tensor
import Testing

/// A decoded PNG (8-bit, filter type 0 only, as our writer produces).
struct DecodedPNG {
  var width = 0, height = 0, bitDepth = 0, colorType = 0
  var pixels: [UInt8] = []
}

/// Parses chunks (checking every CRC) and inflates IDAT with zlib.
func decodePNG(_ bytes: [UInt8]) throws -> DecodedPNG {
  try #require(bytes.count > 8 && Array(bytes[0..<8]) == PNG.signature)
  func be32(_ i: Int) -> Int { bytes[i..<(i + 4)].reduce(0) { $0 << 8 | Int($1) } }
  var png = DecodedPNG()
  var idat: [UInt8] = []
  var offset = 8
  var types: [String] = []
  while offset < bytes.count {
    let length = be32(offset)
    let type = String(decoding: bytes[(offset + 4)..<(offset + 8)], as: UTF8.self)
    let body = Array(bytes[(offset + 8)..<(offset + 8 + length)])
    let typeAndBody = Array(bytes[(offset + 4)..<(offset + 8 + length)])
    let crc = typeAndBody.withUnsafeBufferPointer { crc32(0, $0.baseAddress, UInt32($0.count)) }
    #expect(Int(crc) == be32(offset + 8 + length), "CRC of \(type)")
    types.append(type)
    switch type {
    case "IHDR":
      png.width = be32(offset + 8)
      png.height = be32(offset + 12)
      png.bitDepth = Int(body[8])
      png.colorType = Int(body[9])
    case "IDAT": idat += body
    default: break
    }
    offset += 12 + length
  }
  #expect(types.first == "IHDR" && types.last == "IEND")
  let channels = [0: 1, 4: 2, 2: 3, 6: 4][png.colorType]!
  let rowBytes = png.width * channels + 1
  var raw = [UInt8](repeating: 0, count: rowBytes * png.height)
  var rawSize = uLong(raw.count)
  #expect(uncompress(&raw, &rawSize, idat, uLong(idat.count)) == Z_OK)
  #expect(Int(rawSize) == raw.count)
  for y in 0..<png.height {
    #expect(raw[y * rowBytes] == 0, "filter type of row \(y)")
    png.pixels += raw[(y * rowBytes + 1)..<((y + 1) * rowBytes)]
  }
  return png
}

@Suite("PNG and image grids")
struct PNGTests {
  @Test func grayAndRGBFilesDecodeToTheSamePixels() throws {
    let folder = try makeTemporaryFolder()
    defer { removeTemporaryFolder(folder) }
    for (channels, colorType) in [(1, 0), (3, 2), (2, 4), (4, 6)] {
      let (width, height) = (7, 5)
      let pixels = (0..<(width * height * channels)).map { UInt8(($0 * 37 + 11) % 256) }
      let path = "\(folder)/img\(channels).png"
      try PNG.write(path: path, width: width, height: height, channels: channels, pixels: pixels)
      let png = try decodePNG(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
      #expect(png.width == width && png.height == height && png.bitDepth == 8 && png.colorType == colorType)
      #expect(png.pixels == pixels)
    }
    #expect(listing(folder) == ["img1.png", "img2.png", "img3.png", "img4.png"])  // no temporary files left
    let bad = #expect(throws: FileError.self) {
      try PNG.write(path: folder + "/no/such/x.png", width: 1, height: 1, channels: 1, pixels: [0])
    }
    #expect(bad?.path == folder + "/no/such/x.png")
  }

  @Test func gridPlacesTilesWithPaddingAndScale() throws {
    // Three 1-channel 2×3 images: constant -1, 0 and 1.
    let images = Tensor(
      shape: [3, 1, 2, 3],
      values: [Float](repeating: -1, count: 6) + [Float](repeating: 0, count: 6) + [Float](repeating: 1, count: 6))
    let grid = ImageGrid.render(images, columns: 2, padding: 2, scale: 2, padValue: 77)
    // Tiles are 6×4 after scaling; 2 columns, 2 rows.
    #expect(grid.width == 2 * (6 + 2) + 2 && grid.height == 2 * (4 + 2) + 2 && grid.channels == 1)
    #expect(grid[0, 0] == 77 && grid[1, 5] == 77 && grid[8, 3] == 77)  // padding
    #expect(grid[2, 2] == 0 && grid[7, 5] == 0)  // first tile, -1 → 0
    #expect(grid[10, 2] == 128 && grid[15, 5] == 128)  // second tile, 0 → 128
    #expect(grid[2, 8] == 255 && grid[7, 11] == 255)  // third tile, 1 → 255
    #expect(grid[10, 8] == 77)  // the empty fourth cell

    // RGB channels land in the right bytes; values outside [-1, 1] are clamped.
    let rgb = Tensor(shape: [1, 3, 1, 2], values: [-1, 1, 0, 0, 3, -3])
    let colour = ImageGrid.render(rgb, padding: 0)
    #expect(colour.width == 2 && colour.height == 1 && colour.channels == 3)
    #expect(colour.pixels == [0, 128, 255, 255, 128, 0])

    let folder = try makeTemporaryFolder()
    defer { removeTemporaryFolder(folder) }
    try grid.writePNG(to: folder + "/grid.png")
    let png = try decodePNG(Array(try Data(contentsOf: URL(fileURLWithPath: folder + "/grid.png"))))
    #expect(png.width == grid.width && png.height == grid.height && png.pixels == grid.pixels)
  }

  @Test func contactSheetDrawsEachTileNumberAboveIt() throws {
    // 12 black 8×8 tiles numbered from 7: the first label is "7", the last "18".
    let images = Tensor(shape: [12, 1, 8, 8])
    images.fill(-1)
    let sheet = ImageGrid.contactSheet(images, columns: 4, firstIndex: 7, padding: 2, scale: 1)
    let labelHeight = 5 + 2
    #expect(sheet.width == 4 * (8 + 2) + 2 && sheet.height == 3 * (labelHeight + 8 + 2) + 2)

    // Glyph patterns of the 3×5 font, read back from the sheet.
    let seven = ["###", "..#", "..#", "..#", "..#"]
    let one = [".#.", "##.", ".#.", ".#.", "###"]
    let eight = ["###", "#.#", "###", "#.#", "###"]
    func glyph(x: Int, y: Int) -> [String] {
      (0..<5).map { row in String((0..<3).map { sheet[x + $0, y + row] == 255 ? "#" : "." }) }
    }
    // Tile 0 ("7", 3 px wide) is centred over the 8 px tile starting at x = 2: left = 2 + (8 - 3) / 2.
    #expect(glyph(x: 4, y: 2) == seven)
    // Tile 11 ("18", 7 px wide) is in column 3, row 2.
    let x11 = 2 + 3 * 10 + (8 - 7) / 2
    let y11 = 2 + 2 * (labelHeight + 8 + 2)
    #expect(glyph(x: x11, y: y11) == one)
    #expect(glyph(x: x11 + 4, y: y11) == eight)
    // Image pixels sit below the label band.
    #expect(sheet[2, 2 + labelHeight] == 0 && sheet[9, 2 + labelHeight + 7] == 0)

    // With scale 3 the digits scale too (15 px tall) as long as they fit the tile.
    let big = ImageGrid.contactSheet(images, columns: 4, firstIndex: 0, scale: 3)
    #expect(big.height == 3 * (5 * 3 + 2 + 24 + 2) + 2)
  }

  @Test func pairPutsOriginalLeftAndUnlearnedRight() throws {
    let original = Tensor(shape: [4, 1, 3, 3])
    original.fill(-1)
    let unlearned = Tensor(shape: [4, 1, 3, 3])
    unlearned.fill(1)
    let pair = ImageGrid.pair(original: original, unlearned: unlearned, columns: 2, padding: 1, gap: 5)
    let half = 2 * (3 + 1) + 1
    #expect(pair.width == 2 * half + 5 && pair.height == half)
    #expect(pair[1, 1] == 0 && pair[half + 5 + 1, 1] == 255)
    #expect((half..<(half + 5)).allSatisfy { pair[$0, 4] == 128 })  // the gap
    let numbered = ImageGrid.pair(original: original, unlearned: unlearned, columns: 2, padding: 1, numbered: true)
    #expect(numbered.height == 2 * (5 + 2 + 3 + 1) + 1)
  }
}
