// swift-tools-version:6.0
// A package that uses SimpleDet the way any other package would: by version, from a git URL.
import PackageDescription

// SimpleDet's repository: by default the one this example lives in (it needs a tag 0.1.0 or later);
// scripts/consumer_example.sh points SIMPLEDET_URL at a temporary tagged copy of the working tree.
let simpledet = Context.environment["SIMPLEDET_URL"] ?? "file://" + Context.packageDirectory + "/../.."

let package = Package(
  name: "DetectShapes",
  platforms: [.macOS(.v14)],
  dependencies: [
    .package(url: simpledet, from: "0.1.0"),
  ],
  targets: [
    .executableTarget(
      name: "DetectShapes",
      dependencies: [
        .product(name: "Data", package: "simpledet"),
        .product(name: "Detection", package: "simpledet"),
        .product(name: "Torch", package: "simpledet"),
      ],
      // SwiftPM takes no rpath from a dependency, so the executable names libtorch's folder itself:
      // the one SimpleDet's bootstrap unpacks in its checkout, next to this build's products.
      linkerSettings: [
        .unsafeFlags(["-Xlinker", "-rpath", "-Xlinker", "$ORIGIN/../../checkouts/simpledet/.deps/python/torch/lib"]),
      ]
    ),
  ]
)
