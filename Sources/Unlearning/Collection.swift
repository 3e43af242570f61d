import Distributed
import Foundation
import IO
import Models
import Tensor

/// Labelled latents (DESIGN.md §1 step 1, §4 "Collection file").
public struct Collection {
  /// Sampled latents [N, nz].
  public var z: Tensor
  /// 1 = positive (shows the feature).
  public var labels: [UInt8]
  /// The labeler's score per sample (larger = more of the feature).
  public var scores: [Float]
  /// Rendered images [N, C, H, W], when kept.
  public var images: Tensor?
  /// For VAEs: encoder means of the rendered images [N, nz]; the direction is fitted in this space.
  public var encoded: Tensor?
  public var labeler: String
  public var sourceModel: String
  public var seed: UInt64
  /// Attribute cut used for the labels, if any.
  public var cut: Double?

  public var positives: Int { labels.reduce(0) { $0 + Int($1) } }

  /// The latents the direction is fitted on: encoder means when present, else z.
  public var directionLatents: Tensor { encoded ?? z }
  public var latentSpace: String { encoded == nil ? "z" : "encoder_mean" }

  public func write(to path: String) throws {
    let f = try HDF5File.create(path)
    try f.write(z, to: "/z")
    try f.write(labels, shape: [labels.count], to: "/labels")
    try f.write(Tensor(shape: [scores.count], values: scores), to: "/scores")
    if let images { try f.write(images, to: "/images") }
    if let encoded { try f.write(encoded, to: "/encoded") }
    try f.setAttribute("format", "unlearn.collection")
    try f.setAttribute("labeler", labeler)
    try f.setAttribute("source_model", sourceModel)
    try f.setAttribute("seed", Int64(bitPattern: seed))
    try f.setAttribute("n_positive", Int64(positives))
    try f.setAttribute("n_negative", Int64(labels.count - positives))
    try f.setAttribute("latent_space", latentSpace)
    if let cut { try f.setAttribute("cut", cut) }
    try f.commit()
  }

  public static func read(_ path: String) throws -> Collection {
    let f = try HDF5File.open(path)
    let z = try f.readFloats("/z")
    let labels = try f.readUInt8("/labels")
    guard z.shape.count == 2, labels.count == z.shape[0] else {
      throw UsageError("\(path): /labels has \(labels.count) entries but /z has shape \(z.shape)")
    }
    let scores = f.exists("/scores") ? try f.readFloats("/scores").array : [Float](repeating: 0, count: labels.count)
    let images = f.exists("/images") ? try f.readFloats("/images") : nil
    let encoded = f.exists("/encoded") ? try f.readFloats("/encoded") : nil
    if let encoded, encoded.shape.count != 2 || encoded.shape[0] != labels.count {
      throw UsageError("\(path): /encoded has shape \(encoded.shape), expected [\(labels.count), nz]")
    }
    return Collection(
      z: z, labels: labels, scores: scores, images: images, encoded: encoded,
      labeler: (try? f.stringAttribute("labeler")) ?? "", sourceModel: (try? f.stringAttribute("source_model")) ?? "",
      seed: UInt64(bitPattern: (try? f.int64Attribute("seed")) ?? 0), cut: try? f.doubleAttribute("cut"))
  }
}

/// Samples, renders (spread over the ranks) and labels latents.
public enum Collector {
  /// Renders `count` latents of the collection stream with the frozen generator and labels them.
  /// Every rank returns the same collection; only rank 0 should write it.
  public static func collect(
    model: LoadedModel, count: Int, seed: UInt64, labeler: Labeler, keepImages: Bool,
    communicator comm: Communicator, progress: Progress? = nil
  ) throws -> Collection {
    let g = try model.requireGenerator()
    g.setMode(.inference)
    let sampler = LatentSampler(seed: seed, dimension: g.latentDim)
    let z = sampler.latents(stream: LatentStream.collection, indices: 0..<count)
    var done = 0
    let images = try Distribute.rows(count: count, rowShape: g.outputShape, communicator: comm) { rows in
      let zs = Tensor(viewing: z.pointer + rows.lowerBound * g.latentDim, shape: [rows.count, g.latentDim], owner: z)
      let y = g.forward(zs)
      done += rows.count
      progress?.update(done * comm.size, "rendering")
      return y
    }
    var labels: [UInt8]
    var scores: [Float]
    switch labeler.spec {
    case .ids(let path):
      labels = try Labeler.readIDs(path, count: count)
      scores = labels.map(Float.init)
    default:
      let m = try Distribute.rows(count: count, rowShape: [2], communicator: comm) { rows in
        labeler.measure(
          Tensor(
            viewing: images.pointer + rows.lowerBound * images.count / count,
            shape: [rows.count] + g.outputShape, owner: images))
      }
      scores = Labeler.scores(m)
      labeler.fixCut(scores: scores)
      labels = labeler.labels(m)
    }
    var encoded: Tensor? = nil
    if let e = model.encoder {
      e.setMode(.inference)
      encoded = try Distribute.rows(count: count, rowShape: [e.latentDim], communicator: comm) { rows in
        e.forward(
          Tensor(
            viewing: images.pointer + rows.lowerBound * images.count / count,
            shape: [rows.count] + g.outputShape, owner: images))
      }
    }
    return Collection(
      z: z, labels: labels, scores: scores, images: keepImages ? images : nil, encoded: encoded,
      labeler: labeler.spec.description, sourceModel: model.path, seed: seed, cut: labeler.cut)
  }
}
