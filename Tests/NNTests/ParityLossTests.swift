import IO
import NN
import Tensor
import TestSupport
import Testing

/// Every case of `Tests/Fixtures/losses.h5`: per-sample values and the gradient of Σ_i w_i · value_i with
/// respect to the prediction, for the stored random sample weights w.
@Suite("Parity: losses.h5") struct ParityLossTests {
  static let cases = [
    "l1", "mse", "bce_with_logits", "bce_with_logits_soft", "cross_entropy", "ssim_1x28x28", "ssim_3x64x64",
    "ms_ssim_1x28x28_s2", "ms_ssim_1x28x28_s2_clamped", "ms_ssim_3x64x64_s3",
  ]

  @Test func casesCoverTheFile() throws {
    let file = try HDF5File.open(fixturePath("losses.h5"))
    defer { file.close() }
    #expect(try file.members(of: "/") == Self.cases.sorted())
  }

  @Test(arguments: cases) func loss(_ name: String) throws {
    let file = try HDF5File.open(fixturePath("losses.h5"))
    defer { file.close() }
    let g = "/" + name
    let prediction = try file.readFloats(g + "/prediction")
    let target =
      name == "cross_entropy"
      ? Tensor(shape: [prediction.shape[0]], values: try file.readInt64(g + "/target").map { Float($0) })
      : try file.readFloats(g + "/target")
    let sampleWeights = try file.readFloats(g + "/sample_weights").array
    let expectedValues = try file.readFloats(g + "/values")
    let expectedGradient = try file.readFloats(g + "/dPrediction")
    let n = prediction.shape[0]

    // Self-consistency of the fixture: loss = Σ w · values.
    let total = try file.readFloats(g + "/loss")
    let weighted = (0..<n).reduce(0.0) { $0 + Double(sampleWeights[$1]) * Double(expectedValues[$1]) }
    #expect(abs(weighted - Double(total[0])) <= 1e-5 * abs(Double(total[0])) + 1e-6, "\(name): loss vs Σ w·values")

    var worst: Double
    if name.hasPrefix("ssim") || name.hasPrefix("ms_ssim") {
      worst = try similarity(name, file, prediction, target, sampleWeights, expectedValues, expectedGradient)
    } else {
      let loss: PerSampleLoss
      switch name {
      case "l1": loss = L1Loss()
      case "mse": loss = MSELoss()
      case "cross_entropy": loss = CrossEntropyLoss()
      default: loss = BCEWithLogitsLoss()
      }
      let values = Tensor(shape: [n], values: loss.forward(prediction: prediction, target: target))
      worst = assertClose(values, expectedValues, rtol: 1e-5, atol: 1e-6, "\(name) values")
      let gradient = loss.backward(weights: sampleWeights)
      worst = max(worst, assertClose(gradient, expectedGradient, rtol: 1e-4, "\(name) dPrediction"))
    }
    print("parity losses.h5 \(name): worst |Δ|/max|ref| = \(worst)")
  }

  /// SSIM and MS-SSIM cases: the fixture stores similarities and the gradient of Σ w · similarity.
  /// `MSSSIMLoss` returns 1 − similarity and differentiates that, so it is driven with the weights negated.
  /// Single-scale SSIM is MS-SSIM with one scale (weight 1; the clamp at 1e-6 is inactive for these images).
  private func similarity(
    _ name: String, _ file: HDF5File, _ prediction: Tensor, _ target: Tensor, _ sampleWeights: [Float],
    _ expectedValues: Tensor, _ expectedGradient: Tensor
  ) throws -> Double {
    let g = "/" + name
    let n = prediction.shape[0]
    #expect(try file.int64Attribute("window", of: g) == 7 && file.doubleAttribute("sigma", of: g) == 1.5)
    #expect(try file.doubleAttribute("k1", of: g) == 0.01 && file.doubleAttribute("k2", of: g) == 0.03)
    #expect(try file.doubleAttribute("data_range", of: g) == 1)
    let multiScale = name.hasPrefix("ms_ssim")
    let scales = multiScale ? Int(try file.int64Attribute("scales", of: g)) : 1

    var worst: Double
    if multiScale {
      #expect(try file.doubleAttribute("clamp_min", of: g) == MSSSIM.minimumValue)
      #expect(try file.doublesAttribute("weights", of: g) == Array(MSSSIM.standardWeights.prefix(scales)))
      let values = Tensor(shape: [n], values: MSSSIM(scales: scales)(prediction, target))
      worst = assertClose(values, expectedValues, rtol: 1e-5, atol: 1e-6, "\(name) values (MSSSIM)")
    } else {
      let values = Tensor(shape: [n], values: SSIM()(prediction, target))
      worst = assertClose(values, expectedValues, rtol: 1e-5, atol: 1e-6, "\(name) values (SSIM)")
    }

    let loss = MSSSIMLoss(scales: scales)
    let lossValues = Tensor(shape: [n], values: loss.forward(prediction: prediction, target: target).map { 1 - $0 })
    worst = max(worst, assertClose(lossValues, expectedValues, rtol: 1e-5, atol: 1e-6, "\(name) 1 − MSSSIMLoss"))
    let gradient = loss.backward(weights: sampleWeights.map { -$0 })
    let tolerance: Float = multiScale ? 1e-3 : 1e-4
    worst = max(worst, assertClose(gradient, expectedGradient, rtol: tolerance, "\(name) dPrediction"))
    return worst
  }
}

extension ParityLossTests {
  /// The 3-channel case decides where the channel mean sits: pytorch_msssim (and the fixture) takes the weighted
  /// product per channel, then the mean over channels (`.afterProduct`, the default). Averaging the channels'
  /// values first (`.beforeProduct`) moves the values by only ~1e-5 but the gradient by ~0.4 %.
  @Test func msssimChannelOrder() throws {
    let file = try HDF5File.open(fixturePath("losses.h5"))
    defer { file.close() }
    let g = "/ms_ssim_3x64x64_s3"
    let prediction = try file.readFloats(g + "/prediction")
    let target = try file.readFloats(g + "/target")
    let negatedWeights = try file.readFloats(g + "/sample_weights").array.map { -$0 }
    let expectedValues = try file.readFloats(g + "/values")
    let expectedGradient = try file.readFloats(g + "/dPrediction")
    #expect(prediction.shape[1] == 3)

    #expect(
      MSSSIMLoss(scales: 3).forward(prediction: prediction, target: target)
        == MSSSIMLoss(scales: 3, channelReduction: .afterProduct).forward(prediction: prediction, target: target))
    let after = MSSSIMLoss(scales: 3, channelReduction: .afterProduct)
    let values = Tensor(shape: [2], values: after.forward(prediction: prediction, target: target).map { 1 - $0 })
    assertClose(values, expectedValues, rtol: 1e-6, "afterProduct values")
    assertClose(after.backward(weights: negatedWeights), expectedGradient, rtol: 1e-4, "afterProduct dPrediction")

    let before = MSSSIMLoss(scales: 3, channelReduction: .beforeProduct)
    _ = before.forward(prediction: prediction, target: target)
    let gradient = before.backward(weights: negatedWeights)
    var worst: Float = 0
    var scale: Float = 0
    for i in 0..<gradient.count {
      worst = max(worst, abs(gradient[i] - expectedGradient[i]))
      scale = max(scale, abs(expectedGradient[i]))
    }
    #expect(worst > 1e-3 * scale, "beforeProduct should not match the fixture's gradient: \(worst / scale)")
  }
}
