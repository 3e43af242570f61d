internal import CZlib
import Foundation

/// A minimal PNG encoder (8-bit gray, gray+alpha, RGB or RGBA; no interlacing) built on zlib only.
public enum PNG {
  /// The 8-byte PNG signature.
  public static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

  /// Writes an 8-bit image to `path` atomically (temporary file, fsync, rename).
  /// - Parameters:
  ///   - channels: 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA).
  ///   - pixels: `height` rows of `width × channels` bytes, channels interleaved.
  /// - Throws: ``FileError`` naming the file.
  public static func write(path: String, width: Int, height: Int, channels: Int, pixels: [UInt8]) throws {
    let bytes = try encode(width: width, height: height, channels: channels, pixels: pixels, path: path)
    try AtomicFile.write(bytes, to: path)
  }

  /// The PNG file bytes for an 8-bit image (see ``write(path:width:height:channels:pixels:)``).
  public static func encode(width: Int, height: Int, channels: Int, pixels: [UInt8]) throws -> [UInt8] {
    try encode(width: width, height: height, channels: channels, pixels: pixels, path: "<memory>")
  }

  private static func encode(width: Int, height: Int, channels: Int, pixels: [UInt8], path: String) throws
    -> [UInt8]
  {
    precondition(width > 0 && height > 0, "PNG size \(width)×\(height) must be positive")
    precondition(width <= Int(Int32.max) && height <= Int(Int32.max), "PNG size \(width)×\(height) too large")
    let colorTypes: [Int: UInt8] = [1: 0, 2: 4, 3: 2, 4: 6]
    guard let colorType = colorTypes[channels] else { preconditionFailure("PNG channels \(channels) not in 1...4") }
    let rowBytes = width * channels
    precondition(pixels.count == rowBytes * height, "\(pixels.count) bytes for \(width)×\(height)×\(channels)")

    // Every scanline starts with its filter type; 0 (None) keeps the encoder trivial.
    var raw = [UInt8](repeating: 0, count: (rowBytes + 1) * height)
    raw.withUnsafeMutableBufferPointer { out in
      pixels.withUnsafeBufferPointer { src in
        for y in 0..<height {
          let dst = out.baseAddress! + y * (rowBytes + 1) + 1
          dst.update(from: src.baseAddress! + y * rowBytes, count: rowBytes)
        }
      }
    }
    var compressedSize = compressBound(uLong(raw.count))
    var compressed = [UInt8](repeating: 0, count: Int(compressedSize))
    let status = compress2(&compressed, &compressedSize, raw, uLong(raw.count), 6)
    guard status == Z_OK else {
      throw FileError(path: path, operation: "compress", message: "zlib error \(status)")
    }
    compressed.removeLast(compressed.count - Int(compressedSize))

    var header: [UInt8] = []
    header.appendBigEndian(UInt32(width))
    header.appendBigEndian(UInt32(height))
    header += [8, colorType, 0, 0, 0]  // bit depth, colour type, deflate, adaptive filtering, no interlace

    var file = signature
    appendChunk("IHDR", header, to: &file)
    appendChunk("IDAT", compressed, to: &file)
    appendChunk("IEND", [], to: &file)
    return file
  }

  /// Appends length, type, data and the CRC-32 of type + data.
  private static func appendChunk(_ type: String, _ data: [UInt8], to file: inout [UInt8]) {
    let typeBytes = Array(type.utf8)
    file.appendBigEndian(UInt32(data.count))
    file += typeBytes
    file += data
    var crc = crc32(0, typeBytes, UInt32(typeBytes.count))
    if !data.isEmpty {  // crc32 with a NULL buffer would return the initial value, not `crc`
      crc = data.withUnsafeBufferPointer { crc32(crc, $0.baseAddress, UInt32($0.count)) }
    }
    file.appendBigEndian(UInt32(crc))
  }
}

extension Array where Element == UInt8 {
  mutating func appendBigEndian(_ value: UInt32) {
    append(contentsOf: [
      UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF),
    ])
  }
}
