/// A 3×5 pixel font for the digits 0-9, drawn at an integer scale (for numbering tiles of a contact sheet).
enum BitmapFont {
  static let glyphWidth = 3
  static let glyphHeight = 5

  /// Rows of each digit, top to bottom; bit 2 is the left column.
  static let digits: [[UInt8]] = [
    [0b111, 0b101, 0b101, 0b101, 0b111],  // 0
    [0b010, 0b110, 0b010, 0b010, 0b111],  // 1
    [0b111, 0b001, 0b111, 0b100, 0b111],  // 2
    [0b111, 0b001, 0b111, 0b001, 0b111],  // 3
    [0b101, 0b101, 0b111, 0b001, 0b001],  // 4
    [0b111, 0b100, 0b111, 0b001, 0b111],  // 5
    [0b111, 0b100, 0b111, 0b101, 0b111],  // 6
    [0b111, 0b001, 0b001, 0b001, 0b001],  // 7
    [0b111, 0b101, 0b111, 0b101, 0b111],  // 8
    [0b111, 0b101, 0b111, 0b001, 0b111],  // 9
  ]

  /// Whether the pixel at (`column`, `row`) of `digit`'s glyph is set.
  static func isSet(_ digit: Int, column: Int, row: Int) -> Bool {
    digits[digit][row] >> (glyphWidth - 1 - column) & 1 == 1
  }

  /// Width in pixels of `text` drawn at `scale` (one blank column between glyphs).
  static func width(of text: String, scale: Int) -> Int {
    text.isEmpty ? 0 : (text.count * (glyphWidth + 1) - 1) * scale
  }

  /// Draws the decimal digits of `text` with the top-left at (`x`, `y`), clipped to the image.
  static func draw(_ text: String, into image: inout Image, x: Int, y: Int, scale: Int, value: UInt8) {
    for (i, character) in text.enumerated() {
      guard let digit = character.wholeNumberValue, (0...9).contains(digit) else { continue }
      let left = x + i * (glyphWidth + 1) * scale
      for row in 0..<glyphHeight {
        for column in 0..<glyphWidth where isSet(digit, column: column, row: row) {
          for dy in 0..<scale {
            let py = y + row * scale + dy
            guard py >= 0, py < image.height else { continue }
            for dx in 0..<scale {
              let px = left + column * scale + dx
              guard px >= 0, px < image.width else { continue }
              for c in 0..<image.channels { image[px, py, c] = value }
            }
          }
        }
      }
    }
  }
}
