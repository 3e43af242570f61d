import Foundation
import Tensor
import Testing

@testable import IO

@Suite("HDF5File")
struct HDF5FileTests {
  @Test func floatTensorRoundTripPlainAndCompressed() throws {
    let folder = try makeTemporaryFolder()
    defer { removeTemporaryFolder(folder) }
    let path = folder + "/t.h5"
    let values = (0..<24).map { Float($0) * 0.25 - 3 }
    let tensor = Tensor(shape: [2, 3, 4], values: values)
    let file = try HDF5File.create(path)
    try file.write(tensor, to: "/a/plain")
    try file.write(tensor, to: "a/gzip", compressionLevel: 6)
    try file.write([Float](repeating: 7, count: 6), shape: [6], to: "/b")
    try file.write([Float(2.5)], shape: [], to: "/scalar")
    try file.write([Float](), shape: [0, 3], to: "/empty")
    try file.commit()

    let read = try HDF5File.open(path)
    for name in ["/a/plain", "/a/gzip"] {
      let t = try read.readFloats(name)
      #expect(t.shape == [2, 3, 4])
      #expect(t.array == values)
    }
    #expect(try read.readFloats("/b").array == [Float](repeating: 7, count: 6))
    let scalar = try read.readFloats("/scalar")
    #expect(scalar.shape == [] && scalar[0] == 2.5)
    #expect(try read.shape(of: "/scalar") == [])
    #expect(try read.shape(of: "/empty") == [0, 3])
    #expect(try read.readFloats("/empty").count == 0)
    let into = Tensor(shape: [2, 3, 4])
    try read.read("/a/plain", into: into)
    #expect(into.array == values)
  }

  @Test func integerAndDoubleRoundTripsAndConversions() throws {
    let folder = try makeTemporaryFolder()
    defer { removeTemporaryFolder(folder) }
    let path = folder + "/n.h5"
    let file = try HDF5File.create(path)
    let doubles = [1.0 / 3, -2e300, 0, 5]
    let ints: [Int64] = [Int64.min, -1, 0, 1, Int64.max, 42]
    let bytes: [UInt8] = [0, 1, 127, 128, 255, 9]
    try file.write(doubles, shape: [2, 2], to: "/d")
    try file.write(ints, shape: [3, 2], to: "/i")
    try file.write(bytes, shape: [6], to: "/u")
    try file.write([Int64(12)], shape: [], to: "/g/step")
    try file.write([Double.pi], shape: [], to: "/g/pi")
    try file.write([UInt8(3)], shape: [], to: "/g/three")
    try file.write([Int64(-5), 1 << 20], shape: [2], to: "/small")
    try file.commit()

    let read = try HDF5File.open(path)
    #expect(try read.readDoubles("/d") == doubles)
    #expect(try read.shape(of: "/d") == [2, 2])
    #expect(try read.readInt64("/i") == ints)
    #expect(try read.readUInt8("/u") == bytes)
    #expect(try read.readInt64("/g/step") == [12])
    #expect(try read.readDoubles("/g/pi") == [Double.pi])
    #expect(try read.readUInt8("/g/three") == [3])
    // HDF5 conversion: any numeric type reads as Float / Double.
    #expect(try read.readFloats("/u").array == bytes.map(Float.init))
    #expect(try read.readFloats("/small").array == [-5, 1_048_576])
    #expect(try read.readDoubles("/u") == bytes.map(Double.init))
    let f = try read.readFloats("/g/step")
    #expect(f.shape == [] && f[0] == 12)
  }

  @Test func groupsMembersAndObjectKinds() throws {
    let folder = try makeTemporaryFolder()
    defer { removeTemporaryFolder(folder) }
    let path = folder + "/g.h5"
    let file = try HDF5File.create(path)
    try file.createGroup("/x/y/z")
    try file.createGroup("/x/y")  // existing group: no-op
    try file.createGroup("generator")
    try file.write([Float](repeating: 0, count: 2), shape: [2], to: "/generator/main.3.weight")
    try file.write([Float](repeating: 0, count: 2), shape: [2], to: "/generator/main.10.bias")
    try file.write([Float](repeating: 0, count: 2), shape: [2], to: "/generator/main.1.running_mean")
    #expect(throws: HDF5Error.self) { try file.createGroup("/generator/main.3.weight") }
    try file.commit()

    let read = try HDF5File.open(path)
    #expect(try read.members() == ["generator", "x"])
    #expect(try read.members(of: "/generator") == ["main.1.running_mean", "main.10.bias", "main.3.weight"])
    #expect(try read.members(of: "x/y") == ["z"])
    #expect(try read.members(of: "/x/y/z") == [])
    #expect(read.exists("/") && read.isGroup("/"))
    #expect(read.exists("/x/y/z") && read.isGroup("/x/y/z") && !read.isDataset("/x/y/z"))
    #expect(read.isDataset("/generator/main.3.weight") && !read.isGroup("/generator/main.3.weight"))
    #expect(!read.exists("/nope") && !read.exists("/nope/deeper") && !read.isDataset("/x/nope"))
    let error = #expect(throws: HDF5Error.self) { try read.members(of: "/generator/main.3.weight") }
    #expect(error?.reason == .wrongType(expected: "a group", found: "a dataset"))
  }

