// swift-tools-version:6.0
// Feature unlearning for pretrained generators (Moon, Cho, Kim; AAAI 2024), trained data-parallel over MPI.
// Dependency arrows go one way: Tensor ← NN ← Models ← Unlearning → Distributed, IO; only `unlearn` sees all.
import PackageDescription

/// Kernels are compiled with whole-module optimisation and without overflow/bounds traps in release builds,
/// and optimised (with checks) in debug builds too, so `swift test` runs real-size models in seconds.
let fast: [SwiftSetting] = [
  .unsafeFlags(["-Ounchecked", "-wmo"], .when(configuration: .release)),
  .unsafeFlags(["-O"], .when(configuration: .debug)),
]

let package = Package(
  name: "unlearn",
  products: [
    .executable(name: "unlearn", targets: ["unlearn"])
  ],
  targets: [
    // C libraries from Debian, found by pkg-config; each header adds `static inline` getters for the macros
    // Swift cannot import (MPI_COMM_WORLD, H5P_DEFAULT, H5T_NATIVE_FLOAT, ...).
    .systemLibrary(name: "CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),
    .systemLibrary(name: "CHDF5", pkgConfig: "hdf5-serial", providers: [.apt(["libhdf5-dev"])]),
    .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
    .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

    .target(name: "Tensor", dependencies: ["CBLAS"], swiftSettings: fast),
    .target(name: "NN", dependencies: ["Tensor"], swiftSettings: fast),
    .target(name: "Models", dependencies: ["NN"], swiftSettings: fast),
    .target(name: "IO", dependencies: ["Tensor", "CHDF5", "CZlib"], swiftSettings: fast),
    .target(name: "Distributed", dependencies: ["CMPI"], swiftSettings: fast),
    .target(name: "Unlearning", dependencies: ["Models", "IO", "Distributed"], swiftSettings: fast),
    .executableTarget(name: "unlearn", dependencies: ["Unlearning"], swiftSettings: fast),

    .executableTarget(name: "distributed-check", dependencies: ["Distributed"], path: "Tests/DistributedCheck"),

    .target(name: "TestSupport", dependencies: ["Tensor"], path: "Tests/TestSupport"),
    .testTarget(name: "TensorTests", dependencies: ["Tensor"]),
    .testTarget(name: "NNTests", dependencies: ["NN", "IO", "TestSupport"]),
    .testTarget(name: "ModelsTests", dependencies: ["Models", "IO", "TestSupport"]),
    .testTarget(name: "IOTests", dependencies: ["IO"]),
    .testTarget(name: "DistributedTests", dependencies: ["Distributed", "TestSupport"]),
    .testTarget(name: "UnlearningTests", dependencies: ["Unlearning", "TestSupport"]),
  ],
  swiftLanguageModes: [.v5]
)
