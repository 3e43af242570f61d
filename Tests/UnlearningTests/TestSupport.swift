import Foundation
import IO
import Models
import NN
import Tensor
import TestSupport
import Testing

@testable import Unlearning

/// Repository root (…/Tests/UnlearningTests/ → …).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
  .deletingLastPathComponent()
let fixtures = repositoryRoot.appendingPathComponent("Tests/Fixtures")

/// A fresh temporary folder.
func temporaryFolder(_ name: String = #function) -> String {
  let dir =
    NSTemporaryDirectory()
    + "unlearn-tests-\(getpid())-\(name.filter { $0.isLetter || $0.isNumber })-\(UInt32.random(in: 0...UInt32.max))"
  try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
  return dir
}

/// A small DCGAN (28×28) that trains fast even in debug builds.
let tinyArchitecture = Architecture(family: "dcgan", latentDim: 8, channels: 1, baseSize: 7, widths: [8, 4])

/// A direction file and model file for the tiny architecture in `dir`.
func writeTinyRun(in dir: String, seed: UInt64 = 3) throws -> (model: String, direction: String) {
  let m = ModelIO.build(tinyArchitecture, seed: seed, withDiscriminator: false, path: dir + "/model.h5")
  // Give BatchNorm non-trivial running statistics, as a pretrained model has.
  for (name, t) in m.generator!.namedBuffers() where name.hasSuffix("running_var") {
    for i in 0..<t.count { t[i] = 0.5 + Float(i % 3) * 0.25 }
  }
  try ModelIO.modelFile(architecture: tinyArchitecture, networks: m.networks).write(to: dir + "/model.h5")
  var rng = PhiloxGenerator(seed: 11)
  let d = FeatureDirection(
    direction: (0..<8).map { _ in rng.nextNormal() }, threshold: 0.1, nPositive: 5, nNegative: 5, latentSpace: "z",
    labeler: "test", sourceModel: dir + "/model.h5", thresholdSource: "user")
  try d.write(to: dir + "/direction.h5")
  return (dir + "/model.h5", dir + "/direction.h5")
}
