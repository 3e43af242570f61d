import Foundation
import IO

/// HDF5 reports: the JSON text plus each numeric field as a root attribute, for h5dump/h5py readers.
public enum ReportFile {
  public static func write(json: String, kind: String, to path: String) throws {
    let f = try HDF5File.create(path)
    try f.setAttribute("format", kind)
    try f.setAttribute("json", json)
    if let obj = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] {
      for (k, v) in obj.sorted(by: { $0.key < $1.key }) {
        if let s = v as? String {
          try f.setAttribute(k, s)
        } else if let n = v as? NSNumber {
          try f.setAttribute(k, n.doubleValue)
        }
      }
    }
    try f.commit()
  }
}