  @Test func attributesOfEveryTypeOnRootGroupAndDataset() throws {
    let folder = try makeTemporaryFolder()
    defer { removeTemporaryFolder(folder) }
    let path = folder + "/a.h5"
    let file = try HDF5File.create(path)
    let json = #"{"family":"dcgan","widths":[256,128],"note":"é ✓"}"#
    try file.setAttribute("format", "first")
    try file.setAttribute("format", "unlearn.model")  // replaces
    try file.setAttribute("architecture", json)
    try file.setAttribute("fixed", "fixed-length text", fixedLength: true)
    try file.setAttribute("empty", "")
    try file.setAttribute("step", Int64(-7))
    try file.setAttribute("seed", 1234)
    try file.setAttribute("threshold", 0.125)
    try file.setAttribute("curve", [1.5, -2, 1e-300])
    try file.setAttribute("none", [Double]())
    try file.write([Float](repeating: 1, count: 3), shape: [3], to: "/direction")
    try file.setAttribute("latent_space", "z", on: "/direction")
    try file.setAttribute("n_positive", 17, on: "direction")
    try file.createGroup("/generator")
    try file.setAttribute("scale", 2.0, on: "/generator")
    try file.commit()

    let read = try HDF5File.open(path)
    #expect(try read.stringAttribute("format") == "unlearn.model")
    #expect(try read.stringAttribute("architecture") == json)
    #expect(try read.stringAttribute("fixed") == "fixed-length text")
    #expect(try read.stringAttribute("empty") == "")
    #expect(try read.int64Attribute("step") == -7)
    #expect(try read.int64Attribute("seed") == 1234)
    #expect(try read.doubleAttribute("threshold") == 0.125)
    #expect(try read.doubleAttribute("seed") == 1234)  // integer attribute converts to Double
    #expect(try read.doublesAttribute("curve") == [1.5, -2, 1e-300])
    #expect(try read.doublesAttribute("none") == [])
    #expect(try read.stringAttribute("latent_space", of: "/direction") == "z")
    #expect(try read.int64Attribute("n_positive", of: "/direction") == 17)
    #expect(try read.doubleAttribute("scale", of: "/generator") == 2)
    #expect(
      try read.attributeNames() == [
        "architecture", "curve", "empty", "fixed", "format", "none", "seed", "step", "threshold",
      ])
    #expect(try read.attributeNames(of: "/direction") == ["latent_space", "n_positive"])
    #expect(try read.attributeNames(of: "/generator") == ["scale"])
    #expect(read.hasAttribute("seed") && !read.hasAttribute("nope") && !read.hasAttribute("x", on: "/nope"))

