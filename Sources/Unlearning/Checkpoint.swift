import Foundation
import IO
import Models
import NN
import Tensor

/// Checkpoints (DESIGN.md §4): a model file (so `--model` accepts one) plus `/optimizer` (Adam step, m and
/// v per parameter, see ``OptimizerState``), root attributes `step`, `world_size_at_save`, `seed`,
/// `config` (JSON of the run) and the `/metrics` table, one dataset per column of ``StepMetrics``.
/// Written by rank 0 to a temporary file in the same folder, fsynced, then renamed.
public enum Checkpoint {
  /// The attributes of a checkpoint, readable without building the model.
  public struct Header {
    public var configJSON: String
    public var step: Int
    public var worldSizeAtSave: Int
    public var seed: UInt64
  }

  static func write(trainer t: UnlearningTrainer, to path: String) throws {
    var networks: [(String, Layer)] = [("generator", t.model)]
    for (name, net) in t.source.networks where name != "generator" { networks.append((name, net)) }
    let file = try HDF5File.create(path)
    try ModelIO.modelFile(architecture: t.source.architecture, networks: networks).write(to: file)
    try OptimizerState.write(t.adam, store: t.store, to: file, group: "/optimizer")
    try writeRunAttributes(
      file, step: t.step, worldSize: t.communicator.size, seed: t.config.seed, configJSON: t.config.json)
    try file.setAttribute("threshold", t.threshold)
    try file.setAttribute("direction", t.config.direction)
    try file.setAttribute("source_model", t.source.path)
    try writeMetrics(t.history.map(\.row), columns: StepMetrics.columns, to: file)
    pauseIfTesting(step: t.step, path: path)
    try file.commit()
  }

  /// Test hook: with `UNLEARN_TEST_PAUSE_IN_CHECKPOINT=step`, the write of that step's checkpoint stops
  /// just before the commit (the temporary file complete, `latest.h5` still the previous checkpoint),
  /// says so on standard error and waits to be killed (docs/RELIABILITY.md).
  static func pauseIfTesting(step: Int, path: String) {
    let variable = ProcessInfo.processInfo.environment["UNLEARN_TEST_PAUSE_IN_CHECKPOINT"]
    guard let s = variable, Int(s) == step else { return }
    let note = "unlearn: test hook: paused writing \(path) at step \(step) before the commit\n"
    FileHandle.standardError.write(Data(note.utf8))
    while true { sleep(3600) }
  }

  static func writeRunAttributes(_ file: HDF5File, step: Int, worldSize: Int, seed: UInt64, configJSON: String) throws {
    try file.setAttribute("step", Int64(step))
    try file.setAttribute("world_size_at_save", Int64(worldSize))
    try file.setAttribute("seed", Int64(bitPattern: seed))
    try file.setAttribute("config", configJSON)
  }

  /// Writes a table as `/metrics/<column>` datasets.
  static func writeMetrics(_ rows: [[Double]], columns: [String], to file: HDF5File) throws {
    try file.createGroup("/metrics")
    for (c, name) in columns.enumerated() {
      try file.write(rows.map { $0[c] }, shape: [rows.count], to: "/metrics/\(name)")
    }
  }

  /// Reads the `/metrics` table back as rows.
  static func readMetrics(_ file: HDF5File, columns: [String], path: String) throws -> [[Double]] {
    var cols: [[Double]] = []
    for name in columns { cols.append(file.exists("/metrics/\(name)") ? try file.readDoubles("/metrics/\(name)") : []) }
    let rows = cols[0].count
    guard cols.allSatisfy({ $0.count == rows }) else {
      throw UsageError("\(path): /metrics columns have different lengths")
    }
    return (0..<rows).map { r in cols.map { $0[r] } }
  }

  public static func header(_ path: String) throws -> Header {
    let f = try HDF5File.open(path)
    guard f.hasAttribute("step"), f.hasAttribute("config"), f.exists("/optimizer") else {
      throw UsageError(
        "\(path): not a training checkpoint (no step/config attributes or /optimizer); pass it as --model to start a new run from it"
      )
    }
    return Header(
      configJSON: try f.stringAttribute("config"), step: Int(try f.int64Attribute("step")),
      worldSizeAtSave: Int((try? f.int64Attribute("world_size_at_save")) ?? 1),
      seed: UInt64(bitPattern: (try? f.int64Attribute("seed")) ?? 0))
  }
}

extension UnlearningTrainer {
  /// Restores g's weights, Adam state, step and metrics from a checkpoint written by any number of ranks.
  @discardableResult
  public func restore(from path: String) throws -> Checkpoint.Header {
    let header = try Checkpoint.header(path)
    let saved = try ModelIO.load(path)
    guard saved.architecture == source.architecture else {
      throw UsageError(
        "\(path): architecture \(saved.architecture.json) differs from the model's \(source.architecture.json)")
    }
    try ModelIO.assign(try saved.requireGenerator().stateDict(), to: model, group: "generator", path: path)
    let f = try HDF5File.open(path)
    try OptimizerState.read(into: adam, store: store, from: f, group: "/optimizer", path: path)
    let rows = try Checkpoint.readMetrics(f, columns: StepMetrics.columns, path: path)
    restoreProgress(step: header.step, history: rows.map(StepMetrics.init(row:)))
    return header
  }
}
