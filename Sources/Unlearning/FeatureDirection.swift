import Foundation
import IO
import Tensor

/// The feature direction z_e = mean(z | positive) − mean(z | negative) and the routing threshold
/// (DESIGN.md §1 step 2). With u = z_e/‖z_e‖, a latent carries the feature when u·z ≥ threshold.
public struct FeatureDirection: Equatable {
  /// z_e, not normalised.
  public var direction: [Float]
  public var threshold: Double
  public var nPositive: Int
  public var nNegative: Int
  /// "z" (GAN latents) or "encoder_mean" (VAE).
  public var latentSpace: String
  public var labeler: String
  public var sourceModel: String
  /// How the threshold was chosen: "mean_projection" (the paper) or "user".
  public var thresholdSource: String
  /// The collection's attribute cut (`attribute:NAME:top=F` labelers), so later stages judge images alike.
  public var cut: Double? = nil

  /// u = z_e / ‖z_e‖ (computed in Double).
  public var unit: [Float] {
    let n = direction.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
    return direction.map { Float(Double($0) / n) }
  }

  /// Fits the paper's direction on a collection; the threshold is the mean projection u·z over all
  /// collected latents unless `threshold` is given.
  public static func fit(_ c: Collection, threshold: Double? = nil, source: String = "collection") throws
    -> FeatureDirection
  {
    let latents = c.directionLatents
    let (n, d) = (latents.shape[0], latents.shape[1])
    let pos = c.positives, neg = n - pos
    if pos == 0 {
      throw UsageError(
        "\(source): the collection has no positive samples; a direction needs both positives and negatives")
    }
    if neg == 0 {
      throw UsageError(
        "\(source): the collection has no negative samples; a direction needs both positives and negatives")
    }
    var sumPos = [Double](repeating: 0, count: d), sumNeg = [Double](repeating: 0, count: d)
    for i in 0..<n {
      let row = latents.pointer + i * d
      if c.labels[i] != 0 {
        for k in 0..<d { sumPos[k] += Double(row[k]) }
      } else {
        for k in 0..<d { sumNeg[k] += Double(row[k]) }
      }
    }
    let ze = (0..<d).map { Float(sumPos[$0] / Double(pos) - sumNeg[$0] / Double(neg)) }
    guard ze.allSatisfy(\.isFinite) else { throw UsageError("\(source): latents contain non-finite values") }
    var fd = FeatureDirection(
      direction: ze, threshold: 0, nPositive: pos, nNegative: neg, latentSpace: c.latentSpace,
      labeler: c.labeler, sourceModel: c.sourceModel, thresholdSource: threshold == nil ? "mean_projection" : "user",
      cut: c.cut)
    guard ze.contains(where: { $0 != 0 }) else {
      throw UsageError("\(source): positive and negative means coincide; the direction is zero")
    }
    if let t = threshold {
      guard t.isFinite else { throw UsageError("option --threshold: must be a finite number, got \(t)") }
      fd.threshold = t
    } else {
      let u = fd.unit
      var s = 0.0
      for i in 0..<n { s += fd.project(latents.pointer + i * d, unit: u) }
      fd.threshold = s / Double(n)
    }
    return fd
  }

  /// u·z in Double.
  @inlinable public func project(_ z: UnsafePointer<Float>, unit u: [Float]) -> Double {
    var s = 0.0
    for k in 0..<u.count { s += Double(u[k]) * Double(z[k]) }
    return s
  }

  /// The paper's routing (DESIGN.md §1 step 3) of latents [n, nz]: rows with u·z ≥ t get
  /// ẑ = z − (u·z − t)·u in `out` (landing on the threshold up to float rounding), the others z itself.
  /// Returns which rows were moved.
  public func route(_ z: Tensor, unit u: [Float], threshold t: Double, into out: Tensor) -> [Bool] {
    let (n, d) = (z.shape[0], u.count)
    return (0..<n).map { i in
      let row = z.pointer + i * d, moved = out.pointer + i * d
      let p = project(row, unit: u)
      let shift = p >= t ? Float(p - t) : 0
      for k in 0..<d { moved[k] = row[k] - shift * u[k] }
      return p >= t
    }
  }

  public func write(to path: String) throws {
    let f = try HDF5File.create(path)
    try f.write(Tensor(shape: [direction.count], values: direction), to: "/direction")
    try f.setAttribute("format", "unlearn.direction")
    try f.setAttribute("threshold", threshold)
    try f.setAttribute("threshold_source", thresholdSource)
    try f.setAttribute("n_positive", Int64(nPositive))
    try f.setAttribute("n_negative", Int64(nNegative))
    try f.setAttribute("latent_space", latentSpace)
    try f.setAttribute("labeler", labeler)
    try f.setAttribute("source_model", sourceModel)
    if let cut { try f.setAttribute("cut", cut) }
    try f.commit()
  }

  public static func read(_ path: String) throws -> FeatureDirection {
    let f = try HDF5File.open(path)
    let v = try f.readFloats("/direction")
    guard v.shape.count == 1, v.count > 0 else {
      throw UsageError("\(path): /direction has shape \(v.shape), expected [nz]")
    }
    if let i = v.buffer.firstIndex(where: { !$0.isFinite }) {
      throw UsageError("\(path): /direction: non-finite value \(v[i]) at index \(i)")
    }
    guard v.buffer.contains(where: { $0 != 0 }) else { throw UsageError("\(path): /direction is all zeros") }
    let t = try f.doubleAttribute("threshold")
    guard t.isFinite else { throw UsageError("\(path): attribute threshold is \(t), expected a finite number") }
    return FeatureDirection(
      direction: v.array, threshold: t, nPositive: Int((try? f.int64Attribute("n_positive")) ?? 0),
      nNegative: Int((try? f.int64Attribute("n_negative")) ?? 0),
      latentSpace: (try? f.stringAttribute("latent_space")) ?? "z",
      labeler: (try? f.stringAttribute("labeler")) ?? "", sourceModel: (try? f.stringAttribute("source_model")) ?? "",
      thresholdSource: (try? f.stringAttribute("threshold_source")) ?? "mean_projection",
      cut: try? f.doubleAttribute("cut"))
  }
}
