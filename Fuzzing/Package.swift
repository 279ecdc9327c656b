// swift-tools-version:6.0
import Foundation
import PackageDescription

// libFuzzer harnesses for SimpleDet's readers of untrusted files (docs/contributing.md, "Fuzzing").
//
// A package of its own so that SimpleDet's build and `make test` never see the fuzzer flags:
// scripts/fuzz.sh builds it with `--sanitize fuzzer`, which instruments SimpleDet's modules too,
// and libFuzzer supplies `main`. Each harness is one `LLVMFuzzerTestOneInput` in one file, so
// they are compiled as libraries (`-parse-as-library`).
//
// SwiftPM names a path dependency after its folder, so SimpleDet's identity here is whatever the
// checkout is called.
let simpleDet = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent().lastPathComponent.lowercased()
let harness: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

let package = Package(
  name: "SimpleDetFuzz",
  dependencies: [.package(path: "..")],
  targets: [
    .executableTarget(name: "FuzzSafeTensors", dependencies: [.product(name: "Torch", package: simpleDet)], swiftSettings: harness),
    .executableTarget(name: "FuzzCheckpoint", dependencies: [.product(name: "Torch", package: simpleDet)], swiftSettings: harness),
    .executableTarget(name: "FuzzCOCO", dependencies: [.product(name: "Data", package: simpleDet)], swiftSettings: harness),
    .executableTarget(name: "FuzzVOC", dependencies: [.product(name: "Data", package: simpleDet)], swiftSettings: harness),
    .executableTarget(name: "FuzzLightJSON", dependencies: [.product(name: "Data", package: simpleDet)], swiftSettings: harness),
    .executableTarget(
      name: "FuzzCOCOEvaluation", dependencies: [.product(name: "Evaluation", package: simpleDet)], swiftSettings: harness),
    .executableTarget(name: "FuzzConfig", dependencies: [.product(name: "Config", package: simpleDet)], swiftSettings: harness),
    .executableTarget(name: "FuzzImage", dependencies: [.product(name: "Data", package: simpleDet)], swiftSettings: harness),
  ]
)