    let missing = #expect(throws: HDF5Error.self) { try read.int64Attribute("nope", of: "/generator") }
    #expect(missing?.description == "\(path): attribute nope of /generator: not found")
    let wrongType = #expect(throws: HDF5Error.self) { try read.int64Attribute("format") }
    #expect(wrongType?.reason == .wrongType(expected: "integers", found: "strings"))
    let notString = #expect(throws: HDF5Error.self) { try read.stringAttribute("step") }
    #expect(notString?.reason == .wrongType(expected: "a string", found: "integers"))
    let notScalar = #expect(throws: HDF5Error.self) { try read.doubleAttribute("curve") }
    #expect(notScalar?.reason == .wrongShape(expected: [], found: [3]))
  }

  @Test func errorsNameTheFileAndObject() throws {
    let folder = try makeTemporaryFolder()
    defer { removeTemporaryFolder(folder) }
    let missingPath = folder + "/missing.h5"
    let missing = #expect(throws: HDF5Error.self) { try HDF5File.open(missingPath) }
    #expect(missing?.description == "\(missingPath): file not found")

    let textPath = folder + "/notes.txt"
    try "hello, not HDF5\n".write(toFile: textPath, atomically: true, encoding: .utf8)
    let notHDF5 = #expect(throws: HDF5Error.self) { try HDF5File.open(textPath) }
    #expect(notHDF5?.description == "\(textPath): not an HDF5 file")

    let badFolder = folder + "/no/such/folder/x.h5"
    let noFolder = #expect(throws: HDF5Error.self) { try HDF5File.create(badFolder) }
    #expect(noFolder?.file == badFolder)
    #expect(noFolder?.description.contains("does not exist") == true)

    let path = folder + "/x.h5"
    let file = try HDF5File.create(path)
    try file.write([Float](repeating: 1, count: 4), shape: [2, 2], to: "/generator/main.0.bias")
    let duplicate = #expect(throws: HDF5Error.self) {
      try file.write([Float](repeating: 1, count: 4), shape: [2, 2], to: "/generator/main.0.bias")
    }
    #expect(duplicate?.reason == .alreadyExists)
    try file.commit()
    #expect(!file.isOpen)
    let afterCommit = #expect(throws: HDF5Error.self) { try file.readFloats("/generator/main.0.bias") }
    #expect(afterCommit?.reason == .closed)

    let read = try HDF5File.open(path)
    let notFound = #expect(throws: HDF5Error.self) { try read.readFloats("/generator/main.0.weight") }
    #expect(notFound?.description == "\(path): dataset /generator/main.0.weight: not found")
    #expect(notFound?.localizedDescription == "\(path): dataset /generator/main.0.weight: not found")
    let deep = #expect(throws: HDF5Error.self) { try read.readInt64("/encoder/x/y") }
    #expect(deep?.description == "\(path): dataset /encoder/x/y: not found")
    let group = #expect(throws: HDF5Error.self) { try read.readFloats("/generator") }
    #expect(group?.reason == .wrongType(expected: "a dataset", found: "a group"))
    let integers = #expect(throws: HDF5Error.self) { try read.readInt64("/generator/main.0.bias") }
    #expect(integers?.reason == .wrongType(expected: "integers", found: "floating-point numbers"))
    let shape = #expect(throws: HDF5Error.self) { try read.read("/generator/main.0.bias", into: Tensor(shape: [4])) }
    #expect(shape?.reason == .wrongShape(expected: [4], found: [2, 2]))
    let readOnly = #expect(throws: HDF5Error.self) { try read.write([Float(1)], shape: [], to: "/new") }
    #expect(readOnly?.description == "\(path): dataset /new: file is not open for writing")
    #expect(throws: HDF5Error.self) { try read.setAttribute("a", 1) }
    #expect(throws: HDF5Error.self) { try read.commit() }
  }

  @Test func uncommittedCreateLeavesNothingAndKeepsThePreviousFile() throws {
    let folder = try makeTemporaryFolder()
    defer { removeTemporaryFolder(folder) }
    let path = folder + "/model.h5"

    // Dropped without commit: no output, no temporary file.
    do {
      let file = try HDF5File.create(path)
      try file.write([Float](repeating: 1, count: 3), shape: [3], to: "/v")
      #expect(listing(folder) == ["model.h5.tmp-\(getpid())"])
    }
    #expect(listing(folder) == [])

    // First version, committed.
    do {
      let file = try HDF5File.create(path)
      try file.write([Float](repeating: 1, count: 3), shape: [3], to: "/v")
      try file.setAttribute("version", 1)
      try file.commit()
    }
    #expect(listing(folder) == ["model.h5"])

    // A second version in progress does not disturb the first; dropping it leaves the first intact.
    do {
      let file = try HDF5File.create(path)
      try file.write([Float](repeating: 2, count: 5), shape: [5], to: "/v")
      let old = try HDF5File.open(path)
      #expect(try old.readFloats("/v").array == [1, 1, 1])
      old.close()
      file.close()
      #expect(!file.isOpen)
    }
    #expect(listing(folder) == ["model.h5"])
    let intact = try HDF5File.open(path)
    #expect(try intact.int64Attribute("version") == 1)
    #expect(try intact.readFloats("/v").array == [1, 1, 1])
    intact.close()

    // Committing replaces it.
    let file = try HDF5File.create(path)
    try file.write([Float](repeating: 2, count: 5), shape: [5], to: "/v")
    try file.setAttribute("version", 2)
    try file.commit()
    #expect(listing(folder) == ["model.h5"])
    let replaced = try HDF5File.open(path)
    #expect(try replaced.int64Attribute("version") == 2)
    #expect(try replaced.readFloats("/v").array == [2, 2, 2, 2, 2])
  }

  @Test func concurrentReadersAreSerialised() throws {
    let folder = try makeTemporaryFolder()
    defer { removeTemporaryFolder(folder) }
    let path = folder + "/c.h5"
    let file = try HDF5File.create(path)
    for i in 0..<8 {
      try file.write((0..<100).map { Float($0 + i) }, shape: [10, 10], to: "/d\(i)")
    }
    try file.commit()
    let failures = LockedCounter()
    DispatchQueue.concurrentPerform(iterations: 16) { worker in
      do {
        let reader = try HDF5File.open(path)
        for round in 0..<20 {
          let i = (worker + round) % 8
          let t = try reader.readFloats("/d\(i)")
          if t[0] != Float(i) || t[99] != Float(99 + i) || t.shape != [10, 10] { failures.increment() }
          if (try? reader.readFloats("/missing")) != nil { failures.increment() }
        }
      } catch {
        failures.increment()
      }
    }
    #expect(failures.value == 0)
  }
}

final class LockedCounter: @unchecked Sendable {
  private let lock = NSLock()
  private var count = 0
  func increment() { lock.withLock { count += 1 } }
  var value: Int { lock.withLock { count } }
}
