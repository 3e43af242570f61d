import Foundation

/// A run configuration: Codable with a default for every key (`init()`). ``ConfigLoader`` decodes a JSON
/// object onto the defaults, so a file or a flag names only what it changes.
public protocol RunConfiguration: Codable {
  init()
}

/// Every setting of an unlearning run (`unlearn train`). JSON keys are snake_case; command-line flags are
/// the same names in kebab-case and override the file. Defaults follow the paper and ANCHORS.md.
public struct TrainConfig: RunConfiguration, Equatable, Sendable {
  /// Pretrained model file (f, and the starting point of g).
  public var model: String = ""
  /// Direction file (z_e and threshold).
  public var direction: String = ""
  /// Output folder for `latest.h5` and `metrics.jsonl`.
  public var out: String = ""
  /// Total optimisation steps of the run (a resumed run stops here too).
  public var steps: Int = 300
  /// Latents per step over all ranks.
  public var globalBatch: Int = 64
  /// Seed of the latent stream: latent j of step s depends only on (seed, s, j).
  public var seed: UInt64 = 0
  public var learningRate: Double = 1e-4
  public var beta1: Double = 0.5
  public var beta2: Double = 0.999
  /// Weight α of the unlearning terms: L = α·(L_unlearn + L_percep) + L_recon.
  public var alpha: Double = 1
  /// Pixel distance of L_recon and L_unlearn: "l1" (paper) or "mse".
  public var distance: String = "l1"
  /// Perceptual term on routed latents: "ms-ssim" (paper) or "none".
  public var perceptual: String = "ms-ssim"
  /// MS-SSIM scales; 0 picks 2 for images up to 32 px, 3 above.
  public var msSsimScales: Int = 0
  public var msSsimWindow: Int = 7
  public var msSsimSigma: Double = 1.5
  /// Overrides the direction file's threshold when set.
  public var threshold: Double? = nil
  /// Which latents are moved and how far: "projection" (the paper: u·z ≥ t, onto t) or "labeler"
  /// (the latents `router_labeler` calls positive, along −u until it calls them negative; see ``LabelerRouter``).
  public var routing: String = "projection"
  /// `routing: "labeler"`: a labeler spec that judges single images (classifier:…, attribute:NAME:min=V);
  /// unset = the direction file's labeler (with its collection's cut).
  public var routerLabeler: String? = nil
  /// `routing: "labeler"`: Δ, the distance along −u between a positive's candidates.
  public var routerStep: Double = 0.5
  /// `routing: "labeler"`: K, the candidates tried per positive.
  public var routerCandidates: Int = 8
  /// Write `latest.h5` every this many steps (and at the end); 0 = only at the end.
  public var checkpointEvery: Int = 100
  /// Log a metrics line every this many steps.
  public var logEvery: Int = 10
  /// What a non-finite loss or gradient does: "stop" (default) or "skip" the step.
  public var onNonfinite: String = "stop"
  /// Target size of a gradient allreduce bucket.
  public var bucketMegabytes: Double = 2
  /// A blocking collective that takes longer than this aborts the job with its phase and step.
  public var watchdogSeconds: Double = 300

  public init() {}

  enum CodingKeys: String, CodingKey, CaseIterable {
    case model, direction, out, steps, seed, alpha, distance, perceptual, threshold
    case globalBatch = "global_batch", learningRate = "learning_rate", beta1, beta2
    case msSsimScales = "ms_ssim_scales", msSsimWindow = "ms_ssim_window", msSsimSigma = "ms_ssim_sigma"
    case checkpointEvery = "checkpoint_every", logEvery = "log_every", onNonfinite = "on_nonfinite"
    case bucketMegabytes = "bucket_megabytes", watchdogSeconds = "watchdog_seconds"
    case routing, routerLabeler = "router_labeler", routerStep = "router_step", routerCandidates = "router_candidates"
  }

  public static var keys: [String] { CodingKeys.allCases.map(\.rawValue) }

