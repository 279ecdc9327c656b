import ArgumentParser
import Config
import Detection
import Engine
import Foundation
import NN
import Torch

/// `simpledet weights`: weight-file conversions.
struct WeightsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "weights",
    abstract: "Convert weight files.",
    subcommands: [Import.self])

  /// `simpledet weights import`: a PyTorch `.pth` state dict to safetensors.
  struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Convert a PyTorch .pth state dict (torchvision's names) to .safetensors.",
      discussion: """
        The .pth file is read without Python, by a restricted unpickler that accepts state dicts \
        only. With --config, the weights must also load strictly into that config's model: every \
        name present and every shape right.
        """)

    @Argument(help: ArgumentHelp("The .pth file.", valueName: "file.pth"))
    var input: String

    @Option(help: ArgumentHelp("The .safetensors file to write.", valueName: "file"))
    var out: String

    @Option(help: ArgumentHelp("A config whose model the weights must fit.", valueName: "file"))
    var config: String?

    func run() throws {
      try Torch.checkVersion()
      do {
        guard FileManager.default.fileExists(atPath: input) else {
          throw ValidationError("\(input): no such file")
        }
        let tensors = try readWeightFile(URL(fileURLWithPath: input))
        if let config {
          let model = try SimpleDetConfig.load(file: config).model.detector.makeDetector()
          do {
            try model.load(stateDict: tensors, strict: true)
          } catch {
            throw ValidationError("\(input) does not fit the model of \(config): \(error)")
          }
        }
        let url = URL(fileURLWithPath: out)
        try SafeTensors.write(tensors, metadata: ["source": URL(fileURLWithPath: input).lastPathComponent], to: url)
        let parameters = tensors.values.reduce(0) { $0 + $1.count }
        print("wrote \(url.path): \(tensors.count) tensors, \(parameters) values")
      } catch {
        throw fail(error)
      }
    }
  }
}
