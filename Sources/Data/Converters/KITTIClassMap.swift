import Foundation

/// Which KITTI object types become which classes. Written as a list of entries, one per class in
/// label order: `Car` keeps a type as its own class, `Car+Van` makes one class named after the
/// first type that also takes the others. Types in no entry are left out of the dataset
/// (`DontCare` regions are ignore regions for every class and cannot be listed).
///
/// `["Car+Van", "Pedestrian+Person_sitting", "Cyclist"]` gives the usual three KITTI classes with
/// vans counted as cars and sitting people as pedestrians.
public struct KITTIClassMap: Sendable, Equatable {
  /// The eight object types of KITTI's object benchmark, in the devkit's order.
  public static let objectTypes = ["Car", "Van", "Truck", "Pedestrian", "Person_sitting", "Cyclist", "Tram", "Misc"]
  /// The type KITTI uses for regions that must not count for or against a detector.
  public static let dontCare = "DontCare"

  /// The class names in label order (file category ids 1, 2, …).
  public let classNames: [String]
  private let labelOfType: [String: Int]

  /// Every type as its own class.
  public static let all = try! KITTIClassMap(objectTypes)

  /// Parses the entries; an unknown or repeated type, or an empty entry, is an error naming it.
  public init(_ entries: [String]) throws {
    guard !entries.isEmpty else { throw KITTIClassMapError("the class list is empty") }
    var names: [String] = []
    var labels: [String: Int] = [:]
    for (label, entry) in entries.enumerated() {
      let types = entry.split(separator: "+", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
      for type in types {
        guard Self.objectTypes.contains(type) else {
          throw KITTIClassMapError("'\(type)' in '\(entry)' is not a KITTI object type (\(Self.objectTypes.joined(separator: ", ")))")
        }
        guard labels[type] == nil else { throw KITTIClassMapError("'\(type)' is listed twice") }
        labels[type] = label
      }
      names.append(types[0])
    }
    classNames = names
    labelOfType = labels
  }

  /// The label of an object type, or nil for a type left out.
  public func label(ofType type: String) -> Int? { labelOfType[type] }

  /// Whether `type` is one of KITTI's types (including `DontCare`).
  public static func isKnownType(_ type: String) -> Bool { type == dontCare || objectTypes.contains(type) }

  /// The classes with file category ids 1, 2, … in label order.
  public var metadata: DatasetMetadata {
    DatasetMetadata(categories: classNames.enumerated().map { .init(id: $0.offset + 1, name: $0.element) })
  }
}

/// A KITTI class list that cannot be used; the message names the entry.
public struct KITTIClassMapError: Error, CustomStringConvertible, Sendable, Equatable {
  public let description: String
  init(_ description: String) { self.description = description }
}
