// swift-tools-version:6.0
import Foundation
import PackageDescription

// libtorch reaches the build in one of two ways.
//
// - SimpleDet as the root package (make, swift build/test in this folder), or as a path or branch
//   dependency: from the pinned PyPI wheel that scripts/bootstrap.sh unpacks under .deps/, or from
//   the folder named by $LIBTORCH (a directory holding include/ and lib/), through include, library
//   and rpath flags. SwiftPM allows these unsafe flags only in such packages.
// - SimpleDet as a version dependency of another package (checked out under `<scratch>/checkouts/`
//   or downloaded from a registry): no unsafe flags, which SwiftPM refuses there. The system library
//   CLibTorch names the pkg-config package `simpledet-libtorch`, whose .pc file scripts/bootstrap.sh
//   writes to .deps/pkgconfig/ (README: "Use SimpleDet from your own package"); its cflags reach the
//   C++ shim and its libs the link. SwiftPM takes no rpath from a dependency's .pc file (only -I, -L
//   and -l pass), so the depending package gives its executables one.
let isVersionDependency: Bool = {
  let directory = URL(fileURLWithPath: Context.packageDirectory)
  return directory.deletingLastPathComponent().lastPathComponent == "checkouts"
    || Context.packageDirectory.contains("/registry/downloads/")
}()

let libtorch: String = {
  if let custom = Context.environment["LIBTORCH"], !custom.isEmpty { return custom }
  return Context.packageDirectory + "/.deps/python/torch"
}()

// The rpath lets binaries find libtorch without LD_LIBRARY_PATH; libtorch_cpu's own RPATH
// ($ORIGIN/../../nvidia/cu13/lib) then finds the CUDA runtime stubs it needs to load.
let torchLinker: [LinkerSetting] =
  (isVersionDependency
    ? [] : [.unsafeFlags(["-L\(libtorch)/lib", "-Xlinker", "-rpath", "-Xlinker", "\(libtorch)/lib"])])
  + [.linkedLibrary("torch_cpu"), .linkedLibrary("c10")]
// The shim is optimised even in debug builds (NMS and RoIAlign loop in C++).
let shimSettings: [CXXSetting] =
  (isVersionDependency
    ? []
    : [
      .unsafeFlags([
        "-I\(libtorch)/include", "-I\(libtorch)/include/torch/csrc/api/include",
        "-O2", "-Wno-deprecated-declarations", "-Wno-unused-parameter",
      ])
    ])
  + [.define("_GLIBCXX_USE_CXX11_ABI", to: "1"), .define("USE_C10D_GLOO")]
// Long expressions are reported while SimpleDet itself is built; never imposed on a depending package.
let swiftSettings: [SwiftSetting] =
  isVersionDependency ? [] : [.unsafeFlags(["-Xfrontend", "-warn-long-expression-type-checking=200"])]

