/// Sums a flat gradient buffer over ranks in buckets, overlapping the sums with the backward pass.
///
/// Parameters are listed in *backward order* (the order in which their gradients become final, i.e.
/// reverse layer order), each as its element range in the flat buffer. Consecutive parameters are
/// grouped into buckets of about `bucketBytes` (see ``plan(parameterRanges:bucketBytes:)``). One step:
///
/// 1. As backward finishes a layer, call ``parameterReady(_:)`` for each of its parameters. When every
///    parameter of a bucket is ready, an in-place non-blocking allreduce SUM starts on the bucket.
///    Buckets always *start* in bucket order (a ready bucket waits for earlier ones), so all ranks
///    issue the same sequence of collectives even if they mark parameters in different orders.
/// 2. Call ``poll()`` now and then during backward (e.g. after each layer): MPI only progresses
///    non-blocking collectives inside MPI calls.
/// 3. Call ``finish()`` before reading gradients (e.g. before the optimizer step). It starts any bucket
///    not started yet (parameters never marked are reduced too), waits for all, and re-arms for the
///    next step.
///
/// Do not touch a bucket's gradients between its start and `finish()`. Elements outside every
/// parameter range are not reduced. With one rank every operation is free and the data is unchanged.
/// Call from the MPI thread; nothing allocates after `init`.
public final class GradientBuckets {
  /// How buckets are laid out over the parameters.
  public struct Plan: Equatable {
    /// The element range of each bucket, in the order they are started.
    public var buckets: [Range<Int>]
    /// For each parameter (backward order), the index of its bucket.
    public var bucketOfParameter: [Int]
  }

  /// How much of the communication the backward pass hid, for one step.
  public struct Timing: Equatable {
    /// Seconds `finish()` spent waiting for allreduces (communication not hidden).
    public var waitSeconds: Double
    /// Seconds from the first bucket's start to the last bucket's observed completion.
    public var communicationSeconds: Double
    /// Number of buckets reduced.
    public var bucketCount: Int
    /// Bytes reduced (per rank).
    public var bytes: Int

    /// Fraction of the communication time that overlapped other work, in 0...1 (1 when there was none).
    public var hiddenFraction: Double {
      communicationSeconds > 0 ? max(0, min(1, 1 - waitSeconds / communicationSeconds)) : 1
    }
  }

  /// The bucket layout.
  public let plan: Plan
  /// Bucket ranges, in start order (same as `plan.buckets`).
  public var buckets: [Range<Int>] { plan.buckets }

  private let communicator: any Communicator
  private let gradients: UnsafeMutableBufferPointer<Float>
  private let owner: AnyObject?
  private let reduces: Bool
  private let parametersPerBucket: [Int]
  private var remaining: [Int]
  private var marked: [Bool]
  private var requests: [AllreduceRequest]
  private var completedAt: [UInt64]
  private var nextToStart = 0
  private var firstStart: UInt64 = 0

  /// - Parameters:
  ///   - communicator: the ranks to sum over.
  ///   - gradients: the flat gradient buffer; it must stay allocated while this object lives
  ///     (pass its owner as `owner` to keep it alive).
  ///   - parameterRanges: each parameter's elements in `gradients`, in backward order; disjoint.
  ///   - bucketBytes: target bucket size; 1–4 MiB balances latency against overlap.
  ///   - owner: an object kept alive as long as this one, e.g. the tensor behind `gradients`.
  public init(
    communicator: any Communicator, gradients: UnsafeMutableBufferPointer<Float>, parameterRanges: [Range<Int>],
    bucketBytes: Int = 2 << 20, owner: AnyObject? = nil
  ) {
    for range in parameterRanges {
      precondition(
        range.lowerBound >= 0 && range.upperBound <= gradients.count,
        "parameter range \(range) outside the gradient buffer of \(gradients.count) elements")
    }
    let sorted = parameterRanges.filter { !$0.isEmpty }.sorted { $0.lowerBound < $1.lowerBound }
    for (a, b) in zip(sorted, sorted.dropFirst()) {
      precondition(a.upperBound <= b.lowerBound, "parameter ranges \(a) and \(b) overlap")
    }
    plan = Self.plan(parameterRanges: parameterRanges, bucketBytes: bucketBytes)
    self.communicator = communicator
    self.gradients = gradients
    self.owner = owner
    reduces = communicator.size > 1
    var counts = [Int](repeating: 0, count: plan.buckets.count)
    for bucket in plan.bucketOfParameter { counts[bucket] += 1 }
    parametersPerBucket = counts
    remaining = counts
    marked = [Bool](repeating: false, count: parameterRanges.count)
    requests = plan.buckets.map { _ in AllreduceRequest() }
    completedAt = [UInt64](repeating: 0, count: plan.buckets.count)
  }