  /// Checks every value's range; the error names the key.
  public func validate() throws {
    func bad(_ key: String, _ why: String) -> UsageError { UsageError("config key \"\(key)\": \(why)") }
    if steps < 0 { throw bad("steps", "must be ≥ 0, got \(steps)") }
    if globalBatch <= 0 { throw bad("global_batch", "must be > 0, got \(globalBatch)") }
    if !(learningRate > 0) || !learningRate.isFinite {
      throw bad("learning_rate", "must be a finite number > 0, got \(learningRate)")
    }
    if !(0..<1).contains(beta1) { throw bad("beta1", "must be in [0, 1), got \(beta1)") }
    if !(0..<1).contains(beta2) { throw bad("beta2", "must be in [0, 1), got \(beta2)") }
    if !(alpha >= 0) || !alpha.isFinite { throw bad("alpha", "must be a finite number ≥ 0, got \(alpha)") }
    if !["l1", "mse"].contains(distance) { throw bad("distance", "must be \"l1\" or \"mse\", got \"\(distance)\"") }
    if !["ms-ssim", "none"].contains(perceptual) {
      throw bad("perceptual", "must be \"ms-ssim\" or \"none\", got \"\(perceptual)\"")
    }
    if !(0...5).contains(msSsimScales) { throw bad("ms_ssim_scales", "must be 0 (auto) to 5, got \(msSsimScales)") }
    if msSsimWindow < 3 || msSsimWindow % 2 == 0 {
      throw bad("ms_ssim_window", "must be odd and ≥ 3, got \(msSsimWindow)")
    }
    if !(msSsimSigma > 0) { throw bad("ms_ssim_sigma", "must be > 0, got \(msSsimSigma)") }
    if let t = threshold, !t.isFinite { throw bad("threshold", "must be a finite number, got \(t)") }
    if !["projection", "labeler"].contains(routing) {
      throw bad("routing", "must be \"projection\" or \"labeler\", got \"\(routing)\"")
    }
    if routing == "labeler", let spec = routerLabeler {
      do { _ = try LabelerSpec.parse(spec) } catch let e as UsageError {
        throw bad("router_labeler", e.message.replacingOccurrences(of: "option --labeler ", with: ""))
      }
    }
    if !(routerStep > 0) || !routerStep.isFinite { throw bad("router_step", "must be a finite number > 0, got \(routerStep)") }
    if !(1...64).contains(routerCandidates) { throw bad("router_candidates", "must be 1…64, got \(routerCandidates)") }
    if checkpointEvery < 0 { throw bad("checkpoint_every", "must be ≥ 0, got \(checkpointEvery)") }
    if logEvery <= 0 { throw bad("log_every", "must be > 0, got \(logEvery)") }
    if !["stop", "skip"].contains(onNonfinite) {
      throw bad("on_nonfinite", "must be \"stop\" or \"skip\", got \"\(onNonfinite)\"")
    }
    if !(bucketMegabytes > 0) { throw bad("bucket_megabytes", "must be > 0, got \(bucketMegabytes)") }
    if !(watchdogSeconds > 0) { throw bad("watchdog_seconds", "must be > 0, got \(watchdogSeconds)") }
  }

  /// The run as compact JSON (stored in checkpoints).
  public var json: String {
    let e = JSONEncoder()
    e.outputFormatting = [.sortedKeys]
    return String(decoding: try! e.encode(self), as: UTF8.self)
  }
}

