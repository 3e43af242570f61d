import Foundation
import IO
import Models
import Tensor
import Unlearning

let sampleCommand = Command(
  name: "sample",
  abstract: "Render a model's generator (eval mode) for given latents into an images file.",
  usage: "unlearn sample --model <M.h5> (--latents <Z.h5> | --count <N> [--seed <S>]) --out <I.h5> [--png <grid.png>]",
  options: [
    Option(name: "model", value: "<file>", help: "Model file with a /generator group.", required: true),
    Option(name: "latents", value: "<file>", help: "Latents file with /z [N, nz]."),
    Option(name: "count", value: "<n>", help: "Without --latents: draw this many latents from --seed."),
    Option(name: "seed", value: "<s>", help: "Seed for --count.", defaultValue: "0"),
    Option(
      name: "out", value: "<file>", help: "Images file to write (/images [N, C, H, W] in [-1, 1]).", required: true),
    Option(name: "png", value: "<file>", help: "Also write the images as a PNG grid."),
    Option(name: "columns", value: "<n>", help: "Grid columns of --png.", defaultValue: "10"),
  ],
  run: { args in
    let modelPath = try args.required("model"), out = try args.required("out")
    try checkInputFile(modelPath, flag: "--model")
    try checkOutputFile(out, flag: "--out")
    if let png = args.string("png") { try checkOutputFile(png, flag: "--png") }
    let m = try ModelIO.load(modelPath)
    let g = try m.requireGenerator()
    g.setMode(.inference)
    let z: Tensor
    if let lp = args.string("latents") {
      try checkInputFile(lp, flag: "--latents")
      z = try LatentsFile.read(lp)
      guard z.shape.count == 2, z.shape[1] == g.latentDim else {
        throw UsageError("\(lp): /z has shape \(z.shape), the model needs [N, \(g.latentDim)]")
      }
      guard Elementwise.allFinite(z.pointer, z.count) else { throw UsageError("\(lp): /z contains non-finite values") }
    } else if let n = try args.int("count", min: 1) {
      z = LatentSampler(seed: try args.seed(), dimension: g.latentDim).latents(
        stream: LatentStream.evaluation, indices: 0..<n)
    } else {
      throw CommandLineError(message: "give --latents <file> or --count <n>")
    }
    let comm = Runtime.communicator
    let n = z.shape[0]
    let images = try Distribute.rows(count: n, rowShape: g.outputShape, communicator: comm) { r in
      g.forward(Tensor(viewing: z.pointer + r.lowerBound * g.latentDim, shape: [r.count, g.latentDim], owner: z))
    }
    if comm.rank == 0 {
      try ImagesFile.write(images, to: out)
      if let png = args.string("png") {
        try ImageGrid.render(images, columns: try args.int("columns", min: 1) ?? 10, scale: 2).writePNG(to: png)
      }
      print("wrote \(n) images \(g.outputShape) to \(out)\(args.string("png").map { " and \($0)" } ?? "")")
    }
  })

let inspectCommand = Command(
  name: "inspect",
  abstract: "Summarise any of the project's HDF5 files (model, checkpoint, collection, direction, report, ...).",
  usage: "unlearn inspect <file.h5> [--all]",
  options: [Option(name: "all", value: nil, help: "List every dataset, not only a summary.")],
  positionals: [("file.h5", "The file to summarise.")],
  run: { args in
    guard let path = args.positional(0) else { throw CommandLineError(message: "missing the file to inspect") }
    try checkInputFile(path, flag: "<file.h5>")
    print(try Inspector.summary(path, listAll: args.flag("all")))
  })
