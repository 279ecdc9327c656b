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

  /// Whose tensor names a weight file uses.
  enum Naming: String, ExpressibleByArgument, CaseIterable {
    /// torchvision's, which are SimpleDet's: copied as they are.
    case torchvision
    /// mmdetection 3.x's (`backbone.layer1.0.conv1.weight`, `neck.lateral_convs.0.conv.weight`, …).
    case mmdet
  }

  /// `simpledet weights import`: a PyTorch `.pth` state dict to safetensors.
  struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Convert a PyTorch .pth state dict (torchvision's or mmdetection's names) to .safetensors.",
      discussion: """
        The .pth file is read without Python, by a restricted unpickler that accepts state dicts \
        only (a training checkpoint's 'state_dict' entry is taken, its 'meta' ignored); a \
        .safetensors file is accepted too. With --from mmdet, mmdetection 3.x names are mapped to \
        SimpleDet's and its softmax classifiers' background moved from last to first (see \
        docs/models.md). With --config, the weights must also load strictly into that config's \
        model: every name present and every shape right.
        """)

    @Argument(help: ArgumentHelp("The .pth (or .safetensors) file.", valueName: "file.pth"))
    var input: String

    @Option(help: ArgumentHelp("Whose tensor names the file uses: torchvision (as they are) or mmdet.", valueName: "naming"))
    var from: Naming = .torchvision

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
        var tensors = try readWeightFile(URL(fileURLWithPath: input))
        if from == .mmdet {
          tensors = try MMDetectionNames.converted(tensors, source: input)
        } else if let name = tensors.keys.sorted().first(where: { ["neck.", "rpn_head.", "roi_head.", "bbox_head."].contains(where: $0.hasPrefix) }) {
          throw ValidationError("\(input) has mmdetection's tensor names ('\(name)'); convert it with --from mmdet")
        }
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