let package = Package(
  name: "SimpleDet",
  platforms: [.macOS(.v14)],
  products: [
    .library(name: "Torch", targets: ["Torch"]),
    .library(name: "NN", targets: ["NN"]),
    .library(name: "Detection", targets: ["Detection"]),
    .library(name: "Data", targets: ["Data"]),
    .library(name: "Masks", targets: ["Masks"]),
    .library(name: "Evaluation", targets: ["Evaluation"]),
    .library(name: "Visualization", targets: ["Visualization"]),
    .library(name: "Config", targets: ["Config"]),
    .library(name: "Engine", targets: ["Engine"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
  ],
  targets: [
    // libtorch's headers and libraries: pkg-config's `simpledet-libtorch` when SimpleDet is a version
    // dependency, the flags above otherwise.
    .systemLibrary(name: "CLibTorch", pkgConfig: isVersionDependency ? "simpledet-libtorch" : nil),
    .target(
      name: "CTorch",
      dependencies: ["CLibTorch"],
      cxxSettings: shimSettings,
      linkerSettings: torchLinker
    ),
    .target(name: "Torch", dependencies: ["CTorch"], swiftSettings: swiftSettings),
    .target(name: "NN", dependencies: ["Torch"], swiftSettings: swiftSettings),
    .target(name: "Detection", dependencies: ["CTorch", "NN", "Torch"], swiftSettings: swiftSettings),
    // Pure Swift: COCO masks (RLE, polygons) and evaluation; neither needs libtorch.
    .target(name: "Masks", swiftSettings: swiftSettings),
    .target(name: "Evaluation", dependencies: ["Masks"], swiftSettings: swiftSettings),
    // Image codecs: a C shim over the system's TurboJPEG and libpng (Debian packages).
    .target(name: "CImageCodecs", linkerSettings: [.linkedLibrary("turbojpeg"), .linkedLibrary("png16")]),
    .target(name: "Data", dependencies: ["CImageCodecs", "Detection", "Masks", "Torch"], swiftSettings: swiftSettings),
    // YAML configs decoded into the Codable descriptions of Detection, Data and NN.
    .target(
      name: "Config", dependencies: ["Data", "Detection", "NN", .product(name: "Yams", package: "Yams")],
      swiftSettings: swiftSettings),
    // Pictures: boxes, masks and labels drawn on images, and training curves, written as PNG.
    .target(name: "Visualization", dependencies: ["Data"], swiftSettings: swiftSettings),
    // The trainer, checkpoints and resume, evaluation and prediction runs: what the CLI drives.
    .target(
      name: "Engine", dependencies: ["Config", "Data", "Detection", "Evaluation", "Masks", "NN", "Torch", "Visualization"],
      swiftSettings: swiftSettings),
    // `simpledet serve`: the HTTP detection server (Hummingbird), with dynamic batching and limits.
    .target(
      name: "Serving",
      dependencies: ["Config", "Data", "Detection", "Engine", "Torch",
        .product(name: "Hummingbird", package: "hummingbird"), .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ],
      swiftSettings: swiftSettings),
    .target(name: "ShapeClassifier", dependencies: ["NN", "Torch"], swiftSettings: swiftSettings),
    .executableTarget(
      name: "simpledet",
      dependencies: [
        "Torch", "NN", "Config", "Detection", "Engine", "Evaluation", "Data", "Serving", .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      swiftSettings: swiftSettings
    ),
    .executableTarget(name: "simpledet-demo", dependencies: ["ShapeClassifier", "Torch"], swiftSettings: swiftSettings),
    // Benchmarks: the same computations through the Swift API and directly in C++ with ATen.
    .target(
      name: "BenchmarkReference",
      dependencies: ["CLibTorch"],
      path: "benchmarks/reference",
      cxxSettings: shimSettings,
      linkerSettings: torchLinker
    ),
    .executableTarget(
      name: "simpledet-bench-foundation",
      dependencies: [
        "Torch", "NN", "BenchmarkReference", .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      path: "benchmarks/foundation",
      swiftSettings: swiftSettings
    ),
    .executableTarget(
      name: "simpledet-bench-data",
      dependencies: ["Data", "Torch", .product(name: "ArgumentParser", package: "swift-argument-parser")],
      path: "benchmarks/data",
      swiftSettings: swiftSettings
    ),
    .testTarget(name: "TorchTests", dependencies: ["Torch"], exclude: ["Fixtures"], swiftSettings: swiftSettings),
    .testTarget(
      name: "DetectionTests", dependencies: ["Data", "Detection", "NN", "Torch"], exclude: ["Fixtures"],
      swiftSettings: swiftSettings),
    .testTarget(name: "DataTests", dependencies: ["Data", "Detection", "Masks", "Torch"], exclude: ["Fixtures"], swiftSettings: swiftSettings),
    .testTarget(name: "NNTests", dependencies: ["NN", "Torch", "ShapeClassifier"], swiftSettings: swiftSettings),
    .testTarget(name: "ConfigTests", dependencies: ["Config", "Data", "Detection", "NN"], swiftSettings: swiftSettings),
    .testTarget(name: "VisualizationTests", dependencies: ["Data", "Visualization"], swiftSettings: swiftSettings),
    .testTarget(
      name: "EngineTests", dependencies: ["Config", "Data", "Detection", "Engine", "Evaluation", "NN", "Torch"],
      swiftSettings: swiftSettings),
    // Runs the built `simpledet` executable as a user would.
    .testTarget(
      name: "CLITests", dependencies: ["Config", "Data", "Engine", "Masks", "Torch", "simpledet"], exclude: ["Fixtures"], swiftSettings: swiftSettings),
    .testTarget(name: "ServingTests", dependencies: ["Data", "Serving"], swiftSettings: swiftSettings),
    .testTarget(name: "MasksTests", dependencies: ["Masks"], exclude: ["Fixtures"], swiftSettings: swiftSettings),
    .testTarget(name: "EvaluationTests", dependencies: ["Evaluation", "Masks"], exclude: ["Fixtures"], swiftSettings: swiftSettings),
  ],
  cxxLanguageStandard: .cxx20
)

// API documentation: `make docs` sets SIMPLEDET_DOCS=1, which adds the DocC plugin. No other build
// resolves it, so it costs `make test` and depending packages nothing.
if Context.environment["SIMPLEDET_DOCS"] == "1" {
  package.dependencies.append(.package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"))
}
