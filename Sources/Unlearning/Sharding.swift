import Distributed
import Tensor

/// Contiguous split of `count` items over ranks: rank r gets [count·r/size, count·(r+1)/size).
/// Uneven counts are allowed (slices differ by at most one); since every per-sample term is normalised by
/// the *global* count and normalisation statistics are frozen, results do not depend on the split.
public func shard(_ count: Int, rank: Int, size: Int) -> Range<Int> {
  (count * rank / size)..<(count * (rank + 1) / size)
}

/// Which Philox stream a latent comes from. Streams never overlap, so training, collection, evaluation
/// and attacks draw independent latents from the same seed.
public enum LatentStream {
  /// Training step s (0-based).
  public static func training(step: Int) -> UInt64 { UInt64(step) }
  public static let collection: UInt64 = 1 << 62
  public static let evaluation: UInt64 = 1 << 61
  public static let attack: UInt64 = 1 << 60
  public static let pretraining: UInt64 = 1 << 59
}

/// Standard-normal latents z_j = Philox(seed)(stream, j), each a pure function of (seed, stream, j).
public struct LatentSampler {
  public let philox: Philox
  public let dimension: Int
  public init(seed: UInt64, dimension: Int) {
    philox = Philox(seed: seed)
    self.dimension = dimension
  }

  /// Writes latents `indices` of `stream` as rows of `out` (which must hold indices.count × dimension).
  public func fill(stream: UInt64, indices: Range<Int>, into out: UnsafeMutablePointer<Float>) {
    for (row, j) in indices.enumerated() {
      philox.normals(stream: stream, index: UInt64(j), count: dimension, into: out + row * dimension)
    }
  }

  /// Latents `indices` of `stream` as a new [n, dimension] tensor.
  public func latents(stream: UInt64, indices: Range<Int>) -> Tensor {
    let t = Tensor(shape: [indices.count, dimension])
    fill(stream: stream, indices: indices, into: t.pointer)
    return t
  }
}

/// Runs a per-row computation split over the ranks and assembles the full result on every rank.
public enum Distribute {
  /// Applies `body` to each rank's slice of the `count` rows (in chunks of at most `chunk`) and returns
  /// every row's `rowSize` outputs on every rank (zero-padded slices summed by allreduce, so the result is
  /// the same whatever the number of ranks).
  public static func rows(
    count: Int, rowShape: [Int], communicator comm: Communicator, chunk: Int = 256,
    _ body: (Range<Int>) throws -> Tensor
  ) throws -> Tensor {
    let rowSize = rowShape.reduce(1, *)
    let out = Tensor(shape: [count] + rowShape)
    let mine = shard(count, rank: comm.rank, size: comm.size)
    var start = mine.lowerBound
    while start < mine.upperBound {
      let end = min(start + chunk, mine.upperBound)
      let y = try body(start..<end)
      precondition(
        y.count == (end - start) * rowSize, "row function returned \(y.shape) for \(end - start) rows of \(rowShape)")
      (out.pointer + start * rowSize).update(from: y.pointer, count: y.count)
      start = end
    }
    try comm.during("distributed rows allreduce") { try comm.allreduceSum(out.buffer) }
    return out
  }
}