/// Reading JSON objects of a Codable config with errors that name the file and key.
public enum ConfigLoader {
  /// Decodes `data` into `T`, rejecting unknown keys (with a nearest-key suggestion) and naming the key
  /// whose value has the wrong type.
  public static func decode<T: Decodable>(
    _ type: T.Type, from data: Data, knownKeys: [String], source: String
  ) throws -> T {
    let object: Any
    do { object = try JSONSerialization.jsonObject(with: data) } catch {
      throw UsageError("\(source): not valid JSON (\(error.localizedDescription))")
    }
    guard let dict = object as? [String: Any] else {
      throw UsageError("\(source): expected a JSON object at the top level")
    }
    for key in dict.keys.sorted() where !knownKeys.contains(key) {
      let hint = nearest(key, in: knownKeys).map { "; did you mean \"\($0)\"?" } ?? ""
      throw UsageError("\(source): unknown key \"\(key)\"\(hint)")
    }
    var complete = data
    if let configuration = T.self as? any RunConfiguration.Type {
      complete = try withDefaults(dict, configuration)
    }
    do { return try JSONDecoder().decode(T.self, from: complete) } catch let DecodingError.typeMismatch(t, ctx) {
      throw UsageError(
        "\(source): key \"\(ctx.codingPath.map(\.stringValue).joined(separator: "."))\": expected \(describe(t))")
    } catch let DecodingError.dataCorrupted(ctx) {
      throw UsageError(
        "\(source): key \"\(ctx.codingPath.map(\.stringValue).joined(separator: "."))\": \(ctx.debugDescription)")
    } catch let DecodingError.valueNotFound(t, ctx) {
      throw UsageError(
        "\(source): key \"\(ctx.codingPath.map(\.stringValue).joined(separator: "."))\": expected \(describe(t)), got null"
      )
    }
  }

  /// Loads a JSON file.
  public static func load<T: Decodable>(_ type: T.Type, path: String, knownKeys: [String]) throws -> T {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw UsageError("\(path): cannot read config file (missing or unreadable)")
    }
    return try decode(type, from: data, knownKeys: knownKeys, source: path)
  }

  /// The given keys over the encoded defaults of `C()`; a JSON `null` leaves the default in place.
  static func withDefaults<C: RunConfiguration>(_ given: [String: Any], _ type: C.Type) throws -> Data {
    var merged = try JSONSerialization.jsonObject(with: JSONEncoder().encode(C())) as? [String: Any] ?? [:]
    for (key, value) in given where !(value is NSNull) { merged[key] = value }
    return try JSONSerialization.data(withJSONObject: merged)
  }

  static func describe(_ t: Any.Type) -> String {
    switch t {
    case is Int.Type, is UInt64.Type: return "an integer"
    case is Double.Type, is Float.Type: return "a number"
    case is String.Type: return "a string"
    case is Bool.Type: return "true or false"
    default: return "\(t)"
    }
  }

  /// Applies `key=value` overrides (from flags) on top of a JSON object, then decodes. Values are parsed as
  /// JSON when possible (numbers, null), else taken as strings.
  public static func merge<T: Decodable>(
    _ type: T.Type, base: Data?, overrides: [(key: String, value: String, flag: String)], knownKeys: [String],
    source: String
  ) throws -> T {
    var dict: [String: Any] = [:]
    if let base {
      guard let obj = try? JSONSerialization.jsonObject(with: base), let d = obj as? [String: Any] else {
        throw UsageError("\(source): expected a JSON object at the top level")
      }
      dict = d
      _ = try decode(T.self, from: base, knownKeys: knownKeys, source: source)  // report file errors by file name
    }
    for o in overrides {
      if let v = try? JSONSerialization.jsonObject(with: Data(o.value.utf8), options: [.fragmentsAllowed]),
        !(v is [Any]), !(v is [String: Any])
      {
        dict[o.key] = v
      } else {
        dict[o.key] = o.value
      }
    }
    let data = try JSONSerialization.data(withJSONObject: dict)
    do {
      return try decode(T.self, from: data, knownKeys: knownKeys, source: "options")
    } catch let e as UsageError {
      // Name the flag when the bad key came from one.
      for o in overrides where e.message.contains("\"\(o.key)\"") {
        throw UsageError(
          "option \(o.flag): " + e.message.replacingOccurrences(of: "options: key \"\(o.key)\": ", with: ""))
      }
      throw e
    }
  }
}
