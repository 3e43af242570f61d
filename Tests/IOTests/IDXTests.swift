import CZlib
import Foundation
import IO
import Testing

@Suite("IDX (MNIST)")
struct IDXTests {
  static func mnist() throws -> (images: String, labels: String) {
    let folder = try #require(
      mnistFolder(), "MNIST test files not found: expected shared/data/mnist beside an ancestor of the repository")
    return (folder + "/t10k-images-idx3-ubyte.gz", folder + "/t10k-labels-idx1-ubyte.gz")
  }

  @Test func readsTheRealMNISTTestSet() throws {
    let (imagesPath, labelsPath) = try Self.mnist()
    let images = try IDX.readImages(imagesPath)
    #expect(images.count == 10_000 && images.rows == 28 && images.cols == 28)
    #expect(images.pixels.count == 10_000 * 28 * 28)
    let mean = Double(images.pixels.reduce(0) { $0 + Int($1) }) / Double(images.pixels.count)
    #expect(mean > 30 && mean < 37, "mean pixel \(mean)")  // MNIST test mean ≈ 0.1325 × 255 ≈ 33.8
    #expect(images.pixels.min() == 0 && images.pixels.max() == 255)
    #expect(images.pixels[0..<28].allSatisfy { $0 == 0 })  // top row of the first digit is background

    let labels = try IDX.readLabels(labelsPath)
    #expect(labels.count == 10_000)
    #expect(Array(labels.prefix(5)) == [7, 2, 1, 0, 4])
    var counts = [Int](repeating: 0, count: 10)
    for label in labels { counts[Int(label)] += 1 }
    #expect(counts == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])

    let dataset = try IDXDataset.load(images: imagesPath, labels: labelsPath)
    #expect(dataset.images.shape == [10_000, 1, 28, 28])
    #expect(dataset.count == 10_000 && dataset.labels[0] == 7)
    let values = dataset.images.buffer
    #expect(values.min() == -1 && values.max() == 1)
    for i in stride(from: 0, to: values.count, by: 9973) {
      #expect(abs(values[i] - (Float(images.pixels[i]) / 127.5 - 1)) < 1e-6)
    }
  }

  /// An uncompressed IDX file.
  static func idx(type: UInt8 = 0x08, dims: [Int], magicPrefix: [UInt8] = [0, 0], data: [UInt8]) -> [UInt8] {
    var bytes = magicPrefix + [type, UInt8(dims.count)]
    for d in dims { bytes += [UInt8(d >> 24 & 255), UInt8(d >> 16 & 255), UInt8(d >> 8 & 255), UInt8(d & 255)] }
    return bytes + data
  }

  static func write(_ bytes: [UInt8], _ path: String) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
  }

  static func writeGzip(_ bytes: [UInt8], _ path: String) throws {
    let file = try #require(gzopen(path, "wb"))
    let written = bytes.withUnsafeBytes { gzwrite(file, $0.baseAddress, UInt32($0.count)) }
    #expect(Int(written) == bytes.count)
    #expect(gzclose(file) == Z_OK)
  }

  @Test func readsPlainAndGzipFilesAlike() throws {
    let folder = try makeTemporaryFolder()
    defer { removeTemporaryFolder(folder) }
    let pixels = (0..<(3 * 2 * 4)).map { UInt8($0 * 10) }
    let bytes = Self.idx(dims: [3, 2, 4], data: pixels)
    try Self.write(bytes, folder + "/plain")
    try Self.writeGzip(bytes, folder + "/packed.gz")
    for path in [folder + "/plain", folder + "/packed.gz"] {
      let images = try IDX.readImages(path)
      #expect(images == IDXImages(count: 3, rows: 2, cols: 4, pixels: pixels))
    }
    try Self.writeGzip(Self.idx(dims: [3], data: [1, 2, 9]), folder + "/labels.gz")
    #expect(try IDX.readLabels(folder + "/labels.gz") == [1, 2, 9])
    let dataset = try IDXDataset.load(images: folder + "/plain", labels: folder + "/labels.gz")
    #expect(dataset.images.shape == [3, 1, 2, 4])
    #expect(dataset.images[0] == -1 && abs(dataset.images[23] - (230 / 127.5 - 1)) < 1e-6)
  }

  @Test func corruptedFilesGiveTypedErrorsNamingTheFile() throws {
    let folder = try makeTemporaryFolder()
    defer { removeTemporaryFolder(folder) }
    let (realImages, realLabels) = try Self.mnist()

    let missing = folder + "/missing.gz"
    let e0 = #expect(throws: IDXError.self) { try IDX.readImages(missing) }
    #expect(e0 == IDXError(file: missing, reason: .fileNotFound))
    #expect(e0?.description == "\(missing): file not found")

    // The real labels file read as images: rank 1, not 3.
    let e1 = #expect(throws: IDXError.self) { try IDX.readImages(realLabels) }
    #expect(e1?.reason == .badMagic(found: 0x0000_0801, expectedRank: 3))
    #expect(e1?.description == "\(realLabels): bad magic number 0x801 (expected 0x00000803)")

    let badMagic = folder + "/badmagic"
    try Self.write(Self.idx(dims: [1, 1, 1], magicPrefix: [0x1F, 0], data: [0]), badMagic)
    let e2 = #expect(throws: IDXError.self) { try IDX.readImages(badMagic) }
    #expect(e2 == IDXError(file: badMagic, reason: .badMagic(found: 0x1F00_0803, expectedRank: 3)))

    let floats = folder + "/floats"
    try Self.write(Self.idx(type: 0x0D, dims: [1], data: [0, 0, 0, 0]), floats)
    let e3 = #expect(throws: IDXError.self) { try IDX.readLabels(floats) }
    #expect(e3 == IDXError(file: floats, reason: .wrongDataType(found: 0x0D)))

    // A real images file cut short, gzip-compressed again.
    let truncated = folder + "/truncated-images.gz"
    var gunzipped = try IDX.readImages(realImages).pixels
    gunzipped.removeLast(gunzipped.count - 1000)
    try Self.writeGzip(Self.idx(dims: [10_000, 28, 28], data: gunzipped), truncated)
    let e4 = #expect(throws: IDXError.self) { try IDX.readImages(truncated) }
    #expect(e4 == IDXError(file: truncated, reason: .truncated(expectedBytes: 16 + 7_840_000, foundBytes: 16 + 1000)))

    let shortHeader = folder + "/short"
    try Self.write([0, 0, 8, 3, 0, 0], shortHeader)
    let e5 = #expect(throws: IDXError.self) { try IDX.readImages(shortHeader) }
    #expect(e5?.reason == .truncated(expectedBytes: 16, foundBytes: 6))

    // The compressed stream itself cut in half: zlib reports it.
    let cutStream = folder + "/cut.gz"
    let compressed = try Data(contentsOf: URL(fileURLWithPath: realLabels))
    try compressed.prefix(compressed.count / 2).write(to: URL(fileURLWithPath: cutStream))
    let e6 = #expect(throws: IDXError.self) { try IDX.readLabels(cutStream) }
    #expect(e6?.file == cutStream)

    let fewLabels = folder + "/labels-100"
    try Self.write(Self.idx(dims: [100], data: [UInt8](repeating: 3, count: 100)), fewLabels)
    let e7 = #expect(throws: IDXError.self) { try IDXDataset.load(images: realImages, labels: fewLabels) }
    #expect(
      e7 == IDXError(file: fewLabels, reason: .countMismatch(images: 10_000, labels: 100, imagesFile: realImages)))
    #expect(e7?.description == "\(fewLabels): 100 labels for 10000 images in \(realImages)")
  }
}
