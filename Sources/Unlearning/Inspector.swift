import Foundation
import IO
import Models
import Tensor

/// Readable summaries of the project's HDF5 files (`unlearn inspect`).
public enum Inspector {
  public static func summary(_ path: String, listAll: Bool = false) throws -> String {
    let f = try HDF5File.open(path)
    let format = (try? f.stringAttribute("format")) ?? "unknown"
    var out = "\(path): \(format)"
    if let v = try? f.int64Attribute("format_version") { out += " v\(v)" }
    out += "\n"
    if let a = try? f.stringAttribute("architecture"), let arch = try? Architecture.parse(a) {
      out += "  architecture: \(arch.json)\n"
      if arch.family != "classifier" {
        let side = arch.outputSize
        out += "  generates \(arch.channels)×\(side)×\(side) images from \(arch.latentDim ?? 0)-d latents\n"
      }
    }
    for name in try f.attributeNames(of: "/").sorted()
    where !["format", "format_version", "architecture", "config"].contains(name) {
      out += "  \(name) = \(attributeText(f, name, of: "/"))\n"
    }
    if f.hasAttribute("config") { out += "  config = \((try? f.stringAttribute("config")) ?? "")\n" }
    if f.exists("/metrics/step") {
      let steps = try f.readDoubles("/metrics/step")
      if !steps.isEmpty, let loss = try? f.readDoubles("/metrics/loss"),
        let frac = try? f.readDoubles("/metrics/fraction_positive")
      {
        out += String(
          format: "  metrics: %d steps logged; last step %d: loss %.4f, routed %.2f\n", steps.count, Int(steps.last!),
          loss.last!, frac.last!)
      }
    }
    out += try tree(f, "/", indent: "  ", listAll: listAll)
    return out
  }

  static func attributeText(_ f: HDF5File, _ name: String, of path: String) -> String {
    if let s = try? f.stringAttribute(name, of: path) { return s.count > 120 ? String(s.prefix(117)) + "..." : s }
    if let i = try? f.int64Attribute(name, of: path) { return "\(i)" }
    if let d = try? f.doubleAttribute(name, of: path) { return String(format: "%.6g", d) }
    if let ds = try? f.doublesAttribute(name, of: path) { return "\(ds)" }
    return "?"
  }

  static func tree(_ f: HDF5File, _ path: String, indent: String, listAll: Bool) throws -> String {
    var out = ""
    let members = try f.members(of: path)
    let base = path == "/" ? "/" : path + "/"
    var datasets: [(String, [Int])] = []
    for m in members {
      let p = base + m
      if f.isGroup(p) {
        let sub = try tree(f, p, indent: indent + "  ", listAll: listAll)
        let count = try countScalars(f, p)
        out += "\(indent)\(p)/  (\(try f.members(of: p).count) members, \(count) values)\n"
        if listAll || p.split(separator: "/").count < 2 || !sub.contains("/main.") { out += sub }
      } else {
        datasets.append((p, (try? f.shape(of: p)) ?? []))
      }
    }
    let shown = listAll ? datasets : Array(datasets.prefix(12))
    for (p, shape) in shown {
      var line = "\(indent)\(p)  \(shape)"
      if let t = try? f.readFloats(p), t.count > 0 {
        let b = t.buffer
        var lo = Float.infinity, hi = -Float.infinity, s = 0.0, bad = 0
        for v in b { if v.isFinite { lo = min(lo, v); hi = max(hi, v); s += Double(v) } else { bad += 1 } }
        line += String(format: "  min %.4g  mean %.4g  max %.4g", lo, s / Double(max(1, t.count - bad)), hi)
        if bad > 0 { line += "  (\(bad) non-finite)" }
      }
      out += line + "\n"
    }
    if shown.count < datasets.count { out += "\(indent)… \(datasets.count - shown.count) more datasets (use --all)\n" }
    return out
  }

  static func countScalars(_ f: HDF5File, _ path: String) throws -> Int {
    var n = 0
    for m in try f.members(of: path) {
      let p = path + "/" + m
      if f.isGroup(p) { n += try countScalars(f, p) } else { n += ((try? f.shape(of: p)) ?? []).reduce(1, *) }
    }
    return n
  }
}
