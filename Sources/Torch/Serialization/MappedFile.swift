import Foundation

/// The bytes of a checkpoint file, memory-mapped when the file system allows it.
///
/// Mapping lets a multi-gigabyte checkpoint be parsed and copied into tensors without first
/// being read into a second buffer. The price is that the file must not shrink while mapped;
/// SimpleDet's own writers replace files by rename (`writeAtomically`), which leaves a mapped
/// old file intact.
func readCheckpointFile(_ url: URL) throws -> Data {
  do {
    return try Data(contentsOf: url, options: .alwaysMapped)
  } catch {
    // Mapping fails on some file systems and for empty files; reading still works there.
    do {
      return try Data(contentsOf: url)
    } catch {
      throw CheckpointError(.io, source: url.path, "cannot read: \(error.localizedDescription)")
    }
  }
}
