import Foundation
import IO
import Tensor
import Testing

@Suite("ModelFile and array files")
struct ModelFileTests {
  static let architecture = #"{"family":"dcgan","latent_dim":4,"channels":1,"base_size":7,"widths":[8,4]}"#

  static func sample() -> ModelFile {
    func ramp(_ shape: [Int], _ offset: Float) -> Tensor {
      let n = shape.reduce(1, *)
      return Tensor(shape: shape, values: (0..<n).map { Float($0) * 0.01 + offset })
    }
    return ModelFile(
      architecture: architecture,
      groups: [
        "generator": [
          "main.0.weight": ramp([4, 8, 7, 7], -1),
          "main.1.weight": ramp([8], 1),
          "main.1.bias": ramp([8], 0),
          "main.1.running_mean": ramp([8], 0.5),
          "main.1.running_var": ramp([8], 2),
          "main.1.num_batches_tracked": Tensor(shape: [], values: [1234]),
        ],
        "discriminator": [
          "main.0.weight": ramp([8, 1, 4, 4], 3),
          "main.2.num_batches_tracked": Tensor(shape: [1], values: [7]),
        ],
      ])
  }

  @Test func roundTripKeepsKeysShapesValuesAndInt64Counters() throws {
    let folder = try makeTemporaryFolder()
    defer { removeTemporaryFolder(folder) }
    let path = folder + "/model.h5"
    let model = Self.sample()
    try model.write(to: path)

    let read = try ModelFile.read(path)
    #expect(read.architecture == Self.architecture)
    #expect(Set(read.groups.keys) == ["generator", "discriminator"])
    for (name, tensors) in model.groups {
      let loaded = try #require(read.groups[name])
      #expect(Set(loaded.keys) == Set(tensors.keys))
      for (key, tensor) in tensors {
        let other = try #require(loaded[key])
        if key.hasSuffix("num_batches_tracked") {
          #expect(other.shape == [1])
        } else {
          #expect(other.shape == tensor.shape, "\(name)/\(key)")
        }
        #expect(other.array == tensor.array, "\(name)/\(key)")
      }
    }

    // The layout PyTorch tooling relies on: root attributes and int64 0-dim counters.
    let file = try HDF5File.open(path)
    #expect(try file.stringAttribute("format") == "unlearn.model")
    #expect(try file.int64Attribute("format_version") == 1)
    #expect(try file.shape(of: "/generator/main.1.num_batches_tracked") == [])
    #expect(try file.readInt64("/generator/main.1.num_batches_tracked") == [1234])
    #expect(try file.readInt64("/discriminator/main.2.num_batches_tracked") == [7])
    #expect(throws: HDF5Error.self) { try file.readInt64("/generator/main.0.weight") }
    #expect(try file.shape(of: "/generator/main.0.weight") == [4, 8, 7, 7])
  }

  /// Tests/Fixtures/io/h5py_model.h5 was written by h5py (make_h5py_fixture.py): other numeric types,
  /// a fixed-length string, a gzip dataset and a numpy int64 scalar.
  @Test func readsAFileWrittenByH5py() throws {
    let path = fixture("h5py_model.h5")
    let model = try ModelFile.read(path)
    #expect(model.architecture.hasPrefix(#"{"family":"dcgan""#))
    let generator = try #require(model.groups["generator"])
    #expect(Set(model.groups.keys) == ["generator"])
    let weight = try #require(generator["main.0.weight"])
    #expect(weight.shape == [2, 3, 7, 7] && weight[0] == 0 && abs(weight[293] - 2.93) < 1e-6)
    #expect(generator["main.1.weight"]?.array == [1.5, -2, 3.25])
    #expect(generator["main.1.bias"]?.array == [1, -2, 3])
    #expect(generator["main.1.num_batches_tracked"]?.shape == [1])
    #expect(generator["main.1.num_batches_tracked"]?.array == [321])
    let file = try HDF5File.open(path)
    #expect(try file.stringAttribute("fixed") == "fixed ascii")
    #expect(try file.doubleAttribute("ratio") == 0.5)
    #expect(try file.readUInt8("/labels") == [0, 1, 1, 0])
    #expect(try file.readInt64("/generator/main.1.bias") == [1, -2, 3])
    #expect(try file.readInt64("/generator/main.1.num_batches_tracked") == [321])
  }

