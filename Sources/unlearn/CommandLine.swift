import Foundation
import Unlearning

/// One option of a subcommand: `--name <value>` or a bare `--flag`.
struct Option {
  var name: String
  var value: String?  // value placeholder, nil for a flag
  var help: String
  var defaultValue: String? = nil
  var required = false
}

/// A subcommand: its help text, options and what it runs.
struct Command {
  var name: String
  var abstract: String
  var discussion: String = ""
  var usage: String
  var options: [Option]
  var positionals: [(String, String)] = []
  var run: (Arguments) throws -> Void
}

/// Exit codes: 64 = usage error (as sysexits.h and swift-argument-parser), 1 = runtime failure.
enum ExitCode {
  static let usage: Int32 = 64
  static let failure: Int32 = 1
}

/// A bad command line; printed with the usage line and a pointer to `--help`.
struct CommandLineError: Error, CustomStringConvertible {
  var message: String
  var description: String { message }
}

/// Parsed arguments of one subcommand, with typed getters whose errors name the flag.
final class Arguments {
  let command: Command
  private var values: [String: String] = [:]
  private var flags: Set<String> = []
  private(set) var positionals: [String] = []
  /// Options in the order given (for config overrides).
  private(set) var given: [(String, String)] = []

  init(command: Command, argv: [String]) throws {
    self.command = command
    var i = 0
    let byName = Dictionary(uniqueKeysWithValues: command.options.map { ($0.name, $0) })
    while i < argv.count {
      let a = argv[i]
      if a.hasPrefix("--") {
        var name = String(a.dropFirst(2))
        var inline: String? = nil
        if let eq = name.firstIndex(of: "=") {
          inline = String(name[name.index(after: eq)...])
          name = String(name[..<eq])
        }
        guard let opt = byName[name] else {
          let hint = nearest(name, in: Array(byName.keys)).map { "; did you mean '--\($0)'?" } ?? ""
          throw CommandLineError(message: "unknown option '--\(name)'\(hint)")
        }
        if opt.value == nil {
          if inline != nil { throw CommandLineError(message: "option '--\(name)' takes no value") }
          flags.insert(name)
        } else {
          let v: String
          if let inline {
            v = inline
          } else {
            guard i + 1 < argv.count else {
              throw CommandLineError(message: "option '--\(name)' needs a value \(opt.value!)")
            }
            i += 1
            v = argv[i]
          }
          values[name] = v
          given.append((name, v))
        }
      } else if a.hasPrefix("-") && a.count > 1 && Double(a) == nil {
        throw CommandLineError(message: "unknown option '\(a)'")
      } else {
        positionals.append(a)
      }
      i += 1
    }
    if positionals.count > command.positionals.count {
      throw CommandLineError(message: "unexpected argument '\(positionals[command.positionals.count])'")
    }
    for o in command.options where o.required && values[o.name] == nil {
      throw CommandLineError(message: "missing required option '--\(o.name) \(o.value ?? "")'")
    }
  }

  func has(_ name: String) -> Bool { values[name] != nil || flags.contains(name) }
  func flag(_ name: String) -> Bool { flags.contains(name) }

  func string(_ name: String) -> String? { values[name] ?? command.options.first { $0.name == name }?.defaultValue }

  func required(_ name: String) throws -> String {
    guard let v = string(name), !v.isEmpty else {
      throw CommandLineError(message: "missing required option '--\(name)'")
    }
    return v
  }

  func int(_ name: String, min lower: Int? = nil) throws -> Int? {
    guard let s = string(name) else { return nil }
    guard let v = Int(s) else { throw CommandLineError(message: "option '--\(name)': expected an integer, got '\(s)'") }
    if let lower, v < lower { throw CommandLineError(message: "option '--\(name)': must be ≥ \(lower), got \(v)") }
    return v
  }

  func double(_ name: String) throws -> Double? {
    guard let s = string(name) else { return nil }
    guard let v = Double(s), v.isFinite else {
      throw CommandLineError(message: "option '--\(name)': expected a finite number, got '\(s)'")
    }
    return v
  }

  func seed(_ name: String = "seed") throws -> UInt64 {
    guard let s = string(name) else { return 0 }
    guard let v = UInt64(s) else {
      throw CommandLineError(message: "option '--\(name)': expected a non-negative integer, got '\(s)'")
    }
    return v
  }

  func positional(_ i: Int) -> String? { i < positionals.count ? positionals[i] : nil }
}

enum Help {
  static func text(for c: Command) -> String {
    var s = "OVERVIEW: \(c.abstract)\n"
    if !c.discussion.isEmpty { s += "\n" + wrap(c.discussion, width: 100).joined(separator: "\n") + "\n" }
    s += "\nUSAGE: \(c.usage)\n"
    if !c.positionals.isEmpty {
      s += "\nARGUMENTS:\n"
      for (n, h) in c.positionals { s += row("<\(n)>", h) }
    }
    s += "\nOPTIONS:\n"
    for o in c.options {
      var left = "--\(o.name)"
      if let v = o.value { left += " \(v)" }
      var help = o.help
      if let d = o.defaultValue { help += " (default: \(d))" }
      s += row(left, help)
    }
    s += row("-h, --help", "Show help information.")
    return s
  }

  static func row(_ left: String, _ help: String) -> String {
    let pad = 26
    let l = "  " + left
    let lines = wrap(help, width: 78 - pad)
    var s =
      l.count < pad
      ? l.padding(toLength: pad, withPad: " ", startingAt: 0) + (lines.first ?? "") + "\n"
      : l + "\n" + String(repeating: " ", count: pad) + (lines.first ?? "") + "\n"
    for line in lines.dropFirst() { s += String(repeating: " ", count: pad) + line + "\n" }
    return s
  }

  static func wrap(_ text: String, width: Int) -> [String] {
    var lines: [String] = [], cur = ""
    for w in text.split(separator: " ") {
      if cur.isEmpty {
        cur = String(w)
      } else if cur.count + 1 + w.count <= width {
        cur += " " + w
      } else {
        lines.append(cur)
        cur = String(w)
      }
    }
    if !cur.isEmpty { lines.append(cur) }
    return lines
  }
}

/// Writes to standard error.
func printError(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }
