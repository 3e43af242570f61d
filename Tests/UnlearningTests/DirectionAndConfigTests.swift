import Foundation
import IO
import Models
import Tensor
import Testing

@testable import Unlearning

@Suite struct DirectionTests {
  func collection(_ rows: [[Float]], _ labels: [UInt8]) -> Collection {
    Collection(
      z: Tensor(shape: [rows.count, rows[0].count], values: rows.flatMap { $0 }), labels: labels,
      scores: labels.map(Float.init), images: nil, encoded: nil, labeler: "test", sourceModel: "m.h5", seed: 1, cut: nil
    )
  }

  @Test func meanDifferenceAndMeanProjection() throws {
    let c = collection([[2, 0], [4, 2], [0, 0], [0, -2], [-2, 0]], [1, 1, 0, 0, 0])
    let d = try FeatureDirection.fit(c)
    // mean(pos) = (3, 1), mean(neg) = (-2/3, -2/3) → z_e = (11/3, 5/3)
    #expect(abs(d.direction[0] - 11.0 / 3) < 1e-6 && abs(d.direction[1] - 5.0 / 3) < 1e-6)
    let u = d.unit
    let n = (121.0 / 9 + 25.0 / 9).squareRoot()
    #expect(abs(Double(u[0]) - 11.0 / 3 / n) < 1e-6)
    // threshold = mean of u·z over all five
    let expected =
      [[2.0, 0], [4, 2], [0, 0], [0, -2], [-2, 0]].map { $0[0] * 11 / 3 / n + $0[1] * 5 / 3 / n }.reduce(0, +) / 5
    #expect(abs(d.threshold - expected) < 1e-6)
    #expect(d.nPositive == 2 && d.nNegative == 3 && d.thresholdSource == "mean_projection")
    #expect(try FeatureDirection.fit(c, threshold: 0.5).threshold == 0.5)
  }

  @Test func collectionWithoutPositivesOrNegativesIsAnError() {
    #expect(throws: UsageError.self) {
      try FeatureDirection.fit(collection([[1, 0], [0, 1]], [0, 0]), source: "c.h5")
    }
    #expect(throws: UsageError.self) {
      try FeatureDirection.fit(collection([[1, 0], [0, 1]], [1, 1]), source: "c.h5")
    }
    #expect(throws: UsageError.self) {
      try FeatureDirection.fit(collection([[1, 0], [0, 1]], [1, 0]), threshold: .nan)
    }
  }

  @Test func fileRoundTripAndBadFiles() throws {
    let dir = temporaryFolder()
    let d = try FeatureDirection.fit(collection([[2, 0], [4, 2], [0, 0]], [1, 1, 0]))
    try d.write(to: dir + "/d.h5")
    #expect(try FeatureDirection.read(dir + "/d.h5") == d)
    // NaN in the direction
    let f = try HDF5File.create(dir + "/nan.h5")
    try f.write([Float(1), Float.nan], shape: [2], to: "/direction")
    try f.setAttribute("threshold", 0.0)
    try f.commit()
    #expect { try FeatureDirection.read(dir + "/nan.h5") } throws: {
      "\($0)".contains("non-finite") && "\($0)".contains("nan.h5")
    }
    // missing threshold attribute
    let g = try HDF5File.create(dir + "/nothreshold.h5")
    try g.write([Float(1), 2], shape: [2], to: "/direction")
    try g.commit()
    #expect { try FeatureDirection.read(dir + "/nothreshold.h5") } throws: { "\($0)".contains("threshold") }
  }

  @Test func collectionFileRoundTrip() throws {
    let dir = temporaryFolder()
    var c = collection([[2, 0], [4, 2], [0, 0]], [1, 1, 0])
    c.cut = 2.5
    try c.write(to: dir + "/c.h5")
    let r = try Collection.read(dir + "/c.h5")
    #expect(r.z.array == c.z.array && r.labels == c.labels && r.cut == 2.5 && r.labeler == "test")
  }
}

@Suite struct ConfigTests {
  func decode(_ json: String) throws -> TrainConfig {
    try ConfigLoader.decode(TrainConfig.self, from: Data(json.utf8), knownKeys: TrainConfig.keys, source: "run.json")
  }

