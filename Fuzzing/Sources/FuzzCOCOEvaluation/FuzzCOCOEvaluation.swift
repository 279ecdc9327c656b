import Evaluation
import Foundation

/// The evaluation side's COCO readers: any bytes must parse as ground truth or throw, and parse
/// as a results file (checked against a small fixed ground truth, so records can pass the
/// image, category and mask-size checks) or throw an `EvaluationError`.
let groundTruth: COCOGroundTruth? = try? COCOGroundTruth(
  images: [COCOImage(id: 1, width: 4, height: 3), COCOImage(id: 2, width: nil, height: nil), COCOImage(id: 0, width: 0, height: 0)],
  categories: [COCOCategory(id: 1, name: "a"), COCOCategory(id: 7, name: "b")],
  annotations: [],
  sourceName: "fuzz.gt.json")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCOCOEvaluation(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
  let data = bytes.map { Data(bytes: $0, count: count) } ?? Data()
  _ = try? COCOGroundTruth(json: data, sourceName: "fuzz.json")
  if let groundTruth {
    _ = try? COCOResultsFile.decode(json: data, groundTruth: groundTruth, sourceName: "fuzz.results.json")
  }
  return 0
}
