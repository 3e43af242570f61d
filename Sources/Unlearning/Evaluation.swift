import Distributed
import Foundation
import IO
import Models
import NN
import Tensor

/// The paper's measurements of an unlearned generator g against its original f (DESIGN.md §1 step 4).
public struct EvaluationReport: Codable, Equatable {
  public var count: Int
  public var seed: UInt64
  public var labeler: String
  /// Fraction of f's samples the labeler marks positive.
  public var targetRatioOriginal: Double
  /// Fraction of g's samples (same latents) marked positive.
  public var targetRatio: Double
  /// (target_ratio − target_ratio_original) / target_ratio_original.
  public var targetRatioChange: Double
  /// With a direction: the target ratio of the loss's own targets — f(ẑ) for latents at or above the
  /// threshold, f(z) below it — i.e. what g would reach if it matched its training targets exactly. The
  /// method cannot go below this floor; a g near it is limited by the direction, not by training.
  public var targetRatioFloor: Double?
  /// Mean absolute pixel difference between g(z) and f(z) over the preserved latents.
  public var preservationL1: Double
  /// Mean SSIM between g(z) and f(z) over the preserved latents.
  public var preservationSSIM: Double
  /// How the preserved latents were chosen: "below_threshold" (with a direction) or "labeled_negative".
  public var preservationSet: String
  public var preservationCount: Int
  /// Attribute cut used (attribute labelers).
  public var cut: Double?
  /// FID of g's / f's samples against the reference, in the classifier's feature space.
  public var fid: Double?
  public var fidOriginal: Double?
  /// FID between g's and f's samples on the same latents.
  public var fidVsOriginal: Double?
  /// "real:<path>" or "original_samples" (f on independent latents, when no data is given).
  public var fidReference: String?
  public var inceptionScore: Double?
  public var inceptionScoreOriginal: Double?

  enum CodingKeys: String, CodingKey {
    case count, seed, labeler, cut
    case targetRatioOriginal = "target_ratio_original", targetRatio = "target_ratio", targetRatioChange =
      "target_ratio_change"
    case targetRatioFloor = "target_ratio_floor"
    case preservationL1 = "preservation_l1", preservationSSIM = "preservation_ssim", preservationSet =
      "preservation_set"
    case preservationCount = "preservation_count"
    case fid, fidOriginal = "fid_original", fidVsOriginal = "fid_vs_original", fidReference = "fid_reference"
    case inceptionScore = "inception_score", inceptionScoreOriginal = "inception_score_original"
  }

  public var json: String {
    let e = JSONEncoder()
    e.outputFormatting = [.sortedKeys, .prettyPrinted]
    return String(decoding: try! e.encode(self), as: UTF8.self)
  }
}

/// Renders f and g on the same latents (spread over the ranks) and measures them.
public final class Evaluator {
  public let communicator: Communicator
  public init(communicator: Communicator) { self.communicator = communicator }

  /// Renders `generator` for latents [N, nz], split over the ranks; every rank gets all images.
  public func render(_ generator: DCGANGenerator, _ z: Tensor) throws -> Tensor {
    generator.setMode(.inference)
    let d = generator.latentDim
    return try Distribute.rows(count: z.shape[0], rowShape: generator.outputShape, communicator: communicator) { r in
      generator.forward(Tensor(viewing: z.pointer + r.lowerBound * d, shape: [r.count, d], owner: z))
    }
  }

  /// Applies a per-image function [n, C, H, W] → [n, width] over the ranks.
  public func perImage(_ images: Tensor, width: Int, _ body: (Tensor) -> Tensor) throws -> Tensor {
    try perImage(images, width: width) { _, x in body(x) }
  }

  /// Like ``perImage(_:width:_:)``, also passing the rows' indices.
  public func perImage(_ images: Tensor, width: Int, _ body: (Range<Int>, Tensor) -> Tensor) throws -> Tensor {
    let n = images.shape[0], per = images.count / max(n, 1)
    let rowShape = Array(images.shape.dropFirst())
    return try Distribute.rows(count: n, rowShape: [width], communicator: communicator) { r in
      body(r, Tensor(viewing: images.pointer + r.lowerBound * per, shape: [r.count] + rowShape, owner: images))
    }
  }

  /// Labels for images, fixing an attribute `top=F` cut on `reference` scores first if needed.
  public func label(_ images: Tensor, with labeler: Labeler) throws -> (scores: [Float], labels: [UInt8]) {
    let m = try perImage(images, width: 2) { labeler.measure($0) }
    let scores = Labeler.scores(m)
    labeler.fixCut(scores: scores)
    return (scores, labeler.labels(m))
  }

