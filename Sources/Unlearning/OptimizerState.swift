import Foundation
import IO
import NN
import Tensor

/// Adam state stored beside model weights: `<group>/step` (int64) and `<group>/m/<key>`, `<group>/v/<key>`
/// named like the parameters, so checkpoints are readable with h5py and independent of the flat layout.
public enum OptimizerState {
  public static func write(_ adam: Adam, store: ParameterStore, to file: HDF5File, group: String) throws {
    try file.createGroup("\(group)/m")
    try file.createGroup("\(group)/v")
    try file.write([Int64(adam.stepCount)], shape: [], to: "\(group)/step")
    for e in store.entries {
      try file.write(
        Tensor(viewing: adam.m.pointer + e.offset, shape: e.shape, owner: adam.m), to: "\(group)/m/\(e.name)")
      try file.write(
        Tensor(viewing: adam.v.pointer + e.offset, shape: e.shape, owner: adam.v), to: "\(group)/v/\(e.name)")
    }
  }

  /// Restores m, v and the step count into `adam` for the parameters of `store`.
  public static func read(into adam: Adam, store: ParameterStore, from file: HDF5File, group: String, path: String)
    throws
  {
    guard file.exists("\(group)/step") else { throw UsageError("\(path): no optimizer state \(group)/step") }
    for e in store.entries {
      for (name, dst) in [("m", adam.m), ("v", adam.v)] {
        let key = "\(group)/\(name)/\(e.name)"
        guard file.exists(key) else { throw UsageError("\(path): missing optimizer dataset \(key)") }
        let t = try file.readFloats(key)
        guard t.shape == e.shape else { throw UsageError("\(path): \(key) has shape \(t.shape), expected \(e.shape)") }
        (dst.pointer + e.offset).update(from: t.pointer, count: t.count)
      }
    }
    adam.stepCount = Int(try file.readInt64("\(group)/step").first ?? 0)
  }
}
