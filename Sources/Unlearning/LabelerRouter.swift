import Models
import Tensor

/// An alternative to the paper's routing (`routing: "labeler"`, not the default): the labeler itself
/// decides which latents carry the feature, and each positive is moved along −u only as far as needed.
///
/// The paper routes by the projection alone (u·z ≥ t), so positives below t are never changed and
/// positives moved onto t can still show the feature (the "floor" `unlearn eval` reports). Here:
/// - f(z) is labelled; a negative keeps its reconstruction target f(z), whatever its projection;
/// - a positive tries ẑ_k = z − (max(u·z − t, 0) + k·Δ)·u for k = 0, 1, …, K−1 and takes the first whose
///   f(ẑ_k) the labeler calls negative (k = K−1 when none is).
/// Every latent is routed on its own, so the targets do not depend on how the batch is split over ranks.
/// Candidates are rendered in rounds, each only for the positives still positive, so a positive costs as
/// many f forwards as the candidates it needs.
public final class LabelerRouter {
  public let labeler: Labeler
  /// Δ, the distance between candidates along −u.
  public let stepSize: Double
  /// K, candidates per positive.
  public let candidates: Int

  /// The labeler spec to route by: `given` (the `router_labeler` key), else the direction's own labeler; an
  /// `attribute:NAME:top=F` spec takes the cut the direction's collection fixed.
  public static func spec(_ given: String?, direction: FeatureDirection) throws -> LabelerSpec {
    let text = given ?? direction.labeler
    if text.isEmpty {
      throw UsageError("config key \"router_labeler\": the direction file names no labeler; give one")
    }
    var spec = try LabelerSpec.parse(text)
    if case .attribute(let a, .topFraction) = spec, let cut = direction.cut,
      (try? LabelerSpec.parse(direction.labeler)) == spec
    {
      spec = .attribute(a, cut: .minimum(cut))
    }
    return spec
  }

  /// - Throws: when the labeler cannot judge single images on its own (`top=F` needs a collection;
  ///   `ids` has no images).
  public init(labeler spec: LabelerSpec, stepSize: Double, candidates: Int) throws {
    switch spec {
    case .attribute(_, .topFraction):
      throw UsageError(
        "config key \"router_labeler\": \(spec) ranks a whole batch; give a fixed cut instead, attribute:NAME:min=V (unlearn collect prints the collection's cut; directions fitted since it was stored carry it)"
      )
    case .ids:
      throw UsageError("config key \"router_labeler\": ids labels only a collection's contact sheet")
    default: break
    }
    labeler = try Labeler(spec)
    self.stepSize = stepSize
    self.candidates = candidates
  }

  /// Fills `routedLatents` (ẑ for positives, z otherwise) and `routed`, and returns the targets
  /// f(routedLatents) [n, C, H, W] (a fresh tensor).
  public func targets(
    latents: Tensor, original: DCGANGenerator, direction: FeatureDirection, unit: [Float], threshold: Double,
    routed: inout [Bool], routedLatents: Tensor
  ) -> Tensor {
    let n = latents.shape[0], d = original.latentDim
    let targets = original.forward(latents).clone()
    let positive = labeler.labels(labeler.measure(targets))
    routedLatents.copy(from: latents)
    for i in 0..<n { routed[i] = positive[i] == 1 }

    // Candidate c is rendered only for the positives that all earlier candidates left positive.
    var pending = (0..<n).filter { positive[$0] == 1 }
    var base = [Double](repeating: 0, count: n)  // max(u·z − t, 0), the shift of candidate 0
    for i in pending { base[i] = max(direction.project(latents.pointer + i * d, unit: unit) - threshold, 0) }
    for c in 0..<candidates where !pending.isEmpty {
      let trial = Tensor(shape: [pending.count, d])
      for (r, i) in pending.enumerated() {
        let z = latents.pointer + i * d, out = trial.pointer + r * d
        let shift = Float(base[i] + Double(c) * stepSize)
        for j in 0..<d { out[j] = z[j] - shift * unit[j] }
      }
      let images = original.forward(trial)
      let still = labeler.labels(labeler.measure(images))
      let per = images.count / pending.count
      var next: [Int] = []
      for (r, i) in pending.enumerated() {
        if still[r] == 1 && c < candidates - 1 {
          next.append(i)
          continue
        }
        (targets.pointer + i * per).update(from: images.pointer + r * per, count: per)
        (routedLatents.pointer + i * d).update(from: trial.pointer + r * d, count: d)
      }
      pending = next
    }
    return targets
  }
}
