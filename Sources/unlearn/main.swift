import Foundation
import Unlearning

/// `unlearn`: feature unlearning for pretrained generators. Parses the command line and calls the library.
let commands: [Command] = [
  sampleCommand, inspectCommand, collectCommand, directionCommand, trainCommand, evalCommand, attackCommand,
  pretrainCommand, fidCommand, benchCommand, demoCommand,
]

let topLevelHelp = """
  OVERVIEW: Make a pretrained image generator forget a visual feature (Moon, Cho, Kim; AAAI 2024),
  trained data-parallel over MPI. Run alone or under `mpirun -np N`.

  USAGE: unlearn <subcommand> [options]

  SUBCOMMANDS:
  \(commands.map { Help.row($0.name, $0.abstract) }.joined())
  See 'unlearn <subcommand> --help' (or 'unlearn help <subcommand>') for a subcommand's options.
  """

func main() -> Int32 {
  var argv = Array(CommandLine.arguments.dropFirst())
  if argv.isEmpty || argv == ["-h"] || argv == ["--help"] || argv == ["help"] {
    print(topLevelHelp)
    return argv.isEmpty ? ExitCode.usage : 0
  }
  if argv.first == "help" {
    argv.removeFirst()
    argv.append("--help")
  }
  let name = argv.removeFirst()
  guard let command = commands.first(where: { $0.name == name }) else {
    let hint = nearest(name, in: commands.map(\.name)).map { " Did you mean '\($0)'?" } ?? ""
    printError(
      "Error: unknown subcommand '\(name)'.\(hint)\nUsage: unlearn <subcommand> [options]\n  See 'unlearn --help'.")
    return ExitCode.usage
  }
  if argv.contains("-h") || argv.contains("--help") {
    print(Help.text(for: command))
    return 0
  }
  let args: Arguments
  do { args = try Arguments(command: command, argv: argv) } catch {
    printError("Error: \(error)\nUsage: \(command.usage)\n  See 'unlearn \(command.name) --help'.")
    return ExitCode.usage
  }
  do {
    try command.run(args)
    Runtime.shutdown()
    return 0
  } catch let e as CommandLineError {
    Runtime.fail("\(e)\nUsage: \(command.usage)\n  See 'unlearn \(command.name) --help'.", code: ExitCode.usage)
  } catch {
    Runtime.fail("\(error)", code: ExitCode.failure)
  }
}

exit(main())
