import Distributed
import Foundation
import IO
import Testing

@testable import Unlearning

/// The project's loaders (model, checkpoint, direction, collection) on corrupted copies of files written by
/// the project itself: every case must load or throw an error naming the file — a trap would end the test
/// process, which is the failure signal. Complements IOTests' FuzzTests, which fuzz the raw readers (and
/// takes the same FUZZ_SCALE, FUZZ_SEED and FUZZ_TRACE variables for soak runs).
@Suite struct FuzzLoaderTests {
  /// SplitMix64, for reproducible cases.
  struct SplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
      state &+= 0x9E37_79B9_7F4A_7C15
      var z = state
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return z ^ (z >> 31)
    }
  }

  /// `truncations` evenly spread prefixes and `flips` seeded single-bit flips.
  static func mutations(of bytes: [UInt8], truncations: Int, flips: Int, seed: UInt64) -> [(String, [UInt8])] {
    var out: [(String, [UInt8])] = []
    for i in 0..<truncations {
      let n = bytes.count * i / truncations
      out.append(("truncated to \(n) bytes", Array(bytes.prefix(n))))
    }
    var rng = SplitMix(state: seed)
    for _ in 0..<flips {
      var copy = bytes
      let offset = Int(rng.next() % UInt64(bytes.count)), bit = Int(rng.next() % 8)
      copy[offset] ^= UInt8(1 << bit)
      out.append(("bit \(bit) of byte \(offset) flipped", copy))
    }
    return out
  }

  /// Loads every mutation of `file` with `load`; expects each to load or throw naming the file.
  static func fuzz(
    _ file: String, truncations: Int = 30, flips f: Int = 90, seed: UInt64, _ load: (String) throws -> Void
  ) throws {
    let flips = f * max(1, Int(ProcessInfo.processInfo.environment["FUZZ_SCALE"] ?? "") ?? 1)
    let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
    let dir = (file as NSString).deletingLastPathComponent
    var threw = 0
    let seed = seed &+ (UInt64(ProcessInfo.processInfo.environment["FUZZ_SEED"] ?? "") ?? 0)
    for (i, (name, mutated)) in mutations(of: bytes, truncations: truncations, flips: flips, seed: seed).enumerated() {
      let path = dir + "/mutant-\(i).h5"
      try Data(mutated).write(to: URL(fileURLWithPath: path))  // not atomic: no fsync per case
      if let trace = ProcessInfo.processInfo.environment["FUZZ_TRACE"] {
        try Data(mutated).write(to: URL(fileURLWithPath: trace))
      }
      do { try load(path) } catch {
        threw += 1
        #expect("\(error)".contains(path), "case \(i) (\(name)): the error does not name the file: \(error)")
      }
      unlink(path)
    }
    #expect(threw >= truncations, "\(file): only \(threw) mutations were rejected")
  }

  @Test func corruptedModelsAndCheckpointsThrowNeverTrap() throws {
    let dir = temporaryFolder()
    let files = try writeTinyRun(in: dir)
    try Self.fuzz(files.model, seed: 21) { _ = try ModelIO.load($0) }

    var config = TrainConfig()
    (config.model, config.direction, config.out) = (files.model, files.direction, dir)
    (config.steps, config.globalBatch, config.checkpointEvery) = (1, 4, 0)
    let trainer = try UnlearningTrainer(
      config: config, source: try ModelIO.load(files.model), direction: try FeatureDirection.read(files.direction),
      communicator: LocalCommunicator())
    try trainer.train()
    let fresh = try UnlearningTrainer(
      config: config, source: try ModelIO.load(files.model), direction: try FeatureDirection.read(files.direction),
      communicator: LocalCommunicator())
    try Self.fuzz(trainer.checkpointPath, truncations: 20, flips: 60, seed: 22) { try fresh.restore(from: $0) }
  }

  @Test func corruptedDirectionsAndCollectionsThrowNeverTrap() throws {
    let dir = temporaryFolder()
    let files = try writeTinyRun(in: dir)
    try Self.fuzz(files.direction, seed: 23) { _ = try FeatureDirection.read($0) }
    let z = (0..<40).map { Float($0 % 7) - 3 }
    let c = Collection(
      z: .init(shape: [10, 4], values: z), labels: [1, 0, 1, 0, 0, 1, 0, 0, 0, 1], scores: (0..<10).map(Float.init),
      images: nil, encoded: nil, labeler: "test", sourceModel: "m.h5", seed: 1, cut: nil)
    try c.write(to: dir + "/collection.h5")
    try Self.fuzz(dir + "/collection.h5", seed: 24) {
      _ = try FeatureDirection.fit(try Collection.read($0), source: $0)
    }
  }
}