  @Test func checkpointGroupsAreSkipped() throws {
    let folder = try makeTemporaryFolder()
    defer { removeTemporaryFolder(folder) }
    let path = folder + "/latest.h5"
    let file = try HDF5File.create(path)
    try Self.sample().write(to: file)
    try file.write([Float](repeating: 0, count: 8), shape: [8], to: "/optimizer/m/generator/main.1.bias")
    try file.write([Int64(3)], shape: [], to: "/optimizer/step")
    try file.write([Double](repeating: 0, count: 4), shape: [2, 2], to: "/metrics/loss")
    try file.setAttribute("step", 10)
    try file.commit()
    let model = try ModelFile.read(path)
    #expect(Set(model.groups.keys) == ["generator", "discriminator"])
  }

  @Test func readRejectsFilesOfAnotherFormatWithClearErrors() throws {
    let folder = try makeTemporaryFolder()
    defer { removeTemporaryFolder(folder) }
    func make(_ name: String, _ body: (HDF5File) throws -> Void) throws -> String {
      let path = "\(folder)/\(name).h5"
      let file = try HDF5File.create(path)
      try body(file)
      try file.commit()
      return path
    }
    let noFormat = try make("noformat") { try $0.write([Float(1)], shape: [1], to: "/z") }
    let e1 = #expect(throws: HDF5Error.self) { try ModelFile.read(noFormat) }
    #expect(e1?.description == "\(noFormat): attribute format of /: missing: not an unlearn.model file")

    let latents = folder + "/z.h5"
    try LatentsFile.write(Tensor(shape: [2, 3]), to: latents)
    let e2 = #expect(throws: HDF5Error.self) { try ModelFile.read(latents) }
    #expect(
      e2?.description == "\(latents): attribute format of /: expected \"unlearn.model\", found \"unlearn.latents\"")

    let future = try make("future") { file in
      try file.setAttribute("format", "unlearn.model")
      try file.setAttribute("format_version", 2)
      try file.setAttribute("architecture", "{}")
    }
    let e3 = #expect(throws: HDF5Error.self) { try ModelFile.read(future) }
    #expect(e3?.object == "attribute format_version of /")
    #expect(e3?.description.contains("version 2 is not supported") == true)

    let noVersion = try make("noversion") { try $0.setAttribute("format", "unlearn.model") }
    let e4 = #expect(throws: HDF5Error.self) { try ModelFile.read(noVersion) }
    #expect(e4?.description == "\(noVersion): attribute format_version of /: not found")

    let badJSON = try make("badjson") { file in
      try file.setAttribute("format", "unlearn.model")
      try file.setAttribute("format_version", 1)
      try file.setAttribute("architecture", "{not json")
    }
    let e5 = #expect(throws: HDF5Error.self) { try ModelFile.read(badJSON) }
    #expect(e5?.description == "\(badJSON): attribute architecture of /: not a JSON object")

    let nested = try make("nested") { file in
      try ModelFile(architecture: "{}", groups: [:]).write(to: file)
      try file.createGroup("/generator/sub")
    }
    let e6 = #expect(throws: HDF5Error.self) { try ModelFile.read(nested) }
    #expect(e6?.object == "group /generator/sub")

    let missing = folder + "/missing.h5"
    let e7 = #expect(throws: HDF5Error.self) { try ModelFile.read(missing) }
    #expect(e7?.reason == .fileNotFound && e7?.file == missing)
  }

  @Test func latentsAndImagesFilesRoundTripAndCheckRank() throws {
    let folder = try makeTemporaryFolder()
    defer { removeTemporaryFolder(folder) }
    let z = Tensor(shape: [3, 5], values: (0..<15).map { Float($0) - 7 })
    try LatentsFile.write(z, to: folder + "/z.h5")
    let zRead = try LatentsFile.read(folder + "/z.h5")
    #expect(zRead.shape == [3, 5] && zRead.array == z.array)

    let images = Tensor(shape: [2, 1, 4, 4], values: (0..<32).map { Float($0) / 16 - 1 })
    try ImagesFile.write(images, to: folder + "/i.h5")
    let iRead = try ImagesFile.read(folder + "/i.h5")
    #expect(iRead.shape == [2, 1, 4, 4] && iRead.array == images.array)

    let wrong = #expect(throws: HDF5Error.self) { try ImagesFile.read(folder + "/z.h5") }
    #expect(wrong?.description == "\(folder)/z.h5: dataset /images: not found")
    let file = try HDF5File.create(folder + "/flat.h5")
    try file.write([Float](repeating: 0, count: 4), shape: [4], to: "/z")
    try file.commit()
    let rank = #expect(throws: HDF5Error.self) { try LatentsFile.read(folder + "/flat.h5") }
    #expect(rank?.description == "\(folder)/flat.h5: dataset /z: expected 2 dimensions, found shape [4]")
  }
}