  /// Full evaluation of `model` against `original`.
  /// - Parameters:
  ///   - classifier: for FID and IS (the project's classifier).
  ///   - realImages: reference images for FID; without them f's samples on independent latents are used.
  ///   - direction: preserved latents are those below its threshold; otherwise those f's labels call negative.
  public func evaluate(
    model: DCGANGenerator, original: DCGANGenerator, labeler: Labeler, count: Int, seed: UInt64,
    classifier: Classifier?, realImages: (Tensor, String)?, direction: FeatureDirection?, threshold: Double? = nil,
    comparisonPNG: String? = nil
  ) throws -> EvaluationReport {
    let z = LatentSampler(seed: seed, dimension: original.latentDim).latents(
      stream: LatentStream.evaluation, indices: 0..<count)
    let imagesF = try render(original, z)
    let imagesG = try render(model, z)
    let (_, labelsF) = try label(imagesF, with: labeler)
    let (_, labelsG) = try label(imagesG, with: labeler)
    let ratioF = Double(labelsF.reduce(0) { $0 + Int($1) }) / Double(count)
    let ratioG = Double(labelsG.reduce(0) { $0 + Int($1) }) / Double(count)

    // Preservation on latents that do not carry the feature.
    // With a direction: the paper's routing of the same latents, for the preserved set and the floor.
    var keep = [Bool](repeating: false, count: count)
    var set = "labeled_negative"
    var zHat: Tensor? = nil
    if let direction {
      let moved = Tensor(shape: z.shape)
      keep = direction.route(z, unit: direction.unit, threshold: threshold ?? direction.threshold, into: moved).map {
        !$0
      }
      zHat = moved
      set = "below_threshold"
    } else {
      for i in 0..<count { keep[i] = labelsF[i] == 0 }
    }
    let per = imagesF.count / count
    let ssim = SSIM()
    let pairStats = try perImage(imagesG, width: 2) { rows, g in
      // Each row: mean |g − f| and SSIM(g, f).
      let n = g.shape[0]
      let f = Tensor(viewing: imagesF.pointer + rows.lowerBound * per, shape: g.shape, owner: imagesF)
      let s = ssim(g, f)
      let out = Tensor(shape: [n, 2])
      for i in 0..<n {
        var l1 = 0.0
        for k in 0..<per { l1 += Double(abs(g[i * per + k] - f[i * per + k])) }
        out[2 * i] = Float(l1 / Double(per))
        out[2 * i + 1] = s[i]
      }
      return out
    }
    // The loss's fixed point: f(ẑ) with routed latents moved onto the threshold.
    var floor: Double? = nil
    if let zHat {
      let labels = try label(try render(original, zHat), with: labeler).labels
      floor = Double(labels.reduce(0) { $0 + Int($1) }) / Double(count)
    }
    var l1 = 0.0, ss = 0.0, kept = 0
    for i in 0..<count where keep[i] {
      l1 += Double(pairStats[2 * i])
      ss += Double(pairStats[2 * i + 1])
      kept += 1
    }

    var report = EvaluationReport(
      count: count, seed: seed, labeler: labeler.spec.description, targetRatioOriginal: ratioF, targetRatio: ratioG,
      targetRatioChange: ratioF > 0 ? (ratioG - ratioF) / ratioF : 0, preservationL1: kept > 0 ? l1 / Double(kept) : 0,
      preservationSSIM: kept > 0 ? ss / Double(kept) : 1, preservationSet: set, preservationCount: kept,
      cut: labeler.cut)
    report.targetRatioFloor = floor

    if let c = classifier {
      c.setMode(.inference)
      let width = c.featureCount + c.classCount
      let embed: (Tensor) -> Tensor = { x in
        let h = c.embed(x)
        let logits = c.head.forward(h)
        let p = softmax(logits)
        let n = x.shape[0]
        let out = Tensor(shape: [n, width])
        for i in 0..<n {
          (out.pointer + i * width).update(from: h.pointer + i * c.featureCount, count: c.featureCount)
          (out.pointer + i * width + c.featureCount).update(from: p.pointer + i * c.classCount, count: c.classCount)
        }
        return out
      }
      let split: (Tensor) -> (Tensor, Tensor) = { t in
        let n = t.shape[0]
        let f = Tensor(shape: [n, c.featureCount]), p = Tensor(shape: [n, c.classCount])
        for i in 0..<n {
          (f.pointer + i * c.featureCount).update(from: t.pointer + i * width, count: c.featureCount)
          (p.pointer + i * c.classCount).update(from: t.pointer + i * width + c.featureCount, count: c.classCount)
        }
        return (f, p)
      }
      let (featF, probF) = split(try perImage(imagesF, width: width, embed))
      let (featG, probG) = split(try perImage(imagesG, width: width, embed))
      let reference: Tensor
      if let (real, name) = realImages {
        reference = split(try perImage(real, width: width, embed)).0
        report.fidReference = "real:\(name)"
      } else {
        let zr = LatentSampler(seed: seed, dimension: original.latentDim).latents(
          stream: LatentStream.evaluation, indices: count..<(2 * count))
        reference = split(try perImage(try render(original, zr), width: width, embed)).0
        report.fidReference = "original_samples"
      }
      let sRef = FeatureStatistics(reference), sF = FeatureStatistics(featF), sG = FeatureStatistics(featG)
      report.fid = FeatureStatistics.frechetDistance(sG, sRef)
      report.fidOriginal = FeatureStatistics.frechetDistance(sF, sRef)
      report.fidVsOriginal = FeatureStatistics.frechetDistance(sG, sF)
      report.inceptionScore = inceptionScore(probabilities: probG)
      report.inceptionScoreOriginal = inceptionScore(probabilities: probF)
    }

    if let png = comparisonPNG, communicator.rank == 0 {
      let n = min(count, 64)
      let shape = [n] + Array(imagesF.shape.dropFirst())
      try ImageGrid.pair(
        original: Tensor(viewing: imagesF.pointer, shape: shape, owner: imagesF),
        unlearned: Tensor(viewing: imagesG.pointer, shape: shape, owner: imagesG), columns: 8, scale: 2, numbered: true
      ).writePNG(to: png)
    }
    return report
  }
}
