import Foundation
import Testing

@testable import Config

/// Config files are user input: YAML that would exhaust the stack or memory is an error naming
/// the file, never a crash. The alias bomb hung the FuzzConfig harness (Fuzzing/) and 8,000
/// unclosed `[` overflowed its stack; the other documents reach the same limits other ways.
@Suite struct YAMLLimitTests {
  /// Ten anchors, each a list of ten aliases of the one before: 511 bytes, 10^9 values.
  static let aliasBomb =
    (["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    + (1...8).map { i in "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]" })
    .joined(separator: "\n")

  @Test func aliasesExpandingWithoutBoundAreRefused() throws {
    let folder = try ConfigFolder()
    let file = try folder.write("bomb.yaml", Self.aliasBomb)
    let found = error { _ = try SimpleDetConfig.load(file: file) }
    #expect(found?.description.hasPrefix(file) == true, "\(found?.description ?? "no error")")
    #expect(found?.description.contains("aliases are expanded") == true)
  }

  static let deepDocuments = [
    "unclosed flow sequences": "a: " + String(repeating: "[", count: 8000),
    "closed flow sequences": "a: " + String(repeating: "[", count: 4000) + String(repeating: "]", count: 4000),
    "block sequences on one line": String(repeating: "- ", count: 4000) + "x",
    "indented mappings": (0..<200).map { String(repeating: " ", count: $0) + "k\($0):" }.joined(separator: "\n"),
  ]

  @Test(arguments: deepDocuments.keys.sorted())
  func deepNestingIsRefused(shape: String) throws {
    let folder = try ConfigFolder()
    let file = try folder.write("deep.yaml", try #require(Self.deepDocuments[shape]))
    let found = error { _ = try SimpleDetConfig.load(file: file) }
    #expect(found?.description.hasPrefix(file) == true, "\(found?.description ?? "no error")")
    #expect(found?.description.contains("nested more than \(ConfigTree.maximumDepth) deep") == true)
  }

  /// Aliases of aliases nest deeper than the text: 40 anchors, each 40 levels around the last.
  @Test func deepNestingThroughAliasesIsRefused() throws {
    let text = (0..<40).map { i in
      "a\(i): &a\(i) " + String(repeating: "[", count: 40) + (i == 0 ? "x" : "*a\(i - 1)") + String(repeating: "]", count: 40)
    }.joined(separator: "\n")
    let found = error { _ = try ConfigTree.parse(yaml: text) }
    #expect(found?.description.contains("once aliases are expanded") == true, "\(found?.description ?? "no error")")
  }

  @Test func anchorsAndAliasesWithinTheLimitsStillWork() throws {
    let tree = try ConfigTree.parse(yaml: "a: &sizes [[32], [64]]\nb: *sizes\nc: {d: *sizes}")
    let sizes = ConfigTree.sequence([.sequence([.int(32)]), .sequence([.int(64)])])
    #expect(tree == .mapping(["a": sizes, "b": sizes, "c": .mapping(["d": sizes])]))
  }
}
