import Foundation
import IO
import TestSupport
import Testing

@testable import Unlearning

/// A DCGAN trained in PyTorch with the tutorial's module layout, saved as .pt, converted by
/// tools/convert.py (tools/make_converted_fixture.py), renders through `unlearn sample` to the images
/// PyTorch renders from the same latents.
@Test func convertedPyTorchGeneratorRendersLikePyTorch() throws {
  let dir = temporaryFolder()
  let job = try Job.run(
    try Job.executable("unlearn", packageRoot: repositoryRoot),
    [
      "sample", "--model", fixturePath("converted_dcgan28.h5"), "--latents",
      fixturePath("converted_dcgan28_latents.h5"),
      "--out", dir + "/images.h5", "--png", dir + "/grid.png",
    ], ranks: nil, timeLimit: 60)
  #expect(job.status == 0, "\(job)")
  let ours = try ImagesFile.read(dir + "/images.h5")
  let torch = try ImagesFile.read(fixturePath("converted_dcgan28_images.h5"))
  #expect(ours.shape == [16, 1, 28, 28])
  assertClose(ours, torch, rtol: 1e-4, "unlearn sample vs PyTorch eval-mode render")
  #expect(FileManager.default.fileExists(atPath: dir + "/grid.png"))
}
