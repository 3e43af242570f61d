import Foundation
import IO
import Models
import Tensor
import Unlearning

let pretrainCommand = Command(
  name: "pretrain",
  abstract: "Pretrain the project's own GAN, VAE or classifier on IDX images (data-parallel under mpirun).",
  discussion: """
    KIND is gan (DCGAN, non-saturating loss), vae (convolutional VAE, Gaussian likelihood with σ = \
    --vae-sigma on the [-1, 1] scale) or classifier (cross-entropy). The first --train-count images train, \
    the rest are held out. BatchNorm statistics are summed over ranks (SyncBatchNorm), so 1 and N ranks \
    train the same model. Writes OUT/latest.h5 (checkpoint), OUT/model.h5 (model file), \
    OUT/metrics.jsonl and, for gan and vae, OUT/samples.png.
    """,
  usage:
    "unlearn pretrain <gan|vae|classifier> --images <idx> --labels <idx> --out <DIR> [--architecture NAME] [--steps K] [options]",
  options: [
    Option(name: "images", value: "<idx>", help: "IDX images (plain or gzip)."),
    Option(name: "labels", value: "<idx>", help: "IDX labels (plain or gzip)."),
    Option(name: "out", value: "<dir>", help: "Output folder (created if its parent exists)."),
    Option(
      name: "architecture", value: "<name|json>",
      help: "Preset (dcgan28, dcgan64, vae28, classifier28) or JSON; default by kind."),
    Option(name: "config", value: "<file>", help: "JSON configuration; flags override it."),
    Option(name: "resume", value: "<ckpt>", help: "Continue from a pretraining checkpoint."),
    Option(
      name: "train-count", value: "<n>", help: "Images used for training; the rest are held out.", defaultValue: "8000"),
    Option(name: "steps", value: "<k>", help: "Total steps.", defaultValue: "1000"),
    Option(name: "global-batch", value: "<b>", help: "Images per step over all ranks.", defaultValue: "64"),
    Option(name: "seed", value: "<s>", help: "Seed of initialisation, shuffling and noise.", defaultValue: "0"),
    Option(name: "learning-rate", value: "<lr>", help: "Adam learning rate.", defaultValue: "2e-4"),
    Option(name: "beta1", value: "<b1>", help: "Adam β1.", defaultValue: "0.5"),
    Option(name: "beta2", value: "<b2>", help: "Adam β2.", defaultValue: "0.999"),
    Option(name: "vae-sigma", value: "<σ>", help: "VAE likelihood noise.", defaultValue: "0.7"),
    Option(name: "checkpoint-every", value: "<k>", help: "Checkpoint every k steps.", defaultValue: "500"),
    Option(name: "log-every", value: "<k>", help: "metrics.jsonl line every k steps.", defaultValue: "50"),
    Option(
      name: "watchdog-seconds", value: "<s>", help: "Abort when a collective stalls this long.", defaultValue: "300"),
  ],
  positionals: [("kind", "gan, vae or classifier.")],
  run: { args in
    guard let kind = args.positional(0) else {
      throw CommandLineError(message: "missing KIND (gan, vae or classifier)")
    }
    guard ["gan", "vae", "classifier"].contains(kind) else {
      throw CommandLineError(message: "unknown KIND '\(kind)' (expected gan, vae or classifier)")
    }
    var config = try resolveConfig(
      PretrainConfig.self, args, keys: PretrainConfig.keys,
      defaults: [
        "kind": kind, "architecture": ["gan": "dcgan28", "vae": "vae28", "classifier": "classifier28"][kind]!,
      ])
    config.kind = kind
    try validateNamingSource(args) { try config.validate() }
    for (key, flag) in [(config.images, "--images"), (config.labels, "--labels")] {
      if key.isEmpty { throw CommandLineError(message: "missing required option '\(flag)'") }
      try checkInputFile(key, flag: flag)
    }
    if config.out.isEmpty { throw CommandLineError(message: "missing required option '--out'") }
    try checkOutputFolder(config.out, flag: "--out")
    let comm = Runtime.communicator
    Runtime.setWatchdogTimeout(config.watchdogSeconds)
    let data = try IDXDataset.load(images: config.images, labels: config.labels)
    let trainer = try Pretrainer(config: config, data: data, communicator: comm)
    if let r = args.string("resume") {
      try trainer.restore(from: r)
      Runtime.log("resumed \(r) at step \(trainer.step)")
    }
    // Created only now that the data and any checkpoint were accepted: a rejected run leaves nothing.
    if comm.rank == 0 { try prepareOutputFolder(config.out, flag: "--out") }
    _ = try comm.during("startup agreement") { try comm.agree(false) }
    Runtime.log(
      "pretrain \(kind): \(comm.size) rank(s) × \(BLASThreads.count) BLAS thread(s), \(min(config.trainCount, data.count)) training images of \(data.count)"
    )
    Runtime.log("config: \(config.json)")
    try trainer.train(log: { Runtime.log($0) })
    if let acc = try trainer.heldOutAccuracy() {
      Runtime.log(
        String(
          format: "held-out accuracy: %.2f%% on %d images", 100 * acc, data.count - min(config.trainCount, data.count)))
    }
    if comm.rank == 0, let g = trainer.model.generator {
      g.setMode(.inference)
      let z = LatentSampler(seed: 12345, dimension: g.latentDim).latents(
        stream: LatentStream.evaluation, indices: 0..<100)
      let png = (config.out as NSString).appendingPathComponent("samples.png")
      try ImageGrid.render(g.forward(z), columns: 10, scale: 2).writePNG(to: png)
      Runtime.log("samples: \(png)")
    }
    if comm.rank == 0 { print("pretrained \(kind) to step \(trainer.step) → \(trainer.modelPath)") }
  })
