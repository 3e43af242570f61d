import Foundation

/// A fresh empty folder under the system temporary folder; removed by the caller via `removeTemporaryFolder`.
func makeTemporaryFolder(_ function: String = #function) throws -> String {
  let name = "iotests-\(function.filter { $0.isLetter || $0.isNumber })-\(UUID().uuidString)"
  let path = (NSTemporaryDirectory() as NSString).appendingPathComponent(name)
  try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  return path
}

func removeTemporaryFolder(_ path: String) {
  try? FileManager.default.removeItem(atPath: path)
}

/// The folder's entries, sorted.
func listing(_ folder: String) -> [String] {
  ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
}

/// `/work/shared/data/mnist` (or wherever `shared/data/mnist` sits beside an ancestor of the repository):
/// the repository lives at `<root>/main` or `<root>/wt/<name>` next to `<root>/shared`.
func mnistFolder(filePath: String = #filePath) -> String? {
  var folder = URL(fileURLWithPath: filePath).deletingLastPathComponent()  // Tests/IOTests
  for _ in 0..<6 {
    folder = folder.deletingLastPathComponent()
    let candidate = folder.appendingPathComponent("shared/data/mnist").path
    if FileManager.default.fileExists(atPath: candidate + "/t10k-images-idx3-ubyte.gz") { return candidate }
  }
  return nil
}

/// A file under Tests/Fixtures/io.
func fixture(_ name: String, filePath: String = #filePath) -> String {
  URL(fileURLWithPath: filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/io/\(name)").path
}