  @Test func missingKeysAndNullsTakeTheDefaults() throws {
    let c = try decode(#"{"steps": 20, "threshold": null, "alpha": null}"#)
    var expected = TrainConfig()
    expected.steps = 20
    #expect(c == expected)
    let p = try ConfigLoader.decode(
      PretrainConfig.self, from: Data(#"{"kind": "vae"}"#.utf8), knownKeys: PretrainConfig.keys, source: "p.json")
    #expect(p.kind == "vae" && p.steps == PretrainConfig().steps && p.vaeSigma == PretrainConfig().vaeSigma)
  }

  @Test func unknownKeySuggestsTheNearest() {
    #expect { try decode(#"{"learning_rat": 0.1}"#) } throws: {
      "\($0)" == #"run.json: unknown key "learning_rat"; did you mean "learning_rate"?"#
    }
  }

  @Test func wrongTypeNamesTheKey() {
    #expect { try decode(#"{"steps": "many"}"#) } throws: {
      "\($0)".contains("\"steps\"") && "\($0)".contains("integer")
    }
  }

  @Test(arguments: [
    (#"{"global_batch": 0}"#, "global_batch"), (#"{"steps": -1}"#, "steps"),
    (#"{"learning_rate": 0}"#, "learning_rate"),
    (#"{"learning_rate": -1e-3}"#, "learning_rate"), (#"{"distance": "l3"}"#, "distance"),
    (#"{"beta1": 1.0}"#, "beta1"),
    (#"{"ms_ssim_window": 4}"#, "ms_ssim_window"), (#"{"on_nonfinite": "ignore"}"#, "on_nonfinite"),
    (#"{"routing": "nearest"}"#, "routing"),     (#"{"routing": "labeler", "router_labeler": "attribute:girth:min=2"}"#, "router_labeler"),
    (#"{"router_step": 0}"#, "router_step"), (#"{"router_candidates": 0}"#, "router_candidates"),
  ])
  func outOfRangeValuesAreRejected(json: String, key: String) throws {
    let c = try decode(json)
    #expect { try c.validate() } throws: { "\($0)".contains("\"\(key)\"") }
  }

  @Test func flagsOverrideTheFileAndNameTheFlag() throws {
    let c = try ConfigLoader.merge(
      TrainConfig.self, base: Data(#"{"steps": 10, "alpha": 2}"#.utf8),
      overrides: [(key: "steps", value: "20", flag: "--steps")], knownKeys: TrainConfig.keys, source: "run.json")
    #expect(c.steps == 20 && c.alpha == 2)
    #expect {
      try ConfigLoader.merge(
        TrainConfig.self, base: nil, overrides: [(key: "global_batch", value: "lots", flag: "--global-batch")],
        knownKeys: TrainConfig.keys, source: "x")
    } throws: { "\($0)".hasPrefix("option --global-batch") }
  }

  @Test func shippedConfigsParseAndValidate() throws {
    let dir = repositoryRoot.appendingPathComponent("configs").path
    let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter {
      $0.hasPrefix("train") && $0.hasSuffix(".json")
    }
    #expect(!files.isEmpty)
    for f in files {
      let c = try ConfigLoader.load(TrainConfig.self, path: dir + "/" + f, knownKeys: TrainConfig.keys)
      try c.validate()
    }
  }
}

@Suite struct LabelerSpecTests {
  @Test func parsesTheThreeKinds() throws {
    #expect(try LabelerSpec.parse("classifier:/a/b.h5:class=8") == .classifier(path: "/a/b.h5", classIndex: 8))
    #expect(try LabelerSpec.parse("attribute:thickness:top=0.1") == .attribute(.thickness, cut: .topFraction(0.1)))
    #expect(try LabelerSpec.parse("attribute:slant:min=0.3") == .attribute(.slant, cut: .minimum(0.3)))
    #expect(try LabelerSpec.parse("ids:picks.txt") == .ids(path: "picks.txt"))
  }

  @Test(arguments: [
    "classifier:x.h5", "classifier:x.h5:class=-1", "attribute:thicknes:top=0.1", "attribute:thickness:top=1.5",
    "magic:x", "",
  ])
  func rejectsBadSpecs(_ spec: String) {
    #expect { try LabelerSpec.parse(spec) } throws: { "\($0)".hasPrefix("option --labeler") }
  }

  @Test func topFractionCutTakesTheTopOfTheScores() throws {
    let l = try Labeler(.attribute(.area, cut: .topFraction(0.2)))
    let scores: [Float] = (0..<10).map(Float.init)
    l.fixCut(scores: scores)
    #expect(l.cut == 8)
    let m = Tensor(shape: [10, 2], values: scores.flatMap { [$0, 0] })
    #expect(l.labels(m) == [0, 0, 0, 0, 0, 0, 0, 0, 1, 1])
  }

  @Test func idsFileParsing() throws {
    let dir = temporaryFolder()
    try "3, 5 # the eights\n7\n".write(toFile: dir + "/ids.txt", atomically: true, encoding: .utf8)
    #expect(try Labeler.readIDs(dir + "/ids.txt", count: 8) == [0, 0, 0, 1, 0, 1, 0, 1])
    #expect { try Labeler.readIDs(dir + "/ids.txt", count: 6) } throws: { "\($0)".contains("\"7\"") }
  }
}

@Suite struct StatisticsTests {
  @Test func jacobiRecoversKnownEigenvalues() {
    let m: [Double] = [4, 1, 0, 1, 3, 1, 0, 1, 2]
    let values = SymmetricEigen.decompose(m, 3).values.sorted()
    // Characteristic polynomial roots of this matrix: 3 and 3 ± √3.
    #expect(
      abs(values[0] - (3 - 3.0.squareRoot())) < 1e-10 && abs(values[1] - 3) < 1e-10
        && abs(values[2] - (3 + 3.0.squareRoot())) < 1e-10)
  }

  @Test func frechetDistanceOfGaussians() {
    var rng = PhiloxGenerator(seed: 5)
    let n = 4000, d = 3
    let a = Tensor(shape: [n, d]), b = Tensor(shape: [n, d])
    for i in 0..<(n * d) { a[i] = rng.nextNormal(); b[i] = 2 * rng.nextNormal() + 1 }
    let sa = FeatureStatistics(a), sb = FeatureStatistics(b)
    #expect(abs(FeatureStatistics.frechetDistance(sa, sa)) < 1e-9)
    // N(0, I) vs N(1, 4I): |μ|² = 3, trace term = 3·(1 + 4 − 2·2) = 3 → 6
    let fid = FeatureStatistics.frechetDistance(sa, sb)
    #expect(abs(fid - 6) < 0.35, "FID \(fid)")
  }

  @Test func classifierSummary() {
    let p = Tensor(shape: [4, 2], values: [0.9, 0.1, 0.2, 0.8, 0.7, 0.3, 0.4, 0.6])
    let s = ClassifierSummary(probabilities: p)
    #expect(abs(s.meanConfidence - 0.75) < 1e-6 && abs(s.histogramEntropy - 1) < 1e-9)
    let one = ClassifierSummary(probabilities: Tensor(shape: [2, 2], values: [0.9, 0.1, 0.6, 0.4]))
    #expect(one.histogramEntropy == 0)
  }

  @Test func inceptionScoreBounds() {
    let uniform = Tensor(shape: [4, 4], values: [Float](repeating: 0.25, count: 16))
    #expect(abs(inceptionScore(probabilities: uniform) - 1) < 1e-9)
    let sharp = Tensor(shape: [4, 4], values: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1])
    #expect(abs(inceptionScore(probabilities: sharp) - 4) < 1e-9)
  }
}

@Suite struct LogisticDirectionTests {
  /// Two Gaussian classes separated along a known axis: the fitted direction must point along it and the
  /// boundary sit between the classes; a recall target routes that fraction of the positives.
  @Test func recoversTheSeparatingDirection() throws {
    var rng = PhiloxGenerator(seed: 8)
    let n = 600, d = 5
    var rows: [Float] = [], labels: [UInt8] = []
    for i in 0..<n {
      let positive = i % 5 == 0  // 20 % positives
      for k in 0..<d { rows.append(rng.nextNormal() + (k == 2 ? (positive ? 1.5 : -0.5) : 0)) }
      labels.append(positive ? 1 : 0)
    }
    let c = Collection(
      z: Tensor(shape: [n, d], values: rows), labels: labels, scores: labels.map(Float.init), images: nil,
      encoded: nil, labeler: "t", sourceModel: "m", seed: 0, cut: nil)
    let f = try FeatureDirection.fitLogistic(c)
    let u = f.unit
    #expect(u[2] > 0.95, "direction \(u)")
    #expect(f.threshold > -0.5 && f.threshold < 1.5, "boundary \(f.threshold) between the class means")
    let r = try FeatureDirection.fitLogistic(c, recall: 0.9)
    let routed = (0..<n).filter { labels[$0] == 1 && r.project(c.z.pointer + $0 * d, unit: r.unit) >= r.threshold }
      .count
    #expect(abs(Double(routed) / 120 - 0.9) < 0.02, "routed \(routed) of 120 positives")
    #expect(throws: UsageError.self) { try FeatureDirection.fitLogistic(c, recall: 1.5) }
  }
}
