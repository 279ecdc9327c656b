import Torch

/// Per-image detections or annotations: the image size and named per-instance fields of equal
/// length (`boxes`, `labels`, `scores`, `masks`, ...), indexed together.
public struct Instances {
  /// `(height, width)` of the image the coordinates refer to.
  public let imageSize: (height: Int, width: Int)
  public private(set) var fields: [String: Tensor] = [:]
  /// Training targets only: regions whose overlapping anchors and proposals train neither as
  /// foreground nor as background (TridentNet's objects outside a branch's scale range);
  /// `[M, 4]` boxes, apart from the per-object fields.
  public var ignoredBoxes: Tensor?

  public init(imageSize: (height: Int, width: Int), fields: [String: Tensor] = [:]) {
    self.imageSize = imageSize
    for (name, value) in fields { self[name] = value }
  }

  /// The number of instances (0 when no field is set).
  public var count: Int { fields.values.first?.shape.first ?? 0 }

  /// A field by name; setting one checks its length against the others.
  public subscript(_ name: String) -> Tensor? {
    get { fields[name] }
    set {
      if let value = newValue, let other = fields.first(where: { $0.key != name }) {
        precondition(
          value.shape.first == other.value.shape.first,
          "Instances: field '\(name)' has \(value.shape.first ?? 0) entries but '\(other.key)' has \(other.value.shape.first ?? 0)"
        )
      }
      fields[name] = newValue
    }
  }

  public var boxes: Boxes? {
    get { fields["boxes"].map { Boxes($0) } }
    set { self["boxes"] = newValue?.tensor }
  }

  /// The instances selected by a bool mask or integer indices, every field alike.
  public subscript(_ index: Tensor) -> Instances {
    Instances(imageSize: imageSize, fields: fields.mapValues { $0.indexed(by: index) })
  }
}
