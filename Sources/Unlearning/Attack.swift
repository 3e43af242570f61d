import Distributed
import Foundation
import Models
import NN
import Tensor

/// Attempts to bring a forgotten feature back (DESIGN.md §1 step 4, robustness).
public struct AttackReport: Codable, Equatable {
  public struct WalkPoint: Codable, Equatable {
    public var step: Double
    public var targetRatioOriginal: Double
    public var targetRatio: Double
    enum CodingKeys: String, CodingKey {
      case step, targetRatioOriginal = "target_ratio_original", targetRatio = "target_ratio"
    }
  }
  public var count: Int
  public var seed: UInt64
  public var labeler: String
  /// Target ratio of f and g at z + s·u for each s.
  public var walk: [WalkPoint]
  /// Gradient attack (classifier labelers): success rate after optimising z within ‖δ‖₂ ≤ budget.
  public var gradientBudget: Double?
  public var gradientCount: Int?
  public var gradientSteps: Int?
  public var gradientSuccessOriginal: Double?
  public var gradientSuccess: Double?

  public init(count: Int, seed: UInt64, labeler: String, walk: [WalkPoint]) {
    self.count = count
    self.seed = seed
    self.labeler = labeler
    self.walk = walk
  }

  enum CodingKeys: String, CodingKey {
    case count, seed, labeler, walk
    case gradientBudget = "gradient_budget", gradientSteps = "gradient_steps", gradientCount = "gradient_count"
    case gradientSuccessOriginal = "gradient_success_original", gradientSuccess = "gradient_success"
  }

  public var json: String {
    let e = JSONEncoder()
    e.outputFormatting = [.sortedKeys, .prettyPrinted]
    return String(decoding: try! e.encode(self), as: UTF8.self)
  }
}

public final class Attacker {
  public let evaluator: Evaluator
  public init(communicator: Communicator) { evaluator = Evaluator(communicator: communicator) }

  /// (a) Direction walk: the target ratio of f and g at z + s·u.
  public func walk(
    model: DCGANGenerator, original: DCGANGenerator, labeler: Labeler, direction: FeatureDirection,
    count: Int, seed: UInt64, steps: [Double]
  ) throws -> [AttackReport.WalkPoint] {
    let d = original.latentDim
    let z0 = LatentSampler(seed: seed, dimension: d).latents(stream: LatentStream.attack, indices: 0..<count)
    let u = direction.unit
    var points: [AttackReport.WalkPoint] = []
    // Fix an attribute cut on f's unmodified samples, so every point is judged by the same cut.
    _ = try evaluator.label(try evaluator.render(original, z0), with: labeler)
    for s in steps {
      let z = z0.clone()
      for i in 0..<count { for k in 0..<d { z[i * d + k] += Float(s) * u[k] } }
      let lf = try evaluator.label(try evaluator.render(original, z), with: labeler).labels
      let lg = try evaluator.label(try evaluator.render(model, z), with: labeler).labels
      points.append(
        .init(
          step: s, targetRatioOriginal: Double(lf.reduce(0) { $0 + Int($1) }) / Double(count),
          targetRatio: Double(lg.reduce(0) { $0 + Int($1) }) / Double(count)))
    }
    return points
  }

  /// (b) Gradient attack: projected gradient ascent on log p(K | G(z)) of the labeler's classifier, with
  /// ‖z − z₀‖₂ ≤ budget. Returns the fraction of latents labelled positive afterwards.
  public func gradient(
    generator: DCGANGenerator, classifier: Classifier, classIndex: Int, count: Int, seed: UInt64,
    budget: Double, steps: Int, stepSize: Double
  ) throws -> Double {
    let d = generator.latentDim
    let z0 = LatentSampler(seed: seed, dimension: d).latents(stream: LatentStream.attack, indices: 0..<count)
    generator.setMode(.inference)
    classifier.setMode(.inference)
    generator.needsInputGradient = true
    classifier.needsInputGradient = true
    defer {
      generator.needsInputGradient = false
      classifier.needsInputGradient = false
    }
    let hits = try Distribute.rows(count: count, rowShape: [1], communicator: evaluator.communicator, chunk: 128) { r in
      let n = r.count
      let z = Tensor(shape: [n, d])
      z.pointer.update(from: z0.pointer + r.lowerBound * d, count: n * d)
      let dLogits = Tensor(shape: [n, classifier.classCount])
      for _ in 0..<steps {
        let logits = classifier.forward(generator.forward(z))
        let p = softmax(logits)
        // d log p_K / d logits = onehot(K) − p
        for i in 0..<n {
          for j in 0..<classifier.classCount {
            dLogits[i * classifier.classCount + j] = (j == classIndex ? 1 : 0) - p[i * classifier.classCount + j]
          }
        }
        let dz = generator.backward(classifier.backward(dLogits))
        for i in 0..<n {
          // Normalised ascent step, then projection onto the budget ball around z₀.
          var g2 = 0.0
          for k in 0..<d { g2 += Double(dz[i * d + k] * dz[i * d + k]) }
          let scale = Float(stepSize / max(g2.squareRoot(), 1e-12))
          var delta2 = 0.0
          for k in 0..<d {
            z[i * d + k] += scale * dz[i * d + k]
            let dk = Double(z[i * d + k] - z0[(r.lowerBound + i) * d + k])
            delta2 += dk * dk
          }
          let norm = delta2.squareRoot()
          if norm > budget {
            let shrink = Float(budget / norm)
            for k in 0..<d {
              let base = z0[(r.lowerBound + i) * d + k]
              z[i * d + k] = base + (z[i * d + k] - base) * shrink
            }
          }
        }
      }
      let logits = classifier.forward(generator.forward(z))
      let out = Tensor(shape: [n, 1])
      for i in 0..<n {
        var best = 0
        for j in 1..<classifier.classCount
        where logits[i * classifier.classCount + j] > logits[i * classifier.classCount + best] { best = j }
        out[i] = best == classIndex ? 1 : 0
      }
      return out
    }
    return Double(hits.buffer.reduce(0, +)) / Double(count)
  }
}
