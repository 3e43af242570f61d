import Foundation

/// The entry point: one communicator per process.
public enum Communicators {
  /// Environment variables a launcher sets in every rank (Open MPI's `mpirun`, PMI-2 and PMIx
  /// launchers such as Slurm's `srun`).
  public static let launcherVariables = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"]

  /// Whether `environment` shows that this process was started by an MPI launcher.
  public static func launchedByMPI(environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
    launcherVariables.contains { environment[$0] != nil }
  }

  /// An ``MPICommunicator`` over all ranks when started by an MPI launcher, otherwise a
  /// ``LocalCommunicator`` (and MPI is never initialised, so plain runs need no working MPI).
  ///
  /// Call once per process, from the thread that will make all MPI calls.
  /// - Throws: ``MPIError`` if MPI fails to initialise.
  public static func start() throws -> any Communicator {
    launchedByMPI() ? try MPICommunicator() : LocalCommunicator()
  }
}
