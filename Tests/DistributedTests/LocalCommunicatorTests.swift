import Testing

@testable import Distributed

@Suite("LocalCommunicator")
struct LocalCommunicatorTests {
  @Test func identityAndShape() throws {
    let comm = LocalCommunicator()
    #expect(comm.rank == 0)
    #expect(comm.size == 1)
    #expect(comm.isRoot)
  }

  @Test func collectivesLeaveDataUnchanged() throws {
    let comm = LocalCommunicator()
    var floats: [Float] = [1.5, -2, 3]
    try floats.withUnsafeMutableBufferPointer { try comm.allreduceSum($0) }
    #expect(floats == [1.5, -2, 3])
    var doubles: [Double] = [0.25, 7]
    try doubles.withUnsafeMutableBufferPointer { try comm.allreduceSum($0) }
    #expect(doubles == [0.25, 7])
    #expect(try comm.allreduceMax(-3.5) == -3.5)
    #expect(try comm.allreduceMax(42) == 42)
    #expect(try comm.allreduceSum(2.5) == 2.5)
    try floats.withUnsafeMutableBufferPointer { try comm.broadcast($0, root: 0) }
    #expect(floats == [1.5, -2, 3])
    var bytes: [UInt8] = [9, 8, 7]
    try comm.broadcast(&bytes, root: 0)
    #expect(bytes == [9, 8, 7])
    #expect(try comm.broadcast("lr = 1e-4 ✓", root: 0) == "lr = 1e-4 ✓")
    try comm.barrier()
    try comm.finalize()
  }

  @Test func agreeIsTheLocalFlag() throws {
    let comm = LocalCommunicator()
    #expect(try comm.agree(true))
    #expect(try !comm.agree(false))
  }

  @Test func nonBlockingRequestsCompleteImmediately() throws {
    let comm = LocalCommunicator()
    var values: [Float] = [1, 2, 3, 4]
    try values.withUnsafeMutableBufferPointer { buffer in
      let request = try comm.startAllreduceSum(buffer)
      #expect(!request.isPending)
      #expect(try request.test())
      try request.wait()
      try comm.startAllreduceSum(buffer, into: request)
      #expect(try request.test())
    }
    #expect(values == [1, 2, 3, 4])
  }

  @Test func startIsLocalWithoutALauncher() throws {
    #expect(!Communicators.launchedByMPI(environment: ["HOME": "/root"]))
    #expect(Communicators.launchedByMPI(environment: ["OMPI_COMM_WORLD_SIZE": "2"]))
    #expect(Communicators.launchedByMPI(environment: ["PMI_SIZE": "4"]))
    #expect(Communicators.launchedByMPI(environment: ["PMIX_RANK": "0"]))
    // The test process itself is not started by mpirun, so start() must not initialise MPI.
    guard !Communicators.launchedByMPI() else { return }
    let comm = try Communicators.start()
    #expect(comm is LocalCommunicator)
    #expect(comm.size == 1)
  }

  @Test func mpiErrorNamesTheCall() {
    let error = MPIError(function: "MPI_Allreduce", code: 5, message: "MPI_ERR_COUNT: invalid count argument")
    #expect(error.description == "MPI_Allreduce failed (MPI error 5): MPI_ERR_COUNT: invalid count argument")
    #expect(mpiErrorString(5) == "MPI error 5")  // MPI is not initialised in the test process
  }
}
