import Foundation
import IO
import Models
import Tensor
import Unlearning

/// Images for one side of an FID: a model's samples or a range of IDX images.
func fidImages(_ args: Arguments, side: String, evaluator: Evaluator) throws -> (Tensor, String) {
  if let m = args.string("\(side)-model") {
    try checkInputFile(m, flag: "--\(side)-model")
    let g = try ModelIO.load(m).requireGenerator()
    let n = try args.int("\(side)-count", min: 2) ?? 5000
    let z = LatentSampler(seed: try args.seed("\(side)-seed"), dimension: g.latentDim).latents(
      stream: LatentStream.evaluation, indices: 0..<n)
    return (try evaluator.render(g, z), "\(m) (\(n) samples)")
  }
  guard let images = try idxImageRange(args, prefix: "\(side)-") else {
    throw CommandLineError(message: "give --\(side)-model or --\(side)-images")
  }
  return images
}

let fidCommand = Command(
  name: "fid",
  abstract: "FID between two image sets (model samples or IDX images) in the classifier's feature space.",
  discussion: """
    Each side is either --a-model (samples of its generator) or --a-images (an IDX file, optionally a range \
    --a-from/--a-count); likewise --b-…. Features are the classifier's hidden layer (MNIST convention; \
    Inception weights are not available offline). E.g. the floor, held-out digits against training digits: \
    --a-images t10k-images-idx3-ubyte.gz --a-from 8000 --b-images t10k-images-idx3-ubyte.gz --b-count 8000.
    """,
  usage:
    "unlearn fid --classifier <C.h5> (--a-model <M.h5> | --a-images <idx>) (--b-model <M.h5> | --b-images <idx>) [--json OUT]",
  options: [
    Option(name: "classifier", value: "<file>", help: "Classifier model file.", required: true),
    Option(name: "a-model", value: "<file>", help: "Side A: a model's generator samples."),
    Option(name: "a-images", value: "<idx>", help: "Side A: IDX images."),
    Option(name: "a-from", value: "<k>", help: "Side A: first image.", defaultValue: "0"),
    Option(name: "a-count", value: "<n>", help: "Side A: number of images or samples (default: all, or 5000 samples)."),
    Option(name: "a-seed", value: "<s>", help: "Side A: seed of the samples.", defaultValue: "1"),
    Option(name: "b-model", value: "<file>", help: "Side B: a model's generator samples."),
    Option(name: "b-images", value: "<idx>", help: "Side B: IDX images."),
    Option(name: "b-from", value: "<k>", help: "Side B: first image.", defaultValue: "0"),
    Option(name: "b-count", value: "<n>", help: "Side B: number of images or samples."),
    Option(name: "b-seed", value: "<s>", help: "Side B: seed of the samples.", defaultValue: "2"),
    Option(name: "json", value: "<file>", help: "Also write {\"fid\": …} as JSON."),
  ],
  run: { args in
    let cp = try args.required("classifier")
    try checkInputFile(cp, flag: "--classifier")
    if let j = args.string("json") { try checkOutputFile(j, flag: "--json") }
    let comm = Runtime.communicator
    let c = try ModelIO.load(cp).requireClassifier()
    let evaluator = Evaluator(communicator: comm)
    let (a, aName) = try fidImages(args, side: "a", evaluator: evaluator)
    let (b, bName) = try fidImages(args, side: "b", evaluator: evaluator)
    c.setMode(.inference)
    let fa = try evaluator.perImage(a, width: c.featureCount) { c.embed($0) }
    let fb = try evaluator.perImage(b, width: c.featureCount) { c.embed($0) }
    let fid = FeatureStatistics.frechetDistance(FeatureStatistics(fa), FeatureStatistics(fb))
    let pa = try evaluator.perImage(a, width: c.classCount) { softmax(c.forward($0)) }
    let pb = try evaluator.perImage(b, width: c.classCount) { softmax(c.forward($0)) }
    if comm.rank == 0 {
      print(String(format: "FID %.4f  between %@ and %@", fid, aName, bName))
      for (name, p) in [("A", pa), ("B", pb)] {
        let s = ClassifierSummary(probabilities: p)
        print(
          String(
            format: "  %@: mean top-class confidence %.3f, class-histogram entropy %.3f of the maximum, IS %.3f",
            name, s.meanConfidence, s.histogramEntropy, inceptionScore(probabilities: p)))
      }
      if let j = args.string("json") { try AtomicText.write(String(format: "{\"fid\": %.6f}\n", fid), to: j) }
    }
  })
