import IO
import NN
import Tensor
import TestSupport
import Testing

/// `Tests/Fixtures/adam.h5`: five `torch.optim.Adam` steps on one 7-element parameter.
@Suite("Parity: adam.h5") struct ParityAdamTests {
  @Test func fiveSteps() throws {
    let file = try HDF5File.open(fixturePath("adam.h5"))
    defer { file.close() }
    let steps = Int(try file.int64Attribute("steps"))
    #expect(try file.doubleAttribute("weight_decay") == 0)
    let parameter = try file.readFloats("/initial")
    let count = parameter.count
    let gradients = try file.readFloats("/grads")
    let expected = try file.readFloats("/params")
    #expect(gradients.shape == [steps, count] && expected.shape == [steps, count])
    let adam = Adam(
      count: count, learningRate: try file.doubleAttribute("lr"), beta1: try file.doubleAttribute("beta1"),
      beta2: try file.doubleAttribute("beta2"), eps: try file.doubleAttribute("eps"))

    var worst = 0.0
    for s in 0..<steps {
      adam.step(
        parameters: UnsafeMutableBufferPointer(start: parameter.pointer, count: count),
        gradients: UnsafeBufferPointer(start: gradients.pointer + s * count, count: count))
      let reference = Tensor(shape: [count], values: Array(expected.array[(s * count)..<((s + 1) * count)]))
      worst = max(worst, assertClose(parameter, reference, rtol: 1e-6, atol: 1e-7, "params after step \(s + 1)"))
    }
    #expect(adam.stepCount == steps)
    worst = max(worst, assertClose(adam.m, try file.readFloats("/exp_avg"), rtol: 1e-6, atol: 1e-9, "exp_avg"))
    worst = max(worst, assertClose(adam.v, try file.readFloats("/exp_avg_sq"), rtol: 1e-6, atol: 1e-12, "exp_avg_sq"))
    print("parity adam.h5: worst |Δ|/max|ref| = \(worst)")
  }
}
