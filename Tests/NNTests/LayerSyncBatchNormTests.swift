import Foundation
import NN
import Tensor
import Testing

/// An in-process allreduce SUM over `ranks` threads: each caller deposits its buffer, the last one to arrive
/// sums them in rank order, and everyone leaves with the sum. Records the buffer sizes it saw.
final class ThreadAllreduce {
  private let ranks: Int
  private let condition = NSCondition()
  private var deposits: [[Float]]
  private var result: [Float] = []
  private var arrived = 0
  private var generation = 0
  private(set) var sizes: [Int] = []

  init(ranks: Int) {
    self.ranks = ranks
    deposits = Array(repeating: [], count: ranks)
  }

  func reducer(rank: Int) -> (UnsafeMutableBufferPointer<Float>) -> Void {
    { buffer in
      self.condition.lock()
      defer { self.condition.unlock() }
      self.deposits[rank] = Array(buffer)
      self.arrived += 1
      let myGeneration = self.generation
      if self.arrived == self.ranks {
        precondition(Set(self.deposits.map(\.count)).count == 1, "ranks reduced different buffer sizes")
        self.result = self.deposits.dropFirst().reduce(self.deposits[0]) { zip($0, $1).map { $0 + $1 } }
        self.sizes.append(buffer.count)
        self.arrived = 0
        self.generation += 1
        self.condition.broadcast()
      } else {
        while self.generation == myGeneration { self.condition.wait() }
      }
      // The next round cannot complete before this rank arrives at it, so `result` is still this round's.
      for i in 0..<buffer.count { buffer[i] = self.result[i] }
    }
  }
}

/// Runs `body(rank)` on `ranks` threads at once and waits for all of them.
func runRanks(_ ranks: Int, _ body: @escaping (Int) -> Void) {
  let done = DispatchSemaphore(value: 0)
  for r in 0..<ranks {
    let t = Thread {
      body(r)
      done.signal()
    }
    t.start()
  }
  for _ in 0..<ranks { done.wait() }
}

/// Rows `range` of the batch dimension of `x`, as a new tensor.
func batchSlice(_ x: Tensor, _ range: Range<Int>) -> Tensor {
  let per = x.count / x.shape[0]
  return Tensor(
    shape: [range.count] + x.shape.dropFirst(),
    values: Array(x.array[(range.lowerBound * per)..<(range.upperBound * per)]))
}

/// SyncBatchNorm: ranks holding slices of a batch, with a reducer summing across them, must match one
/// layer seeing the whole batch.
struct LayerSyncBatchNormTests {
  @Test(arguments: [[3, 3], [1, 5], [2, 2, 2]])
  func ranksWithSlicesMatchTheWholeBatch(split: [Int]) {
    let channels = 3
    let total = split.reduce(0, +)
    let ranks = split.count
    let reference = BatchNorm2d(channels: channels)
    randomiseParameters(reference, seed: 1, scale: 0.5, offset: 1)
    let replicas = (0..<ranks).map { _ in BatchNorm2d(channels: channels) }
    let allreduce = ThreadAllreduce(ranks: ranks)
    for (r, bn) in replicas.enumerated() {
      for (name, p) in bn.namedParameters() { p.value.copy(from: reference.stateDict()[name]!) }
      bn.statisticsReducer = allreduce.reducer(rank: r)
    }
    let starts = split.indices.map { split[..<$0].reduce(0, +) }
    for step in 0..<2 {
      let x = randomTensor([total, channels, 3, 2], seed: 10 + UInt64(step), scale: 2)
      for i in 0..<x.count { x[i] += 1 }
      let dy = randomTensor(x.shape, seed: 20 + UInt64(step))
      reference.zeroGradients()
      let y = reference.forward(x).array
      let dx = reference.backward(dy).array

      var outputs = [[Float]](repeating: [], count: ranks)
      var inputGradients = outputs
      let lock = NSLock()
      runRanks(ranks) { r in
        let range = starts[r]..<(starts[r] + split[r])
        let bn = replicas[r]
        bn.zeroGradients()
        let yr = bn.forward(batchSlice(x, range)).array
        let dxr = bn.backward(batchSlice(dy, range)).array
        lock.lock()
        (outputs[r], inputGradients[r]) = (yr, dxr)
        lock.unlock()
      }
      let label = "split \(split), step \(step)"
      expectClose(outputs.flatMap { $0 }, y.map(Double.init), tolerance: 1e-5, "\(label) output")
      expectClose(inputGradients.flatMap { $0 }, dx.map(Double.init), tolerance: 1e-5, "\(label) dInput")
      for name in ["weight", "bias"] {
        // Each rank keeps its local part; the data-parallel gradient allreduce sums them.
        var summed = [Double](repeating: 0, count: channels)
        for bn in replicas {
          let g = bn.namedParameters().first { $0.0 == name }!.1.grad
          for c in 0..<channels { summed[c] += Double(g[c]) }
        }
        let full = reference.namedParameters().first { $0.0 == name }!.1.grad.array
        expectClose(full, summed, tolerance: 1e-5, "\(label) d\(name) summed over ranks")
      }
      for bn in replicas {
        expectClose(
          bn.runningMean.array, reference.runningMean.array.map(Double.init), tolerance: 1e-6, "\(label) running_mean")
        expectClose(
          bn.runningVar.array, reference.runningVar.array.map(Double.init), tolerance: 1e-5, "\(label) running_var")
        #expect(bn.numBatchesTracked.array == reference.numBatchesTracked.array)
      }
    }
    // Per step: forward reduces [Σx, Σx², count] (2C + 1), backward [Σdy, Σdy·x̂] (2C).
    #expect(allreduce.sizes == [2 * channels + 1, 2 * channels, 2 * channels + 1, 2 * channels])
  }

  @Test func inferenceModeNeverCallsTheReducer() {
    let bn = BatchNorm2d(channels: 2)
    var calls = 0
    bn.statisticsReducer = { _ in calls += 1 }
    bn.setMode(.inference)
    let x = randomTensor([2, 2, 2, 2], seed: 30)
    _ = bn.forward(x)
    _ = bn.backward(randomTensor(x.shape, seed: 31))
    #expect(calls == 0)
  }
}
