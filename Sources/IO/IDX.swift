internal import CZlib
import Foundation
import Tensor

/// A failure reading an IDX (MNIST) file, naming the file.
public struct IDXError: Error, Equatable, CustomStringConvertible, LocalizedError {
  /// What went wrong.
  public enum Reason: Equatable, CustomStringConvertible {
    case fileNotFound
    /// The file could not be opened or decompressed (message from zlib or the system).
    case unreadable(String)
    /// The magic number is not `00 00 <type> <rank>` with the expected rank.
    case badMagic(found: UInt32, expectedRank: Int)
    /// The element type code is not 0x08 (unsigned byte).
    case wrongDataType(found: UInt8)
    /// The file ends before the data the header announces.
    case truncated(expectedBytes: Int, foundBytes: Int)
    /// The header's dimensions multiply to more bytes than any file can hold (a corrupted header).
    case badDimensions([Int])
    /// The file holds more data than the header announces (a corrupted dimension); reading past the data
    /// also lets zlib check a compressed file's CRC.
    case trailingData(expectedBytes: Int)
    /// The images file and the labels file hold different numbers of items (`file` is the labels file).
    case countMismatch(images: Int, labels: Int, imagesFile: String)

    public var description: String {
      switch self {
      case .fileNotFound: return "file not found"
      case .unreadable(let message): return "cannot read: \(message)"
      case .badMagic(let found, let rank):
        return "bad magic number 0x\(String(found, radix: 16, uppercase: true)) (expected 0x0000080\(rank))"
      case .wrongDataType(let found):
        return "element type 0x\(String(found, radix: 16, uppercase: true)) is not unsigned byte (0x08)"
      case .truncated(let expected, let found): return "truncated: expected \(expected) bytes, found \(found)"
      case .badDimensions(let dims): return "header announces dimensions \(dims), too large to be real"
      case .trailingData(let expected): return "more data than the header announces (\(expected) bytes)"
      case .countMismatch(let images, let labels, let imagesFile):
        return "\(labels) labels for \(images) images in \(imagesFile)"
      }
    }
  }

  public let file: String
  public let reason: Reason

  public init(file: String, reason: Reason) {
    self.file = file
    self.reason = reason
  }

  public var description: String { "\(file): \(reason)" }
  public var errorDescription: String? { description }
}

/// Images read from an IDX file: `count` images of `rows` × `cols` bytes, row-major, image after image.
public struct IDXImages: Equatable {
  public var count: Int
  public var rows: Int
  public var cols: Int
  public var pixels: [UInt8]

  public init(count: Int, rows: Int, cols: Int, pixels: [UInt8]) {
    precondition(pixels.count == count * rows * cols, "\(pixels.count) pixels for \(count)×\(rows)×\(cols)")
    self.count = count
    self.rows = rows
    self.cols = cols
    self.pixels = pixels
  }
}

/// The IDX format of MNIST (big-endian header `00 00 08 <rank>`, then the dimensions as UInt32, then
/// unsigned bytes), plain or gzip-compressed (zlib reads both transparently).
public enum IDX {
  /// Reads a rank-3 IDX file of unsigned bytes (e.g. `t10k-images-idx3-ubyte.gz`).
  public static func readImages(_ path: String) throws -> IDXImages {
    let (dims, pixels) = try read(path, rank: 3)
    return IDXImages(count: dims[0], rows: dims[1], cols: dims[2], pixels: pixels)
  }

  /// Reads a rank-1 IDX file of unsigned bytes (e.g. `t10k-labels-idx1-ubyte.gz`).
  public static func readLabels(_ path: String) throws -> [UInt8] {
    try read(path, rank: 1).data
  }

  /// Reads the header and all data of an IDX file of unsigned bytes with the given rank.
  static func read(_ path: String, rank: Int) throws -> (dims: [Int], data: [UInt8]) {
    guard FileManager.default.fileExists(atPath: path) else { throw IDXError(file: path, reason: .fileNotFound) }
    let reader = try GzipReader(path)
    let header = try reader.read(4)
    guard header.count == 4 else {
      throw IDXError(file: path, reason: .truncated(expectedBytes: 4, foundBytes: header.count))
    }
    let magic = header.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    guard header[0] == 0, header[1] == 0, Int(header[3]) == rank else {
      throw IDXError(file: path, reason: .badMagic(found: magic, expectedRank: rank))
    }
    guard header[2] == 0x08 else { throw IDXError(file: path, reason: .wrongDataType(found: header[2])) }
    let dimBytes = try reader.read(4 * rank)
    guard dimBytes.count == 4 * rank else {
      throw IDXError(file: path, reason: .truncated(expectedBytes: 4 + 4 * rank, foundBytes: 4 + dimBytes.count))
    }
    let dims = (0..<rank).map { d in
      dimBytes[(4 * d)..<(4 * d + 4)].reduce(0) { $0 << 8 | Int($1) }
    }
    var expected = 1
    for d in dims {
      let (product, overflow) = expected.multipliedReportingOverflow(by: d)
      guard !overflow, product <= 1 << 48 else { throw IDXError(file: path, reason: .badDimensions(dims)) }
      expected = product
    }
    let data = try reader.read(expected)
    guard data.count == expected else {
      let headerSize = 4 + 4 * rank
      throw IDXError(
        file: path, reason: .truncated(expectedBytes: headerSize + expected, foundBytes: headerSize + data.count))
    }
    guard try reader.read(1).isEmpty else {
      throw IDXError(file: path, reason: .trailingData(expectedBytes: 4 + 4 * rank + expected))
    }
    return (dims, data)
  }
}

/// Sequential reading of a plain or gzip file through zlib.
private final class GzipReader {
  private let path: String
  private let file: gzFile

  init(_ path: String) throws {
    self.path = path
    guard let file = gzopen(path, "rb") else {
      throw IDXError(file: path, reason: .unreadable(String(cString: strerror(errno))))
    }
    self.file = file
    gzbuffer(file, 1 << 17)
  }

  deinit { gzclose(file) }

  /// Up to `count` bytes; fewer only at the end of the file. Memory grows with what is actually read, so a
  /// corrupted header announcing terabytes cannot exhaust memory.
  func read(_ count: Int) throws -> [UInt8] {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(min(count, 1 << 26))
    var chunk = [UInt8](repeating: 0, count: min(count, 1 << 20))
    while bytes.count < count {
      let want = min(count - bytes.count, chunk.count)
      let n = chunk.withUnsafeMutableBytes { gzread(file, $0.baseAddress!, UInt32(want)) }
      if n < 0 {
        var code: Int32 = 0
        let message = gzerror(file, &code).map { String(cString: $0) } ?? "zlib error \(code)"
        throw IDXError(file: path, reason: .unreadable(message))
      }
      if n == 0 { break }
      bytes.append(contentsOf: chunk[0..<Int(n)])
    }
    return bytes
  }
}

extension IDXImages {
  /// Images [from, from + count) as a tensor [count, 1, rows, cols] in [−1, 1] (x / 127.5 − 1).
  public func tensor(from: Int = 0, count: Int? = nil) -> Tensor {
    let n = min(count ?? self.count - from, self.count - from)
    precondition(from >= 0 && n >= 0, "image range \(from)..<\(from + (count ?? 0)) outside 0..<\(self.count)")
    let per = rows * cols
    let t = Tensor(shape: [n, 1, rows, cols])
    pixels.withUnsafeBufferPointer { p in for i in 0..<(n * per) { t[i] = Float(p[from * per + i]) / 127.5 - 1 } }
    return t
  }
}
