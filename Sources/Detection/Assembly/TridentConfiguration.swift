import NN

/// TridentNet's backbone settings (`backbone: {kind: trident, ...}`): every key of the ResNet
/// kind, plus the branches. The defaults are the paper's ResNet-50-C4 TridentNet: dilations
/// 1, 2, 3 in stage 4 (C4), all three branches at test time, and scale-aware training with the
/// paper's COCO ranges.
public struct TridentConfiguration: Equatable, Sendable {
  /// The ResNet; its last built stage (the last of `out_features`, the only one) is the one
  /// that branches.
  public var resNet = ResNet.Configuration(depth: 50, frozenStages: 2, outFeatures: [.c4])
  /// Each branch's dilation.
  public var dilations = [1, 2, 3]
  /// The branch run alone at test time (TridentNet-Fast: 1, the middle one); null runs every
  /// branch and merges their detections with the test NMS.
  public var testBranch: Int? = nil
  /// Scale-aware training: for each branch, `[low, high]` bounds on the square root of a box's
  /// area in the resized image's pixels (`high` -1: unbounded). Ground-truth boxes outside a
  /// branch's range are ignored by that branch (anchors and proposals overlapping them are
  /// neither foreground nor background), and so are its proposals outside the range. Empty:
  /// every branch trains on every object (mmdetection's TridentNet).
  public var validRanges: [[Double]] = [[0, 90], [30, 160], [90, -1]]

  public init() {}

  /// The branches the network runs.
  public var branches: TridentBranches { TridentBranches(dilations: dilations, testBranch: testBranch) }

  /// Whether a box whose area's square root is `scale` trains `branch`.
  public func range(ofBranch branch: Int) -> ClosedRange<Double>? {
    guard branch < validRanges.count else { return nil }
    let bounds = validRanges[branch]
    return bounds[0]...(bounds[1] < 0 ? .infinity : bounds[1])
  }
}

extension TridentConfiguration: Codable {
  private enum CodingKeys: String, CodingKey {
    case dilations, testBranch, validRanges
  }

  /// The ResNet's keys and the branches' side by side in one mapping.
  public init(from decoder: any Decoder) throws {
    resNet = try ResNet.Configuration(from: decoder)
    let c = try decoder.container(keyedBy: CodingKeys.self)
    dilations = try c.decode([Int].self, forKey: .dilations)
    testBranch = try c.decodeIfPresent(Int.self, forKey: .testBranch)
    validRanges = try c.decode([[Double]].self, forKey: .validRanges)
  }

  public func encode(to encoder: any Encoder) throws {
    try resNet.encode(to: encoder)
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(dilations, forKey: .dilations)
    try c.encode(testBranch, forKey: .testBranch)
    try c.encode(validRanges, forKey: .validRanges)
  }
}
