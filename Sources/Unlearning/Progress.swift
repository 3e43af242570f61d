import Foundation

/// A rank-0 progress line: "label  step/total  <fields>  N samples/s  ETA m:ss". On a terminal it redraws
/// one line; otherwise it prints a line at most every `interval` seconds (and at the end).
public final class Progress {
  public let label: String
  public let total: Int
  public let enabled: Bool
  private let start = Date()
  private var lastPrint = Date.distantPast
  private let interval: Double
  private let isTTY = isatty(2) != 0
  private var startDone: Int

  public init(label: String, total: Int, enabled: Bool, startingAt done: Int = 0, interval: Double = 5) {
    self.label = label
    self.total = total
    self.enabled = enabled
    self.interval = isatty(2) != 0 ? 0.2 : interval
    startDone = done
  }

  /// Reports `done` of `total` with extra text; `samples` (if given) is the number of samples processed
  /// since the start, for a rate.
  public func update(_ done: Int, _ text: String = "", samples: Int? = nil, force: Bool = false) {
    guard enabled else { return }
    let now = Date()
    guard force || done >= total || now.timeIntervalSince(lastPrint) >= interval else { return }
    lastPrint = now
    let elapsed = now.timeIntervalSince(start)
    let work = done - startDone
    var line = "\(label) \(min(done, total))/\(total)"
    if !text.isEmpty { line += "  " + text }
    if let s = samples, elapsed > 0 { line += String(format: "  %.1f samples/s", Double(s) / elapsed) }
    if work > 0 && done < total {
      line += "  ETA " + Progress.clock(elapsed / Double(work) * Double(total - done))
    } else if done >= total {
      line += "  done in " + Progress.clock(elapsed)
    }
    if isTTY {
      FileHandle.standardError.write(Data(("\r\u{1B}[K" + line + (done >= total ? "\n" : "")).utf8))
    } else {
      FileHandle.standardError.write(Data((line + "\n").utf8))
    }
  }

  public static func clock(_ seconds: Double) -> String {
    let s = Int(seconds.rounded())
    return s >= 3600
      ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
  }
}
