import Foundation
import IO
import Tensor
import TestSupport
import Testing

@testable import Unlearning

/// Bad input (docs/RELIABILITY.md, "Bad input"): every case runs the real `unlearn` binary and expects a
/// non-zero exit by itself (never a trap or a signal) whose first line names the file, dataset, key or flag
/// and what was expected, and no partial output left behind.
@Suite struct ReliabilityInputTests {
  /// A folder with the tiny model and direction, and the train output path (which must not appear);
  /// removed when the test ends.
  final class Setup {
    let dir: String
    let files: (model: String, direction: String)
    var out: String { dir + "/out" }
    init(_ name: String = #function) throws {
      dir = temporaryFolder(name)
      files = try writeTinyRun(in: dir)
    }
    deinit { try? FileManager.default.removeItem(atPath: dir) }

    /// Runs `train` with the given model/direction (default: the valid ones) and extra flags, expects a
    /// clean failure naming `mentions`, and that no output folder or temporary file was left.
    @discardableResult
    func expectTrainFails(
      model: String? = nil, direction: String? = nil, extra: [String] = [], mentions: [String],
      sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> Job {
      let job = try Reliability.unlearn(
        Reliability.train((model ?? files.model, direction ?? files.direction), out: out, steps: 2, extra: extra))
      Reliability.expectCleanFailure(job, mentions: mentions, sourceLocation: sourceLocation)
      #expect(
        !FileManager.default.fileExists(atPath: out), "a rejected run left \(out)", sourceLocation: sourceLocation)
      #expect(
        Reliability.leftovers(in: dir).isEmpty, "\(Reliability.leftovers(in: dir))", sourceLocation: sourceLocation)
      return job
    }
  }

  // MARK: Files

  @Test func missingFile() throws {
    let s = try Setup()
    try s.expectTrainFails(model: s.dir + "/missing.h5", mentions: ["--model", "missing.h5", "does not exist"])
    try s.expectTrainFails(direction: s.dir + "/nope.h5", mentions: ["--direction", "nope.h5", "does not exist"])
    let job = try Reliability.unlearn(["direction", "--collection", s.dir + "/none.h5", "--out", s.dir + "/d2.h5"])
    Reliability.expectCleanFailure(job, mentions: ["--collection", "none.h5"])
    #expect(!FileManager.default.fileExists(atPath: s.dir + "/d2.h5"))
  }

  @Test func fileThatIsNotHDF5() throws {
    let s = try Setup()
    try "not a model\n".write(toFile: s.dir + "/notes.txt", atomically: true, encoding: .utf8)
    try s.expectTrainFails(model: s.dir + "/notes.txt", mentions: ["notes.txt", "not an HDF5 file"])
    try s.expectTrainFails(direction: s.dir + "/notes.txt", mentions: ["notes.txt", "not an HDF5 file"])
  }

  @Test func hdf5FileMissingADatasetOrAttribute() throws {
    let s = try Setup()
    // A direction file without /direction, and one without the threshold attribute.
    let f = try HDF5File.create(s.dir + "/empty.h5")
    try f.setAttribute("threshold", 0.5)
    try f.commit()
    try s.expectTrainFails(direction: s.dir + "/empty.h5", mentions: ["empty.h5", "dataset /direction", "not found"])
    try Reliability.direction([1, 2, 3, 4, 5, 6, 7, 8], threshold: nil, to: s.dir + "/nothreshold.h5")
    try s.expectTrainFails(
      direction: s.dir + "/nothreshold.h5", mentions: ["nothreshold.h5", "attribute threshold", "not found"])
    // A model file without the format attribute.
    let g = try HDF5File.create(s.dir + "/noformat.h5")
    try g.write([Float(1)], shape: [1], to: "/generator/main.0.weight")
    try g.commit()
    try s.expectTrainFails(model: s.dir + "/noformat.h5", mentions: ["noformat.h5", "attribute format"])
  }

  @Test func truncatedAndBitFlippedModelFiles() throws {
    let s = try Setup()
    let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: s.files.model)))
    try Data(bytes.prefix(bytes.count * 2 / 3)).write(to: URL(fileURLWithPath: s.dir + "/truncated.h5"))
    let truncated = try s.expectTrainFails(
      model: s.dir + "/truncated.h5", mentions: ["truncated.h5", "truncated file"])
    #expect(!truncated.stderr.contains("HDF5_USE_FILE_LOCKING"), "the locking hint is for lock failures only")
    // Flip one bit inside the stored values of /generator/main.0.weight (found by their bytes).
    let w = try ModelFile.read(s.files.model).groups["generator"]!["main.0.weight"]!
    let needle = (0..<4).flatMap { i in withUnsafeBytes(of: w[i].bitPattern.littleEndian, Array.init) }
    let at = try #require(Reliability.offset(of: needle, in: bytes), "weights not found in the file")
    var flipped = bytes
    flipped[at + 5] ^= 0x10
    try Data(flipped).write(to: URL(fileURLWithPath: s.dir + "/flipped.h5"))
    try s.expectTrainFails(model: s.dir + "/flipped.h5", mentions: ["flipped.h5", "main.0.weight"])
  }

  @Test func truncatedAndBitFlippedIDXFiles() throws {
    let s = try Setup()
    let (images, labels) = try Reliability.idxFiles(in: s.dir)
    let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: images)))
    func pretrain(_ imagesFile: String) throws -> Job {
      try Reliability.unlearn([
        "pretrain", "gan", "--images", imagesFile, "--labels", labels, "--out", s.dir + "/pre", "--steps", "1",
        "--architecture", #"{"family":"dcgan","latent_dim":8,"channels":1,"base_size":7,"widths":[8,4]}"#,
      ])
    }
    try Data(bytes.prefix(1000)).write(to: URL(fileURLWithPath: s.dir + "/cut.idx"))
    Reliability.expectCleanFailure(try pretrain(s.dir + "/cut.idx"), mentions: ["cut.idx", "truncated"])
    var header = bytes
    header[7] ^= 0x01  // image count 64 → 65: the data ends early
    try Data(header).write(to: URL(fileURLWithPath: s.dir + "/count.idx"))
    Reliability.expectCleanFailure(try pretrain(s.dir + "/count.idx"), mentions: ["count.idx", "truncated"])
    header = bytes
    header[4] = 0x7F  // a count no file holds: rejected, not allocated
    try Data(header).write(to: URL(fileURLWithPath: s.dir + "/huge.idx"))
    Reliability.expectCleanFailure(try pretrain(s.dir + "/huge.idx"), mentions: ["huge.idx"])
    #expect(
      !FileManager.default.fileExists(atPath: s.dir + "/pre"), "a rejected pretraining run left its output folder")
  }

  // MARK: Architecture and weights

  @Test func architectureAndWeightsMismatch() throws {
    let s = try Setup()
    try Reliability.editedModel(s.files.model, to: s.dir + "/shape.h5") { g in
      g["main.0.weight"] = Tensor(shape: [8, 8, 6, 6])
    }
    try s.expectTrainFails(
      model: s.dir + "/shape.h5",
      mentions: ["shape.h5", "/generator/main.0.weight", "shape [8, 8, 6, 6]", "[8, 8, 7, 7]"])
    try Reliability.editedModel(s.files.model, to: s.dir + "/missing.h5") { g in g["main.1.running_var"] = nil }
    try s.expectTrainFails(
      model: s.dir + "/missing.h5", mentions: ["missing.h5", "/generator/main.1.running_var", "missing"])
    try Reliability.editedModel(s.files.model, to: s.dir + "/extra.h5") { g in g["main.9.weight"] = Tensor(shape: [3]) }
    try s.expectTrainFails(
      model: s.dir + "/extra.h5", mentions: ["extra.h5", "/generator/main.9.weight", "unexpected"])
  }

  @Test func directionLengthDiffersFromLatentSize() throws {
    let s = try Setup()
    try Reliability.direction([1, 2, 3, 4, 5], to: s.dir + "/short.h5")
    try s.expectTrainFails(direction: s.dir + "/short.h5", mentions: ["short.h5", "length 5", "latent size 8"])
  }

  @Test(arguments: [Float.nan, .infinity, -.infinity])
  func nonFiniteWeightsOrDirection(value: Float) throws {
    let s = try Setup("nonfinite\(value)")
    try Reliability.editedModel(s.files.model, to: s.dir + "/bad.h5") { g in g["main.3.weight"]![2] = value }
    try s.expectTrainFails(
      model: s.dir + "/bad.h5", mentions: ["bad.h5", "/generator/main.3.weight", "non-finite", "\(value)"])
    try Reliability.direction([1, 2, value, 4, 5, 6, 7, 8], to: s.dir + "/badd.h5")
    try s.expectTrainFails(direction: s.dir + "/badd.h5", mentions: ["badd.h5", "/direction", "non-finite"])
  }

  @Test(arguments: [(UInt8(0), "no positive"), (UInt8(1), "no negative")])
  func collectionWithoutPositivesOrNegatives(label: UInt8, message: String) throws {
    let dir = temporaryFolder("collection\(label)")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let c = Collection(
      z: Tensor(shape: [4, 2], values: [1, 0, 0, 1, 1, 1, 0, 0]), labels: [UInt8](repeating: label, count: 4),
      scores: [0, 0, 0, 0], images: nil, encoded: nil, labeler: "test", sourceModel: "m.h5", seed: 0, cut: nil)
    try c.write(to: dir + "/c.h5")
    let job = try Reliability.unlearn(["direction", "--collection", dir + "/c.h5", "--out", dir + "/d.h5"])
    Reliability.expectCleanFailure(job, mentions: ["c.h5", message])
    #expect(!FileManager.default.fileExists(atPath: dir + "/d.h5"))
  }

  // MARK: Configuration

  @Test func configWithUnknownKeySuggestsTheNearest() throws {
    let s = try Setup()
    try #"{"learning_rat": 0.01}"#.write(toFile: s.dir + "/run.json", atomically: true, encoding: .utf8)
    try s.expectTrainFails(
      extra: ["--config", s.dir + "/run.json"],
      mentions: ["run.json", #"unknown key "learning_rat""#, #"did you mean "learning_rate""#])
    let flag = try Reliability.unlearn(
      Reliability.train(s.files, out: s.out, steps: 1, extra: ["--learning-rat", "0.1"]))
    Reliability.expectCleanFailure(flag, mentions: ["--learning-rat", "did you mean '--learning-rate'"])
  }

  @Test func configWithWrongType() throws {
    let s = try Setup()
    try #"{"steps": "many"}"#.write(toFile: s.dir + "/run.json", atomically: true, encoding: .utf8)
    try s.expectTrainFails(extra: ["--config", s.dir + "/run.json"], mentions: ["run.json", #""steps""#, "integer"])
    try s.expectTrainFails(extra: ["--global-batch", "lots"], mentions: ["--global-batch", "integer"])
  }

  @Test(arguments: [
    (["--global-batch", "0"], "must be > 0"), (["--global-batch", "-4"], "must be > 0"),
    (["--steps", "-1"], "must be ≥ 0"),
    (["--learning-rate", "0"], "> 0"), (["--learning-rate", "-1e-3"], "> 0"), (["--threshold", "nan"], "number"),
    (["--threshold", "1e999"], "number"), (["--on-nonfinite", "ignore"], "\"stop\" or \"skip\""),
    (["--watchdog-seconds", "0"], "> 0"),
  ])
  func outOfRangeValues(flags: [String], expected: String) throws {
    let s = try Setup("range\(flags.joined())")
    try s.expectTrainFails(extra: flags, mentions: ["option \(flags[0])", expected])
  }

  @Test func outOfRangeValueInAConfigFile() throws {
    let s = try Setup()
    try #"{"global_batch": 0, "steps": 2}"#.write(toFile: s.dir + "/run.json", atomically: true, encoding: .utf8)
    let train = try Reliability.unlearn([
      "train", "--model", s.files.model, "--direction", s.files.direction, "--out", s.out, "--config",
      s.dir + "/run.json",
    ])
    Reliability.expectCleanFailure(train, mentions: ["run.json", #"key "global_batch""#, "must be > 0"])
    #expect(!FileManager.default.fileExists(atPath: s.out))
    let job = try Reliability.unlearn([
      "direction", "--collection", s.files.direction, "--out", s.dir + "/d.h5", "--threshold", "nan",
    ])
    Reliability.expectCleanFailure(job, mentions: ["--threshold", "finite"])
  }

  // MARK: Output paths

  @Test func outputInAMissingFolderIsRejectedBeforeWork() throws {
    let s = try Setup()
    let job = try Reliability.unlearn(Reliability.train(s.files, out: s.dir + "/no/such/run", steps: 1000))
    Reliability.expectCleanFailure(
      job, mentions: ["--out", s.dir + "/no/such/run", "folder \(s.dir)/no/such does not exist"])
    #expect(!job.stderr.contains("train:"), "training started: \(job)")
    let collect = try Reliability.unlearn([
      "collect", "--model", s.files.model, "--count", "4", "--labeler", "attribute:area:top=0.5", "--out",
      s.dir + "/nope/c.h5",
    ])
    Reliability.expectCleanFailure(collect, mentions: ["--out", "nope", "does not exist"])
  }

  /// Root may write into a chmod-555 folder, so as root the read-only folder is sysfs, where even root
  /// cannot create files (`access(W_OK)` says yes there; the check creates a probe file).
  @Test func outputInAReadOnlyFolderIsRejectedBeforeWork() throws {
    let s = try Setup()
    let readOnly = geteuid() == 0 ? "/sys" : s.dir + "/readonly"
    if geteuid() != 0 {
      try FileManager.default.createDirectory(atPath: readOnly, withIntermediateDirectories: false)
      chmod(readOnly, 0o555)
    }
    defer { if geteuid() != 0 { chmod(readOnly, 0o755) } }
    let job = try Reliability.unlearn(Reliability.train(s.files, out: readOnly + "/run", steps: 1000))
    Reliability.expectCleanFailure(job, mentions: ["--out", readOnly + "/run", "folder \(readOnly) is not writable"])
    #expect(!job.stderr.contains("train:"), "training started: \(job)")
    let collect = try Reliability.unlearn([
      "collect", "--model", s.files.model, "--count", "4", "--labeler", "attribute:area:top=0.5", "--out",
      readOnly + "/c.h5",
    ])
    Reliability.expectCleanFailure(collect, mentions: ["--out", readOnly, "not writable"])
  }
}
