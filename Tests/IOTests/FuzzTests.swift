import Foundation
import Tensor
import Testing

@testable import IO

/// Corrupted inputs must end in a thrown error (or, for a flip in plain data, a successful read), never in a
/// trap or a signal: a crash here takes the whole test process down, which is the failure signal.
///
/// Each test writes one small valid file, then a few hundred mutated copies (truncated at many lengths,
/// single bits flipped, bytes zeroed or set to 0xFF) and loads each through the library's public reader.
///
/// Soak runs: `FUZZ_SCALE=10` multiplies the flips, `FUZZ_SEED=n` shifts the seeds, and `FUZZ_TRACE=file`
/// copies each case to `file` before loading it (after a crash, `file` is the culprit).
@Suite("Fuzz: corrupted HDF5 and IDX files")
struct FuzzTests {
  /// A deterministic generator (SplitMix64), so a failing case can be reproduced from its number.
  struct SplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
      state &+= 0x9E37_79B9_7F4A_7C15
      var z = state
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
  }

  /// One mutated copy of a file: a name for messages and its bytes.
  struct Mutation {
    var name: String
    var bytes: [UInt8]
  }

  /// `truncations` prefixes (spread over the whole length, plus the first header bytes) and `flips`
  /// single-bit flips and byte overwrites at seeded random offsets.
  static func mutations(of bytes: [UInt8], truncations: Int, flips perScale: Int, seed: UInt64) -> [Mutation] {
    let environment = ProcessInfo.processInfo.environment
    let flips = perScale * max(1, Int(environment["FUZZ_SCALE"] ?? "") ?? 1)
    let seed = seed &+ (UInt64(environment["FUZZ_SEED"] ?? "") ?? 0)
    var out: [Mutation] = []
    var lengths = Set([0, 1, 4, 8, 16, 64, bytes.count - 1].filter { $0 >= 0 && $0 < bytes.count })
    for i in 0..<truncations { lengths.insert(bytes.count * i / truncations) }
    for n in lengths.sorted() { out.append(Mutation(name: "truncated to \(n) bytes", bytes: Array(bytes.prefix(n)))) }
    var rng = SplitMix(state: seed)
    for i in 0..<flips {
      var copy = bytes
      let offset = rng.below(bytes.count)
      switch i % 4 {
      case 0, 1:
        let bit = rng.below(8)
        copy[offset] ^= UInt8(1 << bit)
        out.append(Mutation(name: "bit \(bit) of byte \(offset) flipped", bytes: copy))
      case 2:
        copy[offset] = 0xFF
        out.append(Mutation(name: "byte \(offset) set to 0xFF", bytes: copy))
      default:
        // A run of four bytes zeroed or filled (lengths and addresses are 4 or 8 bytes wide).
        for k in offset..<min(offset + 4, copy.count) { copy[k] = i % 8 == 3 ? 0 : 0xFF }
        out.append(Mutation(name: "bytes \(offset)..<\(offset + 4) overwritten", bytes: copy))
      }
    }
    return out
  }

  /// Writes each mutation to `folder` and runs `load` on it; returns how many loaded and how many threw.
  static func run(
    _ mutations: [Mutation], in folder: String, suffix: String, _ load: (String) throws -> Void
  ) -> (loaded: Int, threw: Int, messages: [String]) {
    var loaded = 0, threw = 0
    var messages: [String] = []
    for (i, m) in mutations.enumerated() {
      let path = folder + "/case-\(i)" + suffix
      write(m.bytes, to: path)
      if let trace = ProcessInfo.processInfo.environment["FUZZ_TRACE"] { write(m.bytes, to: trace) }
      do {
        try load(path)
        loaded += 1
      } catch {
        threw += 1
        let text = "\(error)"
        if !text.contains(path) { messages.append("case \(i) (\(m.name)): error does not name the file: \(text)") }
      }
      unlink(path)
    }
    return (loaded, threw, messages)
  }

  /// Plain POSIX write: FileManager.createFile fsyncs, which makes hundreds of cases slow.
  static func write(_ bytes: [UInt8], to path: String) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    precondition(fd >= 0, "cannot create \(path)")
    bytes.withUnsafeBytes { raw in
      var done = 0
      while done < raw.count {
        let n = Foundation.write(fd, raw.baseAddress! + done, raw.count - done)
        precondition(n > 0, "cannot write \(path)")
        done += n
      }
    }
    close(fd)
  }

  /// A small model file as the project writes it: two networks, a scalar int64 counter, attributes.
  static func modelFile() -> ModelFile {
    var rng = SplitMix(state: 7)
    func tensor(_ shape: [Int]) -> Tensor {
      let t = Tensor(shape: shape)
      for i in 0..<t.count { t[i] = Float(Int(rng.next() % 2001) - 1000) / 1000 }
      return t
    }
    return ModelFile(
      architecture: #"{"family":"dcgan","latent_dim":4,"channels":1,"base_size":7,"widths":[4]}"#,
      groups: [
        "generator": [
          "main.0.weight": tensor([4, 4, 7, 7]), "main.1.weight": tensor([4]), "main.1.bias": tensor([4]),
          "main.1.running_mean": tensor([4]), "main.1.running_var": tensor([4]),
          "main.1.num_batches_tracked": Tensor(shape: [1], values: [3]),
        ],
        "encoder": ["fc.weight": tensor([8, 16]), "fc.bias": tensor([8])],
      ])
  }

  @Test func corruptedModelFilesThrowNeverTrap() throws {
    let folder = try makeTemporaryFolder()
    defer { removeTemporaryFolder(folder) }
    let valid = folder + "/valid.h5"
    try Self.modelFile().write(to: valid)
    let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: valid)))
    let mutations = Self.mutations(of: bytes, truncations: 60, flips: 240, seed: 1)
    let result = Self.run(mutations, in: folder, suffix: ".h5") { path in
      let m = try ModelFile.read(path)
      // Touch every value, as a loader would.
      for (_, tensors) in m.groups { for (_, t) in tensors { _ = t.buffer.reduce(0, +) } }
    }
    #expect(result.loaded + result.threw == mutations.count)
    #expect(result.messages.isEmpty, "\(result.messages.prefix(5).joined(separator: "\n"))")
    // Every truncation is detected (HDF5 compares the end-of-file address with the size).
    #expect(result.threw >= 60, "only \(result.threw) of \(mutations.count) mutations were rejected")
    print(
      "fuzz model file (\(bytes.count) bytes): \(mutations.count) cases, \(result.threw) threw, \(result.loaded) loaded"
    )
  }

  /// IDX images, plain and gzip-compressed (the compressed stream's CRC catches most flips).
  @Test(arguments: [false, true])
  func corruptedIDXFilesThrowNeverTrap(gzip: Bool) throws {
    let folder = try makeTemporaryFolder()
    defer { removeTemporaryFolder(folder) }
    var rng = SplitMix(state: 3)
    let count = 12, side = 28
    var bytes: [UInt8] = [0, 0, 8, 3]
    for d in [count, side, side] { bytes += [0, 0, UInt8(d >> 8), UInt8(d & 0xFF)] }
    bytes += (0..<(count * side * side)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    if gzip { bytes = try Self.gzip(bytes, folder: folder) }
    let mutations = Self.mutations(of: bytes, truncations: 50, flips: 150, seed: gzip ? 5 : 4)
    let result = Self.run(mutations, in: folder, suffix: gzip ? ".gz" : "") { path in
      let images = try IDX.readImages(path)
      _ = images.pixels.reduce(0) { $0 &+ Int($1) }
    }
    #expect(result.loaded + result.threw == mutations.count)
    #expect(result.messages.isEmpty, "\(result.messages.prefix(5).joined(separator: "\n"))")
    #expect(result.threw >= 50, "only \(result.threw) of \(mutations.count) mutations were rejected")
    print(
      "fuzz IDX (\(gzip ? "gzip" : "plain"), \(bytes.count) bytes): \(mutations.count) cases, \(result.threw) threw, \(result.loaded) loaded"
    )
  }

  /// Labels files (rank 1) and IDXDataset.load pairing them with images.
  @Test func corruptedIDXLabelsThrowNeverTrap() throws {
    let folder = try makeTemporaryFolder()
    defer { removeTemporaryFolder(folder) }
    var bytes: [UInt8] = [0, 0, 8, 1, 0, 0, 0, 200]
    bytes += (0..<200).map { UInt8($0 % 10) }
    let mutations = Self.mutations(of: bytes, truncations: 20, flips: 80, seed: 9)
    let result = Self.run(mutations, in: folder, suffix: "") { path in _ = try IDX.readLabels(path) }
    #expect(result.loaded + result.threw == mutations.count && result.messages.isEmpty, "\(result.messages)")
  }

  static func gzip(_ bytes: [UInt8], folder: String) throws -> [UInt8] {
    let plain = folder + "/plain-\(UUID().uuidString)"
    try Data(bytes).write(to: URL(fileURLWithPath: plain))
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/gzip")
    p.arguments = ["-n", "-f", plain]
    try p.run()
    p.waitUntilExit()
    defer { unlink(plain + ".gz") }
    return [UInt8](try Data(contentsOf: URL(fileURLWithPath: plain + ".gz")))
  }
}