  /// Groups parameters (backward order) into buckets of consecutive parameters.
  ///
  /// A bucket is closed before a parameter that would take it past `bucketBytes` (a parameter larger
  /// than that gets a bucket of its own) and before a parameter whose elements are not adjacent to the
  /// bucket's, so every bucket is one contiguous range. Buffers laid out in forward or in backward
  /// layer order both give contiguous buckets. Empty parameters join the current bucket.
  public static func plan(parameterRanges: [Range<Int>], bucketBytes: Int) -> Plan {
    precondition(bucketBytes > 0, "bucketBytes must be positive")
    let limit = max(1, bucketBytes / MemoryLayout<Float>.stride)
    var buckets: [Range<Int>] = []
    var bucketOfParameter: [Int] = []
    var current: Range<Int>? = nil  // the open bucket; nil when it has no parameters yet
    for range in parameterRanges {
      if let bucket = current, !range.isEmpty, !bucket.isEmpty {
        let adjacent = range.lowerBound == bucket.upperBound || range.upperBound == bucket.lowerBound
        if !adjacent || bucket.count + range.count > limit {
          buckets.append(bucket)
          current = nil
        }
      }
      if let bucket = current, !bucket.isEmpty {
        if !range.isEmpty {
          current = min(bucket.lowerBound, range.lowerBound)..<max(bucket.upperBound, range.upperBound)
        }
      } else {
        current = range
      }
      bucketOfParameter.append(buckets.count)
    }
    if let bucket = current { buckets.append(bucket) }
    return Plan(buckets: buckets, bucketOfParameter: bucketOfParameter)
  }

  /// Marks parameter `index` (backward order) as final for this step; starts every bucket that is now
  /// complete and whose predecessors have started. Marking a parameter twice in one step is an error.
  public func parameterReady(_ index: Int) throws {
    precondition(!marked[index], "parameter \(index) marked ready twice in one step")
    marked[index] = true
    remaining[plan.bucketOfParameter[index]] -= 1
    try startReadyBuckets()
  }

  /// Drives outstanding allreduces (`MPI_Test`) and records the ones that have completed.
  public func poll() throws {
    guard reduces else { return }
    for bucket in 0..<nextToStart where completedAt[bucket] == 0 {
      if try requests[bucket].test() { completedAt[bucket] = monotonicNanoseconds() }
    }
  }

  /// Starts whatever has not started, waits for every bucket, and resets for the next step.
  /// - Returns: the time spent waiting here versus the whole communication window.
  @discardableResult
  public func finish() throws -> Timing {
    for bucket in nextToStart..<plan.buckets.count { remaining[bucket] = 0 }
    try startReadyBuckets()
    let waitStart = monotonicNanoseconds()
    var lastCompletion: UInt64 = 0
    var bytes = 0
    if reduces {
      for bucket in 0..<plan.buckets.count {
        if completedAt[bucket] == 0 {
          try requests[bucket].wait()
          completedAt[bucket] = monotonicNanoseconds()
        }
        lastCompletion = max(lastCompletion, completedAt[bucket])
        bytes += plan.buckets[bucket].count * MemoryLayout<Float>.stride
      }
    }
    let waitEnd = monotonicNanoseconds()
    let timing = Timing(
      waitSeconds: reduces ? seconds(from: waitStart, to: waitEnd) : 0,
      communicationSeconds: reduces && !plan.buckets.isEmpty ? seconds(from: firstStart, to: lastCompletion) : 0,
      bucketCount: reduces ? plan.buckets.count : 0, bytes: bytes)
    for bucket in 0..<plan.buckets.count {
      remaining[bucket] = parametersPerBucket[bucket]
      completedAt[bucket] = 0
    }
    for index in marked.indices { marked[index] = false }
    nextToStart = 0
    firstStart = 0
    return timing
  }

  /// Starts buckets in order while the next one has all its parameters ready.
  private func startReadyBuckets() throws {
    while nextToStart < plan.buckets.count, remaining[nextToStart] == 0 {
      let bucket = nextToStart
      nextToStart += 1
      guard reduces else { continue }
      if bucket == 0 { firstStart = monotonicNanoseconds() }
      let range = plan.buckets[bucket]
      let slice = UnsafeMutableBufferPointer(rebasing: gradients[range])
      try communicator.startAllreduceSum(slice, into: requests[bucket])
      if !requests[bucket].isPending { completedAt[bucket] = monotonicNanoseconds() }
    }
  }
}
