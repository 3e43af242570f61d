import Foundation
import Models
import NN
import Tensor

/// Decides which generated images show the feature (DESIGN.md §1 step 1).
///
/// Specs (the `--labeler` flag):
/// - `classifier:PATH:class=K` — positive when the classifier's top class is K; score = softmax p(K).
/// - `attribute:NAME:top=F` — a measured attribute (thickness, slant, …); the top fraction F of the
///   labelled batch is positive. `attribute:NAME:min=V` uses a fixed cut instead.
/// - `ids:FILE` — the numbers a person picked from the contact sheet (collection only).
public enum LabelerSpec: Equatable, CustomStringConvertible {
  case classifier(path: String, classIndex: Int)
  case attribute(Attribute, cut: AttributeCut)
  case ids(path: String)

  public enum AttributeCut: Equatable {
    case topFraction(Double)
    case minimum(Double)
  }

  public static func parse(_ spec: String) throws -> LabelerSpec {
    let parts = spec.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
    func bad(_ why: String) -> UsageError {
      UsageError(
        "option --labeler \"\(spec)\": \(why) (expected classifier:PATH:class=K, attribute:NAME:top=F, attribute:NAME:min=V or ids:FILE)"
      )
    }
    switch parts.first {
    case "classifier":
      guard parts.count >= 3, let last = parts.last, last.hasPrefix("class="), let k = Int(last.dropFirst(6)), k >= 0
      else {
        throw bad("classifier labeler needs a path and class=K")
      }
      let path = parts[1..<(parts.count - 1)].joined(separator: ":")
      if path.isEmpty { throw bad("empty classifier path") }
      return .classifier(path: path, classIndex: k)
    case "attribute":
      guard parts.count == 3 else { throw bad("attribute labeler needs NAME and top=F or min=V") }
      guard let a = Attribute(rawValue: parts[1]) else {
        let names = Attribute.allCases.map(\.rawValue)
        let hint = nearest(parts[1], in: names).map { "; did you mean \"\($0)\"?" } ?? ""
        throw bad("unknown attribute \"\(parts[1])\" (known: \(names.joined(separator: ", ")))\(hint)")
      }
      if parts[2].hasPrefix("top="), let f = Double(parts[2].dropFirst(4)), f > 0, f < 1 {
        return .attribute(a, cut: .topFraction(f))
      }
      if parts[2].hasPrefix("min="), let v = Double(parts[2].dropFirst(4)), v.isFinite {
        return .attribute(a, cut: .minimum(v))
      }
      throw bad("attribute cut must be top=F with 0 < F < 1, or min=V")
    case "ids":
      guard parts.count >= 2, !parts[1...].joined(separator: ":").isEmpty else { throw bad("ids labeler needs a file") }
      return .ids(path: parts[1...].joined(separator: ":"))
    default:
      throw bad("unknown labeler kind \"\(parts.first ?? "")\"")
    }
  }

  public var description: String {
    switch self {
    case .classifier(let p, let k): return "classifier:\(p):class=\(k)"
    case .attribute(let a, .topFraction(let f)): return "attribute:\(a.rawValue):top=\(f)"
    case .attribute(let a, .minimum(let v)): return "attribute:\(a.rawValue):min=\(v)"
    case .ids(let p): return "ids:\(p)"
    }
  }
}

/// A labeler ready to score images: scores are per image, larger = more of the feature.
public final class Labeler {
  public let spec: LabelerSpec
  public let classifier: Classifier?
  /// For `attribute:…:top=F`, the cut fixed by ``fixCut(scores:)``; images with score ≥ cut are positive.
  public private(set) var cut: Double?

  public init(_ spec: LabelerSpec) throws {
    self.spec = spec
    switch spec {
    case .classifier(let path, let k):
      let m = try ModelIO.load(path)
      let c = try m.requireClassifier()
      if k >= c.classCount { throw UsageError("option --labeler: class=\(k) but \(path) has \(c.classCount) classes") }
      c.setMode(.inference)
      classifier = c
    case .attribute(_, .minimum(let v)):
      classifier = nil
      cut = v
    default:
      classifier = nil
    }
  }

  /// Measures images [N, C, H, W] in [−1, 1]: a tensor [N, 2] holding, per image, the score (larger =
  /// more of the feature; softmax p(K) for classifiers) and a vote (1 when the classifier's top class is
  /// K; 0 for attributes, whose labels come from the cut).
  public func measure(_ images: Tensor) -> Tensor {
    let n = images.shape[0]
    let out = Tensor(shape: [n, 2])
    switch spec {
    case .classifier(_, let k):
      let logits = classifier!.forward(images)
      let kCount = logits.shape[1]
      let top = logits.rowArgmax()
      for i in 0..<n {
        let row = logits.pointer + i * kCount, best = top[i]
        var s: Float = 0
        for j in 0..<kCount { s += exp(row[j] - row[best]) }
        out[2 * i] = exp(row[k] - row[best]) / s
        out[2 * i + 1] = best == k ? 1 : 0
      }
    case .attribute(let a, _):
      let values = Attribute.measure(a, images: images)
      for i in 0..<n { out[2 * i] = values[i] }
    case .ids:
      break
    }
    return out
  }

  /// Scores column of ``measure(_:)``.
  public static func scores(_ measurements: Tensor) -> [Float] {
    (0..<measurements.shape[0]).map { measurements[2 * $0] }
  }

  /// Positive (1) / negative (0) for measured images. Attribute labelers with `top=F` need ``fixCut(scores:)`` first.
  public func labels(_ measurements: Tensor) -> [UInt8] {
    let n = measurements.shape[0]
    switch spec {
    case .classifier:
      return (0..<n).map { measurements[2 * $0 + 1] > 0.5 ? 1 : 0 }
    case .attribute:
      let c = cut!
      return (0..<n).map { Double(measurements[2 * $0]) >= c ? 1 : 0 }
    case .ids:
      return [UInt8](repeating: 0, count: n)
    }
  }

  /// For `top=F`: fixes the cut at the (1−F) quantile of `scores` (the images labelled first, i.e. the
  /// collection or the original model's samples), so later batches are judged by the same cut.
  public func fixCut(scores: [Float]) {
    guard case .attribute(_, .topFraction(let f)) = spec, cut == nil, !scores.isEmpty else { return }
    let sorted = scores.sorted(by: >)
    let k = max(1, Int((Double(sorted.count) * f).rounded()))
    cut = Double(sorted[min(k, sorted.count) - 1])
  }

  /// Reads the picks of a person from an ids file: integers separated by spaces, commas or newlines;
  /// `#` starts a comment.
  public static func readIDs(_ path: String, count: Int) throws -> [UInt8] {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
      throw UsageError(
        "\(path): cannot read the ids file (write the numbers of the contact-sheet images that show the feature into it)"
      )
    }
    var labels = [UInt8](repeating: 0, count: count)
    for line in text.split(whereSeparator: \.isNewline) {
      let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
      for token in content.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" }) {
        guard let i = Int(token), i >= 0, i < count else {
          throw UsageError("\(path): \"\(token)\" is not an image number between 0 and \(count - 1)")
        }
        labels[i] = 1
      }
    }
    return labels
  }
}
