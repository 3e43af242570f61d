import Testing

@testable import Distributed

@Suite("GradientBuckets")
struct GradientBucketsTests {
  /// Element ranges of parameters laid out back to back in forward order.
  static func forwardLayout(_ sizes: [Int]) -> [Range<Int>] {
    var offset = 0
    return sizes.map { size in
      defer { offset += size }
      return offset..<(offset + size)
    }
  }

  @Test func reverseLayerOrderGivesContiguousBucketsUnderTheTarget() {
    // 4 bytes per element: a 400-byte target holds 100 elements.
    let forward = Self.forwardLayout([60, 10, 30, 5, 50, 20, 40])
    let plan = GradientBuckets.plan(parameterRanges: forward.reversed(), bucketBytes: 400)
    // Backward order sizes: 40, 20, 50, 5, 30, 10, 60 → [40 20] [50 5 30 10] [60].
    #expect(plan.buckets == [155..<215, 60..<155, 0..<60])
    #expect(plan.bucketOfParameter == [0, 0, 1, 1, 1, 1, 2])
    let covered = plan.buckets.reduce(0) { $0 + $1.count }
    #expect(covered == 215)
  }

  @Test func forwardMemoryOrderIsAlsoContiguous() {
    let ranges = Self.forwardLayout([30, 30, 30, 30])
    let plan = GradientBuckets.plan(parameterRanges: ranges, bucketBytes: 240)
    #expect(plan.buckets == [0..<60, 60..<120])
  }

  @Test func oversizedParameterGetsItsOwnBucket() {
    let ranges = Self.forwardLayout([10, 500, 10]).reversed() as [Range<Int>]
    let plan = GradientBuckets.plan(parameterRanges: ranges, bucketBytes: 400)
    #expect(plan.buckets == [510..<520, 10..<510, 0..<10])
    #expect(plan.bucketOfParameter == [0, 1, 2])
  }

  @Test func nonAdjacentParametersAreSplitAndEmptyOnesJoin() {
    let ranges = [0..<10, 20..<30, 30..<30, 30..<35]
    let plan = GradientBuckets.plan(parameterRanges: ranges, bucketBytes: 1 << 20)
    #expect(plan.buckets == [0..<10, 20..<35])
    #expect(plan.bucketOfParameter == [0, 1, 1, 1])
    #expect(GradientBuckets.plan(parameterRanges: [], bucketBytes: 1024).buckets.isEmpty)
  }

  @Test func localBucketsAreFreeAndLeaveGradientsAlone() throws {
    let ranges = Self.forwardLayout([100, 3, 200, 7])
    let gradients = UnsafeMutableBufferPointer<Float>.allocate(capacity: 310)
    defer { gradients.deallocate() }
    for i in gradients.indices { gradients[i] = Float(i) }
    let buckets = GradientBuckets(
      communicator: LocalCommunicator(), gradients: gradients, parameterRanges: ranges.reversed(), bucketBytes: 1000)
    #expect(buckets.buckets.count == 2)
    for step in 0..<2 {
      for parameter in 0..<ranges.count where step == 0 || parameter < 2 {  // step 1 leaves two unmarked
        try buckets.parameterReady(parameter)
        try buckets.poll()
      }
      let timing = try buckets.finish()
      #expect(timing == GradientBuckets.Timing(waitSeconds: 0, communicationSeconds: 0, bucketCount: 0, bytes: 0))
      #expect(timing.hiddenFraction == 1)
    }
    #expect((0..<310).allSatisfy { gradients[$0] == Float($0) })
  }
}
