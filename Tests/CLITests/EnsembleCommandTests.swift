import Foundation
import Testing

/// `simpledet ensemble` against ensemble-boxes, through the command line: the detections of
/// Tests/DetectionTests/Fixtures/ensemble_boxes.json (tools/make_ensemble_fixtures.py) written as
/// three COCO results files for 640×480 images, merged, and compared with ensemble-boxes' outputs
/// mapped to pixels (labels and order equal, coordinates within 1e-3 px, scores within 1e-5).
@Suite(.serialized) struct EnsembleCommandTests {
  struct Output: Decodable {
    var boxes: [[Double]]
    var scores: [Double]
    var labels: [Int]
  }

  struct Case: Decodable {
    var boxes: [[[Double]]]
    var scores: [[Double]]
    var labels: [[Int]]
    var weights: [Double]?
    var skip_box_thr: Double
    var iou_thr: Double
    var outputs: [String: Output]
  }

  struct Fixture: Decodable { var cases: [Case] }

  @Test(arguments: ["nms", "nmw", "wbf"])
  func mergedFilesAgreeWithEnsembleBoxes(method: String) throws {
    let fixture = try JSONDecoder().decode(
      Fixture.self,
      from: Data(contentsOf: repositoryRoot.appendingPathComponent("Tests/DetectionTests/Fixtures/ensemble_boxes.json")))
    let folder = try ScratchFolder()
    let (width, height) = (640.0, 480.0)
    let images = fixture.cases.indices.map { ["id": $0 + 1, "width": 640, "height": 480, "file_name": "\($0).png"] }
    let categories = (1...3).map { ["id": $0, "name": "class \($0)"] }
    try folder.write(
      "gt.json",
      String(decoding: try JSONSerialization.data(withJSONObject: ["images": images, "categories": categories, "annotations": []]), as: UTF8.self))
    // One run per fixture case, since each has its own weights and thresholds.
    for (index, c) in fixture.cases.enumerated() {
      var files: [String] = []
      for m in c.boxes.indices {
        let records: [[String: Any]] = c.boxes[m].indices.map { i in
          let b = c.boxes[m][i]
          return [
            "image_id": index + 1, "category_id": c.labels[m][i], "score": c.scores[m][i],
            "bbox": [b[0] * width, b[1] * height, (b[2] - b[0]) * width, (b[3] - b[1]) * height],
          ]
        }
        let name = "case\(index)_model\(m).json"
        try folder.write(name, String(decoding: try JSONSerialization.data(withJSONObject: records), as: UTF8.self))
        files.append(name)
      }
      var arguments = [
        "ensemble", "--gt", "gt.json", "--method", method, "--iou", "\(c.iou_thr)", "--skip-below", "\(c.skip_box_thr)",
        "--out", "merged/\(index).json",
      ]
      if let weights = c.weights { arguments += ["--weights", weights.map { "\($0)" }.joined(separator: ",")] }
      let result = try CommandLineRunner.run(arguments + files, in: folder.url)
      #expect(result.status == 0, "case \(index): \(result.errors)")
      let merged = try #require(
        try JSONSerialization.jsonObject(with: Data(contentsOf: folder.path("merged/\(index).json"))) as? [[String: Any]])
      let expected = c.outputs[method]!
      #expect(merged.map { $0["category_id"] as? Int ?? -1 } == expected.labels, "case \(index) \(method): labels")
      guard merged.count == expected.labels.count else { continue }
      for (record, (box, score)) in zip(merged, zip(expected.boxes, expected.scores)) {
        let b = record["bbox"] as? [Double] ?? []
        let pixels = [box[0] * width, box[1] * height, (box[2] - box[0]) * width, (box[3] - box[1]) * height]
        let boxError = zip(b, pixels).map { Swift.abs($0 - $1) }.max() ?? .infinity
        let scoreError = Swift.abs((record["score"] as? Double ?? -1) - score)
        #expect(b.count == 4 && boxError < 1e-3 && scoreError < 1e-5, "case \(index) \(method): box \(boxError), score \(scoreError)")
      }
    }
  }

  /// The paths the NMS work added to other commands: soft-NMS ensembling keeps decayed scores,
  /// best first; `benchmark --mode nms` times every method.
  @Test func softNMSEnsembleAndNMSBenchmarkRun() throws {
    let folder = try ScratchFolder()
    try folder.write("gt.json", #"{"images": [{"id": 1, "width": 100, "height": 100}], "categories": [{"id": 1, "name": "a"}], "annotations": []}"#)
    try folder.write("a.json", #"[{"image_id": 1, "category_id": 1, "bbox": [10, 10, 40, 40], "score": 0.9}]"#)
    try folder.write("b.json", #"[{"image_id": 1, "category_id": 1, "bbox": [12, 10, 40, 40], "score": 0.8}]"#)
    let merged = try CommandLineRunner.run(
      ["ensemble", "--gt", "gt.json", "--method", "soft-nms", "--decay", "gaussian", "--out", "m.json", "a.json", "b.json"],
      in: folder.url)
    #expect(merged.status == 0, "\(merged.errors)")
    let records = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: folder.path("m.json"))) as? [[String: Any]])
    let scores = records.compactMap { $0["score"] as? Double }
    // Both kept; the second decayed by exp(-IoU²/0.5) with IoU 1520/1680 (no weights: scores as given).
    let iou = 38.0 * 40 / (1600 + 1600 - 38 * 40)
    #expect(scores.count == 2 && Swift.abs(scores[0] - 0.9) < 1e-9)
    #expect(Swift.abs(scores[1] - 0.8 * Foundation.exp(-iou * iou / 0.5)) < 1e-6, "\(scores)")

    let benchmark = try CommandLineRunner.run(
      ["benchmark", "--mode", "nms", "--boxes", "200", "--iters", "1", "--warmup", "0", "--json"], in: folder.url)
    #expect(benchmark.status == 0, "\(benchmark.errors)")
    let report = try #require(try JSONSerialization.jsonObject(with: Data(benchmark.output.utf8)) as? [String: Any])
    let kept = try #require(report["kept"] as? [String: Int])
    #expect(Set(kept.keys) == ["standard", "soft-linear", "soft-gaussian", "weighted", "wbf"])
    // Soft-NMS only decays, so it keeps at least what greedy NMS keeps.
    #expect(kept["soft-gaussian"]! >= kept["standard"]! && kept["weighted"]! == kept["standard"]!)

    // The deformable convolution benchmark at a small size: both stages, both timings.
    let dcn = try CommandLineRunner.run(
      ["benchmark", "--mode", "dcn", "--size", "128", "--iters", "1", "--warmup", "0", "--json"], in: folder.url)
    #expect(dcn.status == 0, "\(dcn.errors)")
    let dcnReport = try #require(try JSONSerialization.jsonObject(with: Data(dcn.output.utf8)) as? [String: Any])
    let rows = try #require(dcnReport["rows"] as? [[String: Any]])
    #expect(rows.map { $0["stage"] as? String } == ["C4", "C5"])
    #expect(rows.map { $0["shape"] as? [Int] } == [[2, 256, 8, 8], [2, 512, 4, 4]])
    #expect(rows.allSatisfy { ($0["deformable"] as? Double ?? 0) > 0 && ($0["convolution"] as? Double ?? 0) > 0 })
  }

  @Test func badInputsGiveOneLine() throws {
    let folder = try ScratchFolder()
    try folder.write("gt.json", #"{"images": [{"id": 1, "width": 10, "height": 10}], "categories": [{"id": 1, "name": "a"}], "annotations": []}"#)
    try folder.write("a.json", #"[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.5}]"#)
    try folder.write("bad.json", #"[{"image_id": 7, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.5}]"#)
    let unknownImage = try CommandLineRunner.run(["ensemble", "--gt", "gt.json", "--out", "m.json", "a.json", "bad.json"], in: folder.url)
    #expect(unknownImage.status == 1 && unknownImage.errors.contains("bad.json") && !unknownImage.errors.contains("Fatal"))
    let weights = try CommandLineRunner.run(
      ["ensemble", "--gt", "gt.json", "--out", "m.json", "--weights", "1", "a.json", "a.json"], in: folder.url)
    #expect(weights.status == 64 && weights.errors.contains("--weights needs 2 positive numbers"))
    let one = try CommandLineRunner.run(["ensemble", "--gt", "gt.json", "--out", "m.json", "a.json"], in: folder.url)
    #expect(one.status == 64 && one.errors.contains("two or more results files"))
  }
}
